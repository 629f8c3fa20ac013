"""`engine.optim` — torch.optim's plain SGD for engine tensors.

    opt = engine.optim.SGD(params, lr=0.1)
    loss.backward(); opt.step(); opt.zero_grad()

`step` updates every parameter in place from the gradient backward left (p -= lr * p.grad), without
the copy that reading `.grad` may make; a parameter whose grad is None is skipped, as in torch.
"""

from __future__ import annotations

import numbers

import numpy as np

from .tensor import Tensor


class SGD:
    """Stochastic gradient descent without momentum: p <- p - lr * dloss/dp for every parameter.

    `params` is an iterable of leaf tensors; the learning rate lives in `param_groups[0]["lr"]`, where
    torch keeps it, so a schedule changes it there. Momentum, weight decay and several parameter
    groups are not supported.
    """

    def __init__(self, params, lr: float) -> None:
        if isinstance(params, Tensor):
            raise TypeError("SGD: params must be an iterable of tensors (e.g. a list), not one Tensor")
        params = list(params)
        if not params:
            raise ValueError("SGD: got an empty list of parameters")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"SGD: parameter {i} is a {type(p).__name__}, not an engine Tensor")
            if p._parents:
                raise ValueError(f"SGD: parameter {i} was made by '{p._op}'; only leaf tensors can be optimised "
                                 "(create it with requires_grad=True, or .detach() it)")
            if not p._data.flags.writeable:
                raise ValueError(f"SGD: parameter {i} wraps a read-only array, but step() updates in place; "
                                 "make it from a copy (engine.tensor(array) copies)")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("SGD: a parameter appears more than once; it would be updated twice per step")
        if not isinstance(lr, numbers.Real) or isinstance(lr, bool) or not lr >= 0:
            raise ValueError(f"SGD: lr must be a non-negative number, got {lr!r}")
        self.param_groups = [{"params": params, "lr": lr}]

    def step(self) -> None:
        """p -= lr * p.grad in place for every parameter that has a gradient."""
        for group in self.param_groups:
            lr, rate = group["lr"], None
            for p in group["params"]:
                g = p._grad
                if g is not None:
                    d = p._data
                    if rate is None or rate.dtype != d.dtype:
                        # lr as a 0-d array of the parameter's dtype: rounded as a Python float would be
                        # (float32 stays float32), and NumPy multiplies by it with less overhead
                        rate = np.asarray(lr, d.dtype)
                    d -= rate * g
                    p._vc[0] += 1  # an in-place change: a graph built before it can no longer backprop

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set them to None (torch's default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p._grad is None:
                    p._grad, p._gown = None, True
                elif p._gown and p._grad.flags.writeable:
                    p._grad.fill(0)
                else:  # shared with another node: a fresh zero array of our own
                    p._grad, p._gown = np.zeros_like(p._data), True
