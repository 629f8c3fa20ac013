"""The engine depends on NumPy only: it imports and backpropagates with torch and graphviz unimportable.

Each check runs in a fresh interpreter, where a meta-path finder (or a None entry in sys.modules) makes
`import torch` / `import graphviz` fail the way an absent package does.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TINY_BACKWARD = """
import engine
import engine.functional as F
x = engine.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
loss = F.cross_entropy(x.tanh() * 2, engine.tensor([2]))
loss.backward()
assert x.grad.shape == (1, 3) and x.grad.dtype.name == "float32", x.grad
v = engine.Value(2.0) * 3
v.backward()
blocked = [name for name in ("torch", "graphviz") if name in sys.modules and sys.modules[name] is not None]
assert not blocked, blocked
print("ok", round(loss.item(), 4))
"""

BLOCKERS = {
    "meta-path": """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "graphviz"):
            raise ImportError(f"{name} is blocked for this test")
        return None
sys.meta_path.insert(0, Blocker())
""",
    "sys.modules-none": """
import sys
sys.modules["torch"] = None
sys.modules["graphviz"] = None
""",
}


@pytest.mark.parametrize("how", list(BLOCKERS))
def test_engine_imports_and_backprops_without_torch_or_graphviz(how):
    code = BLOCKERS[how] + textwrap.dedent("""
        for name in ("torch", "graphviz"):
            try:
                __import__(name)
            except ImportError:
                pass
            else:
                raise SystemExit(f"the blocker failed: {name} imported")
    """) + TINY_BACKWARD
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[0] == "ok"
