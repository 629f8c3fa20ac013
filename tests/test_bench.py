"""Smoke test of the step benchmark: `bench/step.py --quick` runs end to end and writes sensible JSON.

It times nothing worth reading (windows of 10 ms); it checks that the four backends run, agree on their
first losses (the script exits non-zero if they do not) and are reported with positive timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = {"engine", "manual", "torch", "torch-manual"}


def test_step_benchmark_quick_run_writes_json(torch, tmp_path):
    out = tmp_path / "results" / "x.json"  # a directory that does not exist yet
    cmd = [sys.executable, str(ROOT / "bench" / "step.py"), "--quick", "--sizes", "32x200",
           "--window", "0.01", "--warmup", "0.01", "--out", str(out)]
    env = dict(os.environ)
    if not Path(env.get("NINJAGRAD_NAMES", "")).is_file():  # the script refuses a wrong path; it needs no data
        env.pop("NINJAGRAD_NAMES", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"

    report = json.loads(out.read_text())
    (result,) = report["results"]
    assert (result["batch_size"], result["n_hidden"]) == (32, 200)
    assert set(result["backends"]) == BACKENDS
    for name, b in result["backends"].items():
        assert len(b["windows_us"]) == 3, name  # --quick: 3 windows
        assert 0 < b["min_us"] <= b["median_us"] <= b["max_us"], name
        assert b["steps_per_window"] >= 1, name
    assert result["backends"]["torch"]["ratio_to_torch"] == 1.0
    # every backend trained the same model: its first losses match torch's (the script checks to 1e-4)
    first = {name: b["first_losses"] for name, b in result["backends"].items()}
    assert all(len(losses) == 3 and losses[0] > 0 for losses in first.values()), first
    assert {(c["backend"], c["reference"]) for c in report["targets"]} == {
        ("manual", "torch"), ("engine", "torch"), ("engine", "manual")}
    assert report["environment"]["numpy"] and report["environment"]["torch"]["version"]
    assert "PASS" in proc.stdout or "MISS" in proc.stdout


def test_float32_agreement_script_counts_every_pair(torch, names_path, tmp_path):
    """bench/float32_agreement.py on one seed at batch 2, where every pair misses (see the README)."""
    cmd = [sys.executable, str(ROOT / "bench" / "float32_agreement.py"), "--seeds", "1", "--batch", "2",
           "--hidden", "64", "--data", str(names_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    counts = {line.split("  ")[1].strip(): line for line in proc.stdout.splitlines() if line.startswith("  ")}
    assert set(counts) == {"torch32 vs exact", "ideal vs torch32", "engine32 vs exact", "engine32 vs torch32"}
    assert all(" 1  [" in line for line in counts.values()), proc.stdout  # 1 seed of 1 missed, rows named
