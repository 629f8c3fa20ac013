"""`gradcheck`: compare the engine's gradients with central finite differences in float64.

The check contracts the output with a fixed random vector r (so one backward pass gives
r·J for every input entry) and compares each entry with (f(x+h) - f(x-h)) / 2h · r.
"""

from __future__ import annotations

import numpy as np

from .graph import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytical gradient disagrees with the finite-difference one."""


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check `fn(*inputs)`'s gradients against central differences, in float64.

    Every floating-point input is copied to float64 with requires_grad; every entry is
    perturbed. Raises `GradcheckError` naming the input, the index and both values when
    |analytical - numerical| > atol + rtol * |numerical|; returns True otherwise.
    """
    inputs = tuple(inputs) if isinstance(inputs, list | tuple) else (inputs,)
    xs = [
        Tensor(np.array(x._data if isinstance(x, Tensor) else x, dtype=np.float64), requires_grad=True)
        if np.asarray(x._data if isinstance(x, Tensor) else x).dtype.kind == "f"
        else x
        for x in inputs
    ]
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    r = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(r)
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            continue
        analytical = x.grad if x.grad is not None else np.zeros(x.shape)
        flat = x.data.reshape(-1)
        for j in range(flat.size):
            orig = flat[j]
            with no_grad():
                flat[j] = orig + eps
                plus = (fn(*xs).data * r).sum()
                flat[j] = orig - eps
                minus = (fn(*xs).data * r).sum()
            flat[j] = orig
            numerical = (plus - minus) / (2 * eps)
            a = analytical.reshape(-1)[j]
            if not abs(a - numerical) <= atol + rtol * abs(numerical):
                index = np.unravel_index(j, x.shape) if x.shape else ()
                raise GradcheckError(
                    f"gradcheck: input {i} (shape {x.shape}), index {tuple(int(k) for k in index)}: "
                    f"analytical {a:.10g} vs numerical {numerical:.10g} "
                    f"(|diff| {abs(a - numerical):.3g} > atol {atol:g} + rtol {rtol:g} * |numerical|)"
                )
    return True
