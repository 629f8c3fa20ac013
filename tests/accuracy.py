"""What "as accurate as torch in float32" means in these tests.

Two float32 results, each a rounding or two from the exact answer, can miss torch.allclose(ours, torch's)
on one CPU and meet it on another: BLAS kernels and exp/tanh implementations round differently
from CPU to CPU. So float32 is judged against the float64 answer instead: our worst error must be within
FACTOR x torch's own worst error plus ULPS x the gradient's scale (the larger of its max |value| and the
floor the caller gives, since a gradient that is exactly 0 has only noise for a scale). A wrong formula
is off by about the scale itself, five orders above this bound.
"""

from __future__ import annotations

import numpy as np

FACTOR = 4
ULPS = 1e-6  # about 8 float32 roundings at the scale


def assert_as_accurate_as_torch(name: str, ours, torchs, exact, floor: float = 0.0) -> None:
    """max|ours - exact| <= FACTOR max|torchs - exact| + ULPS max(max|exact|, floor)."""
    exact = np.asarray(exact, np.float64)
    scale = max(float(np.abs(exact).max(initial=0.0)), floor)
    err = float(np.abs(np.asarray(ours, np.float64) - exact).max(initial=0.0))
    torch_err = float(np.abs(np.asarray(torchs, np.float64) - exact).max(initial=0.0))
    assert err <= FACTOR * torch_err + ULPS * scale, (
        f"{name}: float32 error {err:.3g} against float64, torch's {torch_err:.3g}, scale {scale:.3g}")
