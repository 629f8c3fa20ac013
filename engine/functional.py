"""`engine.functional` — torch.nn.functional's fused ops (import it as `F`).

Each op here knows its own math, so its backward is one formula rather than a chain of
primitives: `cross_entropy` backpropagates `(softmax - one_hot) / n` (the lecture's
Exercise 2), `batch_norm_train` Exercise 3's formula, `softmax`/`log_softmax` their
Jacobian-vector products. `one_hot` and `tanh` complete what the lecture uses.
"""

from __future__ import annotations

import functools

import numpy as np

from . import ops
from .dtypes import int64
from .graph import _constant, _ones_row, add_reduce
from .tensor import Tensor, _leaf, as_tensor, make_op

tanh = ops.tanh


def _axis(x: Tensor, dim, op: str) -> int:
    if dim is None:
        raise TypeError(f"{op}: pass dim= explicitly (torch's implicit dim is deprecated)")
    return ops._one_dim(dim, x.ndim, op)


@functools.lru_cache(maxsize=64)
def _row_starts(rows: int, width: int, unsigned: bool = False) -> np.ndarray:
    """The flat positions 0, width, 2 width, ... of a (rows, width) matrix's rows, read-only, made once per shape.

    uint64 to add to unsigned class indices: int64 + uint64 promotes to float64, which cannot index.
    """
    starts = np.arange(0, rows * width, width, dtype=np.uint64 if unsigned else np.int64)
    starts.flags.writeable = False
    return starts


def _shifted_exp(d: np.ndarray, axis: int):
    """exp(x - max x) and its sum along `axis`: subtracting the max keeps exp from overflowing."""
    if d.ndim == 2 and axis == 1 and d.shape[1] and d.dtype.char in "fd":
        # the rows of a matrix (logits): NumPy reduces short rows slowly, so the maxima are taken at the
        # argmaxes and the sums are a product with ones, each in about half the time
        z = d - d.reshape(-1).take(_row_starts(*d.shape) + d.argmax(1))[:, None]
        e = np.exp(z)
        return z, e, np.dot(e, _ones_row(d.shape[1], d.dtype).T)
    # the ufunc, as ndarray.max adds a Python layer; -inf starts it, so an empty axis gives an empty result
    z = d - np.maximum.reduce(d, axis=axis, keepdims=True, initial=-np.inf)
    e = np.exp(z)
    return z, e, add_reduce(e, (axis,), True)


def softmax(x, dim=None) -> Tensor:
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j) along `dim`."""
    x = as_tensor(x)
    axis = _axis(x, dim, "softmax")
    _, e, s = _shifted_exp(ops._float_data(x), axis)
    out = e / s

    # z = softmax(x); dx = z * (g - sum_j g_j z_j)
    def vjp(g):
        return (out * (g - add_reduce(g * out, (axis,), True)),)

    return make_op(out, (x,), vjp, "softmax", dim)


def log_softmax(x, dim=None) -> Tensor:
    """log_softmax(x)_i = x_i - log sum_j exp(x_j) along `dim`."""
    x = as_tensor(x)
    axis = _axis(x, dim, "log_softmax")
    z, _, s = _shifted_exp(ops._float_data(x), axis)
    with np.errstate(divide="ignore"):  # s >= 1 (the max's own exp), but for an empty dim's 0: no entry uses it
        out = z - np.log(s)

    # z = log_softmax(x); dx = g - softmax(x) * sum_j g_j
    def vjp(g):
        return (g - np.exp(out) * add_reduce(g, (axis,), True),)

    return make_op(out, (x,), vjp, "log_softmax", dim)


def _classes_in_range(target: np.ndarray, classes: int) -> bool:
    """Whether every class index in the integer array `target` (one axis) is one of 0..classes-1.

    np.bincount refuses a negative index and counts up to the largest, in one tight pass: inside a training
    step it takes a third of the time of target.max(), whose reduction machinery is slow there. An array it
    cannot take (uint64) is read by a max, as unsigned so that a negative index would be huge.
    (manual.labels_in_range is the same check; manual does not import the engine.)
    """
    try:
        return np.bincount(target).size <= classes
    except (ValueError, MemoryError):  # a negative index; one so large its count array cannot be made
        return False
    except TypeError:  # uint64, which bincount will not cast to its index type
        return bool(target.view(f"u{target.itemsize}").max() < classes)


def _check_target(target: np.ndarray, n: int, classes: int) -> None:
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got {target.dtype}")
    if target.shape != (n,):
        raise ValueError(f"cross_entropy: target of shape {target.shape} for logits of {n} rows; expected ({n},)")
    if n and not _classes_in_range(target, classes):
        bad = target[(target < 0) | (target >= classes)][0]
        raise IndexError(f"cross_entropy: target class {bad} is out of range for {classes} classes")


def cross_entropy(logits, target, reduction: str = "mean") -> Tensor:
    """-log softmax(logits)[target], averaged over the batch (or summed, or per row).

    logits (N, C), target (N,) integer classes. Backward is fused: dlogits = (softmax - one_hot)
    scaled by the output gradient (and 1/N for the mean), as in the lecture's Exercise 2.
    """
    logits = as_tensor(logits)
    t = as_tensor(target)
    if logits._data.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got shape {logits.shape}")
    n, classes = logits._data.shape
    _check_target(t._data, n, classes)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if reduction == "mean" and n == 0:
        raise ValueError("cross_entropy: the mean over an empty batch is undefined")
    # C order, so that the flat positions `picked` index z and dlogits in place (a transposed x is F-ordered)
    z, e, s = _shifted_exp(np.ascontiguousarray(ops._float_data(logits)), 1)
    picked = _row_starts(n, classes, t._data.dtype.kind == "u") + t._data  # flat positions of the [i, y_i]
    nll = np.log(s[:, 0]) - z.reshape(-1).take(picked)  # (N,)
    out = nll if reduction == "none" else np.add.reduce(nll) / n if reduction == "mean" else np.add.reduce(nll)

    # loss = mean_i (log sum_j exp(x_ij) - x_i,y_i); dloss/dx = (softmax(x) - one_hot(y)) / N
    def vjp(g):
        scale = g[:, None] if reduction == "none" else g / n if reduction == "mean" else g  # per row, or 0-d
        dlogits = e * (scale / s)  # the (N, 1) factors first: one pass over (N, C)
        dlogits.reshape(-1)[picked] -= scale.reshape(-1)
        return dlogits, None

    return make_op(out, (logits, t), vjp, "cross_entropy")


def batch_norm_train(x, gain, bias, eps: float = 1e-5) -> Tensor:
    """The lecture's training-mode batchnorm as one op: gain * (x - mean) / sqrt(var + eps) + bias.

    mean and the Bessel-corrected var (divide by n - 1) are over dim 0 of x (n, features); gain and
    bias are (1, features) or (features,). torch's F.batch_norm normalises by the biased variance
    instead, so this has no exact torch twin. The backward is Exercise 3's fused formula:
    dx = gain * var_inv / n * (n g - sum g - n/(n-1) raw * sum(g * raw)), dgain = sum(g * raw), dbias = sum g.
    """
    x, gain, bias = as_tensor(x), as_tensor(gain), as_tensor(bias)
    if x._data.ndim != 2:
        raise ValueError(f"batch_norm_train: input must be (n, features), got shape {x.shape}")
    n, features = x._data.shape
    if n < 2:
        raise ValueError(f"batch_norm_train: needs a batch of at least 2 examples, got {n}: the Bessel-corrected "
                         "variance divides by n - 1 = 0")
    shapes = ((features,), (1, features))
    for what, t in (("gain", gain), ("bias", bias)):
        if t._data.shape not in shapes:
            raise ValueError(f"batch_norm_train: {what} of shape {t.shape} for {features} features; "
                             f"expected ({features},) or (1, {features})")
    d, gd, bd = ops._float_data(x), gain._data, bias._data
    if not d.dtype == gd.dtype == bd.dtype:  # one dtype, NumPy's promotion, so every in-place op below keeps it
        dtype = np.result_type(d, gd, bd)
        d, gd, bd = d.astype(dtype), gd.astype(dtype), bd.astype(dtype)
    div_n, div_n1 = _constant(n, d.dtype), _constant(n - 1, d.dtype)  # 0-d arrays: less call overhead
    diff = d - add_reduce(d, (0,), True) / div_n  # (n, features)
    var = add_reduce(diff * diff, (0,), True) / div_n1  # (1, features)
    var += _constant(eps, d.dtype)
    # var ** -0.5 as 1/sqrt, in place: torch and ops.pow round it so too, and NumPy's ** -0.5 takes 3x as long
    var_inv = np.reciprocal(np.sqrt(var, out=var), out=var)
    scale = gd * var_inv  # (1, features): row factors are folded before they meet an (n, features) array
    out = diff * scale  # gain * raw, with raw = diff * var_inv
    out += bd

    # the lecture's Exercise 3 (see the docstring) as gain var_inv (g - dbias/n - raw dgain/(n-1)), with
    # raw = diff var_inv, so dgain = var_inv sum(g diff) and raw dgain = diff (var_inv dgain)
    def vjp(g):
        dbias = add_reduce(g, (0,), True)
        dgain = add_reduce(g * diff, (0,), True) * var_inv
        dx = diff * (var_inv * dgain / div_n1)  # (n, features)
        dx += dbias / div_n
        np.subtract(g, dx, out=dx)
        dx *= scale
        return dx, dgain, dbias

    return make_op(out, (x, gain, bias), vjp, "batch_norm_train")


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows: out[..., k] = 1 where tensor == k."""
    t = as_tensor(tensor)._data
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects an integer tensor, got {t.dtype}")
    if num_classes < 0:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"one_hot: class values must lie in [0, {num_classes}), got {t.min()}..{t.max()}")
    return _leaf((t[..., None] == np.arange(num_classes)).astype(int64))
