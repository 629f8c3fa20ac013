"""Every differentiable op of the engine: forward with NumPy, VJP right beside it.

Each op computes its output array and a `vjp(g)` returning one gradient per parent (None
for a parent that needs none); `make_op` records the graph, and the engine sums and
unbroadcasts (`engine.graph.backprop`). Sections: operands, binary, unary, casts,
reductions, shape, indexing. At the bottom one table binds the ops onto `Tensor`.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections import namedtuple

import numpy as np

from .dtypes import float32, int64
from .graph import _constant, add_reduce
from .tensor import Tensor, _as_dtype, _ints_first, _leaf, _torch_key, as_tensor, make_op

# ---- operands ---------------------------------------------------------------------------


def _operand_like(c, t: Tensor) -> Tensor:
    """`c` as a constant next to tensor `t`; a Python number is weak and takes t's dtype."""
    if isinstance(c, bool | int | float | np.bool_ | np.integer | np.floating):
        kind = t._data.dtype.kind
        if isinstance(c, float | np.floating) and kind in "biu":
            dtype = float32  # int tensor * 0.5 is float32 in torch
        elif isinstance(c, int | np.integer) and not isinstance(c, bool | np.bool_) and kind == "b":
            dtype = int64
        else:
            dtype = t._data.dtype
        return _leaf(np.asarray(c, dtype))
    return as_tensor(c)


def _pair(a, b):
    """The two operands as tensors, and their arrays promoted to one dtype as torch does.

    Python scalars are weak (`float32 * 0.5` stays float32); an integer tensor meeting a
    float one becomes that float type; float32 meeting float64 becomes float64, unless the
    float64 one is 0-d (like a scalar, it does not widen a tensor of its own category).
    """
    if not isinstance(a, Tensor):
        a = _operand_like(a, b) if isinstance(b, Tensor) else as_tensor(a)
    if not isinstance(b, Tensor):
        b = _operand_like(b, a)
    x, y = a._data, b._data
    if x.dtype != y.dtype:
        kx, ky = x.dtype.kind, y.dtype.kind
        if kx == "f" and ky != "f":
            y = y.astype(x.dtype)
        elif ky == "f" and kx != "f":
            x = x.astype(y.dtype)
        else:
            dt = np.result_type(x, y)
            if (kx == ky or kx in "iu" and ky in "iu") and (x.ndim == 0) != (y.ndim == 0):
                dt = y.dtype if x.ndim == 0 else x.dtype  # a 0-d tensor does not widen its own category (torch)
            x, y = x.astype(dt, copy=False), y.astype(dt, copy=False)
    return a, b, x, y


def _broadcast_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(
        f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
        "(aligned from the right, each pair of sizes must match or one must be 1)"
    )


# ---- binary -----------------------------------------------------------------------------


def add(a, b) -> Tensor:
    """a + b with broadcasting."""
    a, b, x, y = _pair(a, b)
    try:
        out = x + y
    except ValueError:
        raise _broadcast_error("add", a, b) from None

    # z = a + b; dz/da = 1, dz/db = 1
    def vjp(g):
        return g, g

    return make_op(out, (a, b), vjp, "add")


def sub(a, b) -> Tensor:
    """a - b with broadcasting."""
    a, b, x, y = _pair(a, b)
    try:
        out = x - y
    except ValueError:
        raise _broadcast_error("sub", a, b) from None

    # z = a - b; dz/da = 1, dz/db = -1
    def vjp(g):
        return g, (-g if b._rg else None)

    return make_op(out, (a, b), vjp, "sub")


def mul(a, b) -> Tensor:
    """a * b elementwise with broadcasting."""
    a, b, x, y = _pair(a, b)
    try:
        out = x * y
    except ValueError:
        raise _broadcast_error("mul", a, b) from None
    ra, rb = a._rg, b._rg

    # z = a * b; dz/da = b, dz/db = a
    def vjp(g):
        return (g * y if ra else None), (g * x if rb else None)

    return make_op(out, (a, b), vjp, "mul")


def div(a, b) -> Tensor:
    """a / b elementwise with broadcasting (true division: integers give float32)."""
    a, b, x, y = _pair(a, b)
    if x.dtype.kind != "f":
        x, y = x.astype(float32), y.astype(float32)
    try:
        out = x / y
    except ValueError:
        raise _broadcast_error("div", a, b) from None
    ra, rb = a._rg, b._rg

    # z = a / b; dz/da = 1/b, dz/db = -a/b**2 = -z/b
    def vjp(g):
        ga = g / y if ra else None
        return ga, (-(ga if ga is not None else g / y) * out if rb else None)

    return make_op(out, (a, b), vjp, "div")


def _pow_scalar(x: np.ndarray, p):
    """x**p with the special cases torch uses, so float32 results match its rounding."""
    if p == 2:
        return x * x
    if p == -1:
        return 1 / x
    if p == 0.5:
        return np.sqrt(x)
    if p == -0.5:
        return 1 / np.sqrt(x)
    return x**p


_NEGATIVE_INT_POWER = ("pow: integers to negative integer powers are not allowed (as in torch and NumPy); "
                       "make the base floating point first, e.g. x.float() ** -1")


def pow(a, p) -> Tensor:  # noqa: A001  (Tensor.__pow__)
    """a ** p for a number or a tensor exponent p."""
    if isinstance(p, int | float | np.integer | np.floating) and not isinstance(p, bool):
        a = as_tensor(a)
        p = p.item() if isinstance(p, np.generic) else p  # a NumPy scalar is weak, like a Python one
        # an integer tensor stays integer for a non-negative int power (int ** 2.5 is float32 in torch)
        integral = isinstance(p, int)  # p is a Python number by now
        if integral and p < 0 and a._data.dtype.kind in "iub":
            raise ValueError(_NEGATIVE_INT_POWER)
        exact = integral and p >= 0
        x = a._data if a._data.dtype.kind == "f" or exact else a._data.astype(float32)
        out = _pow_scalar(x, p)

        # z = a**p; dz/da = p * a**(p-1)  (0 for p == 0, even at a == 0, as torch)
        def vjp(g):
            if p == 0:
                return (np.zeros_like(g),)
            return (g * (2 * x if p == 2 else p * _pow_scalar(x, p - 1)),)

        return make_op(out, (a,), vjp, "pow", p)

    a, b, x, y = _pair(a, p)
    if x.dtype.kind in "iub" and y.dtype.kind in "iub" and (y < 0).any():
        raise ValueError(_NEGATIVE_INT_POWER)
    try:
        out = x**y
    except ValueError:
        raise _broadcast_error("pow", a, b) from None
    ra, rb = a._rg, b._rg

    # z = a**b; dz/da = b * a**(b-1)  (0 where b == 0), dz/db = z * log(a)  (0 where a == 0 <= b), as torch
    def vjp(g):
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = g * np.where(y == 0, 0, y * x ** (y - 1)) if ra else None
        if not rb:
            return ga, None
        with np.errstate(divide="ignore", invalid="ignore"):
            gb = g * np.where((x == 0) & (y >= 0), 0, out * np.log(x))
        return ga, gb

    return make_op(out, (a, b), vjp, "pow")


def matmul(a, b) -> Tensor:
    """a @ b: 2-D, batched (leading dims broadcast), or with a 1-D operand."""
    a, b, x, y = _pair(a, b)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got {a.shape} @ {b.shape}")
    try:
        out = x @ y
    except ValueError:
        k1, k2 = x.shape[-1], y.shape[-2] if y.ndim > 1 else y.shape[0]
        why = f"inner dimensions {k1} and {k2} differ" if k1 != k2 else "batch dimensions cannot be broadcast"
        raise ValueError(f"matmul: {a.shape} @ {b.shape} — {why}") from None
    ra, rb = a._rg, b._rg

    # z = a @ b; dz/da = g @ b^T, dz/db = a^T @ g  (1-D operands as a row / a column)
    def vjp(g):
        if x.ndim == 2 and y.ndim == 2:
            return (g @ y.T if ra else None), (x.T @ g if rb else None)
        x2 = x if x.ndim > 1 else x[None, :]
        y2 = y if y.ndim > 1 else y[:, None]
        if y.ndim == 1:  # first, so a 0-d g (1-D @ 1-D) has an axis for expand_dims(-2)
            g = g[..., None]
        if x.ndim == 1:
            g = np.expand_dims(g, -2)
        ga = g @ np.swapaxes(y2, -1, -2) if ra else None
        gb = np.swapaxes(x2, -1, -2) @ g if rb else None
        if gb is not None and y.ndim == 1:
            gb = gb[..., 0]
        return ga, gb

    return make_op(out, (a, b), vjp, "matmul")


def addmm(input, mat1, mat2, *, beta=1, alpha=1) -> Tensor:  # noqa: A002  (torch's argument name)
    """beta * input + alpha * (mat1 @ mat2) as one op, as torch.addmm: a linear layer's `x @ W + b`.

    mat1 (n, m) and mat2 (m, p) are matrices; input broadcasts to (n, p). With beta = 0 input is
    ignored (its NaNs too), as in torch.
    """
    m1, m2, x, y = _pair(mat1, mat2)
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"addmm: mat1 and mat2 must be matrices, got shapes {m1.shape} and {m2.shape}")
    if x.shape[1] != y.shape[0]:
        raise ValueError(f"addmm: {m1.shape} @ {m2.shape} — inner dimensions {x.shape[1]} and {y.shape[0]} differ")
    out = np.dot(x, y)  # for matrices, @ with less call overhead
    inp = input if isinstance(input, Tensor) else _operand_like(input, m1)
    b = inp._data
    if b.dtype != out.dtype:
        _, _, b, out = _pair(inp, _leaf(out))
    if b.ndim > 2 or b.shape != out.shape[2 - b.ndim:] and any(
            k not in (1, m) for k, m in zip(b.shape[::-1], out.shape[::-1])):
        raise ValueError(f"addmm: input of shape {inp.shape} cannot be broadcast to the product's shape {out.shape}")
    if alpha != 1:
        out *= alpha
    if beta != 0:
        out += b if beta == 1 else beta * b  # in place: the product is ours
    ri, r1, r2 = inp._rg, m1._rg, m2._rg

    # z = beta input + alpha m1 @ m2; dz/dinput = beta (summed over broadcast rows by the engine),
    # dz/dm1 = alpha g @ m2^T, dz/dm2 = alpha m1^T @ g
    def vjp(g):
        ga = g if alpha == 1 else alpha * g
        return ((g if beta == 1 else beta * g) if ri else None), (np.dot(ga, y.T) if r1 else None), (
            np.dot(x.T, ga) if r2 else None)

    return make_op(out, (inp, m1, m2), vjp, "addmm")


def maximum(a, b) -> Tensor:
    """Elementwise max; where a == b the gradient is split evenly between them, as torch does."""
    a, b, x, y = _pair(a, b)
    try:
        out = np.maximum(x, y)
    except ValueError:
        raise _broadcast_error("maximum", a, b) from None

    # z = max(a, b); dz/da = [a > b] + [a == b]/2, dz/db = [a < b] + [a == b]/2
    def vjp(g):
        share = np.where(x == y, 0.5, x > y).astype(g.dtype, copy=False)  # a's share of g
        return g * share, g * (1 - share)

    return make_op(out, (a, b), vjp, "maximum")


def _compare(ufunc, name):
    def compare(a, b) -> Tensor:
        a, b, x, y = _pair(a, b)
        try:
            return _leaf(np.asarray(ufunc(x, y)))
        except ValueError:
            raise _broadcast_error(name, a, b) from None

    compare.__name__ = name
    compare.__doc__ = f"Elementwise {name} (a bool tensor; comparisons have no gradient)."
    return compare


eq, ne = _compare(np.equal, "eq"), _compare(np.not_equal, "ne")
lt, le = _compare(np.less, "lt"), _compare(np.less_equal, "le")
gt, ge = _compare(np.greater, "gt"), _compare(np.greater_equal, "ge")


# ---- unary ------------------------------------------------------------------------------


def _float_data(x: Tensor) -> np.ndarray:
    """x's array, integers converted to float32 (exp, log, mean ... of ints are float)."""
    d = x._data
    return d if d.dtype.kind == "f" else d.astype(float32)


def neg(x) -> Tensor:
    x = as_tensor(x)

    # z = -x; dz/dx = -1
    def vjp(g):
        return (-g,)

    return make_op(-x._data, (x,), vjp, "neg")


def exp(x) -> Tensor:
    x = as_tensor(x)
    out = np.exp(_float_data(x))

    # z = exp(x); dz/dx = z
    def vjp(g):
        return (g * out,)

    return make_op(out, (x,), vjp, "exp")


def log(x) -> Tensor:
    x = as_tensor(x)
    d = _float_data(x)
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, log(-1) = nan, as torch
        out = np.log(d)

    # z = log(x); dz/dx = 1/x
    def vjp(g):
        return (g / d,)

    return make_op(out, (x,), vjp, "log")


def log10(x) -> Tensor:
    x = as_tensor(x)
    d = _float_data(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(d)

    # z = log10(x); dz/dx = 1/(x ln 10)
    def vjp(g):
        return (g / (d * np.log(10.0)),)

    return make_op(out, (x,), vjp, "log10")


def tanh(x) -> Tensor:
    x = as_tensor(x)
    out = np.tanh(_float_data(x))

    # z = tanh(x); dz/dx = 1 - z**2
    def vjp(g):
        gx = _constant(1, out.dtype) - out * out  # a 0-d one: less call overhead than the int
        gx *= g  # in place: the array is ours
        return (gx,)

    return make_op(out, (x,), vjp, "tanh")


def relu(x) -> Tensor:
    """max(x, 0); the gradient at exactly 0 is 0, as in torch."""
    x = as_tensor(x)
    d = x._data
    mask = d > 0
    out = np.maximum(d, 0)  # not d * mask: -inf * 0 is NaN

    # z = relu(x); dz/dx = [x > 0]
    def vjp(g):
        return (g * mask,)

    return make_op(out, (x,), vjp, "relu")


def sigmoid(x) -> Tensor:
    """1 / (1 + exp(-x)), accurate in both tails (sigmoid(-50) = 1.9e-22, not 0)."""
    x = as_tensor(x)
    d = _float_data(x)
    # exp(-log(1 + exp(-x))) never overflows and keeps the tiny values 1/(1+exp(-x)) would round to 0
    out = np.exp(-np.logaddexp(0, -d))

    # z = sigmoid(x); dz/dx = z (1 - z) = z sigmoid(-x): 1 - z would cancel to nothing for large x
    def vjp(g):
        return (g * out * np.exp(-np.logaddexp(0, d)),)

    return make_op(out, (x,), vjp, "sigmoid")


def sqrt(x) -> Tensor:
    x = as_tensor(x)
    with np.errstate(invalid="ignore"):
        out = np.sqrt(_float_data(x))

    # z = sqrt(x); dz/dx = 1/(2 z)
    def vjp(g):
        return (g / (2 * out),)

    return make_op(out, (x,), vjp, "sqrt")


def abs(x) -> Tensor:  # noqa: A001  (torch.abs)
    """|x|; the gradient at 0 is 0 (sign(0)), as in torch."""
    x = as_tensor(x)
    d = x._data

    # z = |x|; dz/dx = sign(x)
    def vjp(g):
        return (g * np.sign(d),)

    return make_op(np.abs(d), (x,), vjp, "abs")


# ---- casts ------------------------------------------------------------------------------


def to(x, *args, dtype=None, device=None) -> Tensor:
    """x converted to `dtype` (the gradient flows back converted to x's dtype); `.to("cpu")` is x itself.

    Accepts torch's forms to(dtype), to(device), to(device, dtype) and the keywords; the engine's one
    device is the CPU, so asking for another one is an error rather than a silent no-op.
    """
    x = as_tensor(x)
    for a in args:
        if isinstance(a, str) and a not in _DTYPE_NAMES:
            device = a
        else:
            dtype = a
    if device is not None and str(device).split(":")[0] != "cpu":
        raise ValueError(f"to: device {device!r} is not available; the engine computes with NumPy on the CPU")
    if dtype is None:
        return x
    dtype = _as_dtype(dtype, "to: dtype")
    if x._data.dtype == dtype:
        return x
    if dtype.kind != "f":
        return _leaf(x._data.astype(dtype))

    # z = x (as another dtype); dz/dx = 1  (engine.backprop casts g back)
    def vjp(g):
        return (g,)

    return make_op(x._data.astype(dtype), (x,), vjp, "to", str(dtype))


_DTYPE_NAMES = frozenset(np.sctypeDict) | {"half", "long", "short"}  # "int64", "bool", ...: to() reads as dtypes


def clone(x) -> Tensor:
    """A copy of the data that stays in the graph."""
    x = as_tensor(x)

    # z = x; dz/dx = 1
    def vjp(g):
        return (g,)

    return make_op(x._data.copy(), (x,), vjp, "clone")


def where(cond, a, b) -> Tensor:
    """a where cond is true, else b (broadcast together).

    cond is a parent without a gradient, so changing it in place before backward raises, as in torch.
    """
    cond = as_tensor(cond)
    c = cond._data.astype(bool, copy=False)
    a, b, x, y = _pair(a, b)
    try:
        out = np.where(c, x, y)
    except ValueError:
        raise ValueError(f"where: shapes {c.shape}, {a.shape} and {b.shape} cannot be broadcast together") from None

    # z = cond ? a : b; dz/da = [cond], dz/db = [not cond]
    def vjp(g):
        return np.where(c, g, 0), np.where(c, 0, g), None

    return make_op(out, (a, b, cond), vjp, "where")


# ---- reductions -------------------------------------------------------------------------


def _dims(dim, ndim: int, op: str):
    """`dim` (int, tuple, negative, or None for all) as a sorted tuple of axes; `()` means all, as torch."""
    if dim is None:
        return None
    if type(dim) is int and 0 <= dim < ndim:
        return (dim,)
    if isinstance(dim, numbers.Integral):
        dims = (dim,)
    elif isinstance(dim, tuple | list):
        dims = tuple(dim)
    else:
        raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dim!r}")
    n = ndim or 1  # a 0-d tensor accepts dim 0 / -1, as torch (`max` here is ops.max, not the builtin)
    axes = []
    for d in dims:
        if not isinstance(d, numbers.Integral):
            raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dim!r}")
        if not -n <= d < n:
            raise IndexError(f"{op}: dim {d} is out of range for a tensor of {ndim} dims (valid: {-n}..{n - 1})")
        axes.append(int(d) % n)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim {dim!r} names the same axis twice")
    return tuple(sorted(axes)) if ndim and axes else None


def _one_dim(dim, ndim: int, op: str) -> int:
    """A single int `dim` as an axis 0..ndim-1 (negative counts from the end; a 0-d tensor takes 0 or -1)."""
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    axes = _dims(dim, ndim, op)
    return axes[0] if axes else 0


def _new_dim(dim, ndim: int, op: str) -> int:
    """A single int `dim` for an axis to insert, as 0..ndim (negative counts from the end of the ndim+1 dims)."""
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not -ndim - 1 <= dim <= ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for tensors of {ndim} dims (valid: {-ndim - 1}..{ndim})")
    return int(dim) % (ndim + 1)


def _keep(keepdim: bool, keepdims: bool | None) -> bool:
    return keepdim if keepdims is None else keepdims


def _unreduce(g: np.ndarray, axes, keepdim: bool) -> np.ndarray:
    """Put back the axes a reduction removed from `g` (as size 1), so it broadcasts against the input."""
    return g if keepdim or axes is None else np.expand_dims(g, axes)


def _spread(g: np.ndarray, shape: tuple, axes, keepdim: bool) -> np.ndarray:
    """Undo a reduction's shape: `g` with its reduced axes put back, broadcast to `shape`."""
    return np.broadcast_to(_unreduce(g, axes, keepdim), shape)


def _count(shape: tuple, axes) -> int:
    return math.prod(shape) if axes is None else math.prod([shape[i] for i in axes])


def sum(x, dim=None, keepdim: bool = False, *, keepdims: bool | None = None) -> Tensor:  # noqa: A001
    """Sum over `dim` (all by default)."""
    x = as_tensor(x)
    shape = x.shape
    axes = _dims(dim, x.ndim, "sum")
    keepdim = _keep(keepdim, keepdims)
    d = x._data.astype(int64, copy=False) if x._data.dtype.kind in "biu" else x._data  # torch sums ints in int64

    # z = sum_i x_i; dz/dx_i = 1
    def vjp(g):
        return (_spread(g, shape, axes, keepdim),)

    return make_op(add_reduce(d, axes, keepdim), (x,), vjp, "sum", dim)


def mean(x, dim=None, keepdim: bool = False, *, keepdims: bool | None = None) -> Tensor:
    """Mean over `dim` (all by default)."""
    x = as_tensor(x)
    shape = x.shape
    axes = _dims(dim, x.ndim, "mean")
    keepdim = _keep(keepdim, keepdims)
    d = _float_data(x)
    n = _count(shape, axes)

    # z = sum_i x_i / n; dz/dx_i = 1/n
    def vjp(g):
        return (_spread(g / n, shape, axes, keepdim),)

    return make_op(add_reduce(d, axes, keepdim) / n, (x,), vjp, "mean", dim)


def _correction(unbiased, correction, op: str) -> int:
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def _moments(x: Tensor, dim, unbiased, correction, op: str):
    axes = _dims(dim, x.ndim, op)
    ddof = _correction(unbiased, correction, op)
    n = _count(x.shape, axes)
    if n - ddof <= 0:
        raise ValueError(
            f"{op}: {n} element(s) along dim {dim} with correction={ddof} divides by n - correction = {n - ddof}; "
            "use correction=0 (unbiased=False) or more elements"
        )
    d = _float_data(x)
    diff = d - add_reduce(d, axes, True) / n
    var = add_reduce(diff * diff, axes, True) / (n - ddof)
    return axes, ddof, n, diff, var


def var(x, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction: int | None = None,
        keepdims: bool | None = None) -> Tensor:
    """Variance over `dim` with Bessel's correction by default: sum (x - mean)^2 / (n - correction)."""
    x = as_tensor(x)
    keepdim = _keep(keepdim, keepdims)
    axes, ddof, n, diff, v = _moments(x, dim, unbiased, correction, "var")

    # z = sum_i (x_i - m)^2 / (n - c); dz/dx_i = 2 (x_i - m) / (n - c)   (the m terms cancel)
    def vjp(g):
        return (diff * (_unreduce(g, axes, keepdim) * (2 / (n - ddof))),)

    out = v if keepdim else v.reshape(np.sum(v, axis=axes).shape if axes else ())
    return make_op(out, (x,), vjp, "var", dim)


def std(x, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction: int | None = None,
        keepdims: bool | None = None) -> Tensor:
    """Standard deviation over `dim`: sqrt(var), Bessel-corrected by default."""
    x = as_tensor(x)
    keepdim = _keep(keepdim, keepdims)
    axes, ddof, n, diff, v = _moments(x, dim, unbiased, correction, "std")
    s = np.sqrt(v)

    # z = sqrt(var); dz/dx_i = (x_i - m) / ((n - c) z), and 0 where z = 0 (as torch: x_i - m is 0 there too)
    def vjp(g):
        scale = np.zeros(s.shape, np.result_type(g, s))
        np.divide(_unreduce(g, axes, keepdim), (n - ddof) * s, out=scale, where=s != 0)
        return (diff * scale,)

    out = s if keepdim else s.reshape(np.sum(s, axis=axes).shape if axes else ())
    return make_op(out, (x,), vjp, "std", dim)


ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _extreme(x, dim, keepdim, keepdims, arg, op: str):
    """max/min: over everything a 0-d tensor; over one `dim` a (values, indices) pair.

    Ties, as torch decides them: along `dim` the gradient goes to the returned index only (the
    first extreme), as the lecture's logit_maxes needs; over everything it is split evenly
    between the elements equal to the extreme.
    """
    if isinstance(dim, Tensor | np.ndarray):
        if op == "max":
            return maximum(x, dim)
        raise TypeError("min(other) is not supported; use engine.where")
    x = as_tensor(x)
    d = x._data
    shape = x.shape
    if d.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {shape}")
    if dim is None:
        if keepdim or keepdims:
            raise TypeError(f"{op}: keepdim needs a dim (as in torch); {op}() over everything returns a 0-d tensor")
        ext = d.reshape(-1)[int(arg(d))]

        # z = the extreme of all x; dz/dx = 1/m at each of the m elements equal to it (a NaN: at every NaN)
        def vjp_all(g):
            ties = np.isnan(d) if ext != ext else d == ext
            return (ties * (g / np.count_nonzero(ties)),)

        return make_op(ext, (x,), vjp_all, op)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be a single int, got {dim!r}")
    axis = _one_dim(dim, x.ndim, op)
    keepdim = _keep(keepdim, keepdims)
    if not d.ndim:
        # z = x (a 0-d tensor is its own extreme along dim 0, as torch allows); dz/dx = 1
        def vjp_0d(g):
            return (g,)

        return ValuesIndices(make_op(d.copy(), (x,), vjp_0d, op, dim), _leaf(np.zeros((), int64)))
    idx = np.expand_dims(arg(d, axis=axis), axis)
    vals = np.take_along_axis(d, idx, axis)

    # z = x[..., k, ...] along dim; dz/dx = one-hot(k) along dim
    def vjp(g):
        gx = np.zeros(shape, g.dtype)
        np.put_along_axis(gx, idx, g if keepdim else np.expand_dims(g, axis), axis)
        return (gx,)

    indices = idx if keepdim else idx.squeeze(axis)
    vals = vals if keepdim else vals.squeeze(axis)
    return ValuesIndices(make_op(vals, (x,), vjp, op, dim), _leaf(np.asarray(indices, int64)))


def max(x, dim=None, keepdim: bool = False, *, keepdims: bool | None = None):  # noqa: A001
    """Maximum: of all elements, or `(values, indices)` along `dim`."""
    return _extreme(x, dim, keepdim, keepdims, np.argmax, "max")


def min(x, dim=None, keepdim: bool = False, *, keepdims: bool | None = None):  # noqa: A001
    """Minimum: of all elements, or `(values, indices)` along `dim`."""
    return _extreme(x, dim, keepdim, keepdims, np.argmin, "min")


def _arg(x, dim, keepdim, fn, op: str) -> Tensor:
    x = as_tensor(x)
    if x._data.size == 0 and (dim is None or not x.ndim or x.shape[_one_dim(dim, x.ndim, op)] == 0):
        raise ValueError(f"{op}: an empty tensor of shape {x.shape} has no extreme to point at"
                         + (f" along dim {dim}" if dim is not None else ""))
    if dim is None:
        out = fn(x._data)
        return _leaf(np.asarray(out, int64).reshape((1,) * x.ndim if keepdim else ()))
    axis = _one_dim(dim, x.ndim, op)
    return _leaf(np.asarray(fn(x._data, axis=axis, keepdims=keepdim), int64))


def argmax(x, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the (first) maximum, over all elements or along `dim` (no gradient)."""
    return _arg(x, dim, keepdim, np.argmax, "argmax")


def argmin(x, dim=None, keepdim: bool = False) -> Tensor:
    return _arg(x, dim, keepdim, np.argmin, "argmin")


def all_(x, dim=None) -> Tensor:
    """Whether every element is true (non-zero): over everything, or along `dim` (an int or a tuple)."""
    x = as_tensor(x)
    return _leaf(np.asarray(np.all(x._data, axis=_dims(dim, x.ndim, "all"))))


def any_(x, dim=None) -> Tensor:
    """Whether some element is true (non-zero): over everything, or along `dim` (an int or a tuple)."""
    x = as_tensor(x)
    return _leaf(np.asarray(np.any(x._data, axis=_dims(dim, x.ndim, "any"))))


# ---- shape ------------------------------------------------------------------------------


def _shape_args(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    return shape


def _reshape(x, shape: tuple, copy: bool | None, op: str) -> Tensor:
    x = as_tensor(x)
    shape = _shape_args(shape)
    old = x._data.shape
    try:
        out = x._data.reshape(shape, copy=copy)
    except (ValueError, TypeError):
        try:  # is the shape wrong, or would the view need a copy?
            x._data.reshape(shape)
        except (ValueError, TypeError):
            raise ValueError(f"{op}: cannot reshape a tensor of shape {old} ({x._data.size} elements) into "
                             f"{shape}") from None
        raise RuntimeError(f"view: the memory of a tensor of shape {old} is not in row-major order (a transpose?), "
                           f"so it cannot be viewed as {shape}; use .reshape(...), which copies") from None

    # z = x viewed as another shape; dz/dx = g viewed back
    def vjp(g):
        return (g.reshape(old),)

    # a view (copy=False) always shares x's memory; reshape shares it when it could avoid a copy
    shares = copy is False or np.may_share_memory(out, x._data)
    return make_op(out, (x,), vjp, "view", shape, view_of=x if shares else None)


def reshape(x, *shape) -> Tensor:
    """The same elements in a new shape (one size may be -1): a view when the memory allows, else a copy."""
    return _reshape(x, shape, None, "reshape")


def view(x, *shape) -> Tensor:
    """The same memory in a new shape (one size may be -1); like torch, an error where that needs a copy."""
    return _reshape(x, shape, False, "view")


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = _one_dim(start_dim, x.ndim, "flatten"), _one_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, x.shape[:s] + (-1,) + x.shape[e + 1:])


def permute(x, *dims) -> Tensor:
    x = as_tensor(x)
    dims = _shape_args(dims)
    axes = [_one_dim(d, x.ndim, "permute") for d in dims]
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} dims of a tensor of shape {x.shape}")
    inverse = tuple(np.argsort(axes))

    # z = x with axes permuted; dz/dx = g with the inverse permutation
    def vjp(g):
        return (g.transpose(inverse),)

    return make_op(x._data.transpose(axes), (x,), vjp, "permute", tuple(axes), view_of=x)


def transpose(x, dim0: int, dim1: int) -> Tensor:
    x = as_tensor(x)
    a, b = _one_dim(dim0, x.ndim, "transpose"), _one_dim(dim1, x.ndim, "transpose")
    if not x.ndim:  # a 0-d tensor has one way to swap its dims 0 and -1 with themselves (torch allows it)
        return reshape(x, ())

    # z = x with two axes swapped; dz/dx = g swapped back
    def vjp(g):
        return (np.swapaxes(g, a, b),)

    return make_op(np.swapaxes(x._data, a, b), (x,), vjp, "transpose", (a, b), view_of=x)


def T(x) -> Tensor:
    """Transpose: all dims reversed (for 2-D, rows ↔ columns)."""
    x = as_tensor(x)
    return permute(x, tuple(range(x.ndim - 1, -1, -1))) if x.ndim > 1 else x


def squeeze(x, dim=None) -> Tensor:
    x = as_tensor(x)
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = _dims(dim, x.ndim, "squeeze") or ()
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return reshape(x, shape)


def unsqueeze(x, dim: int) -> Tensor:
    x = as_tensor(x)
    dim = _new_dim(dim, x.ndim, "unsqueeze")
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def _tensors(tensors, op: str) -> tuple:
    if isinstance(tensors, Tensor | np.ndarray):  # iterating it would take its rows for the tensors (torch refuses)
        raise TypeError(f"{op}: expected a list or tuple of tensors, got a single {type(tensors).__name__}; "
                        f"write {op}([t, ...])")
    ts = tuple(as_tensor(t) for t in tensors)
    if not ts:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    return ts


def _joined_dtype(ts) -> np.dtype:
    """cat/stack's dtype, as torch picks it: the widest float among the inputs if any is float, else NumPy's."""
    floats = [t._data.dtype for t in ts if t._data.dtype.kind == "f"]
    return np.result_type(*floats) if floats else np.result_type(*(t._data for t in ts))


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along an existing `dim`."""
    ts = _tensors(tensors, "cat")
    if not ts[0].ndim:
        raise ValueError("cat: 0-d tensors have no dim to concatenate along; use stack to make a 1-d tensor")
    axis = _one_dim(dim, ts[0].ndim, "cat")
    try:
        out = np.concatenate([t._data for t in ts], axis=axis, dtype=_joined_dtype(ts))
    except ValueError:
        raise ValueError(f"cat: shapes {[t.shape for t in ts]} differ outside dim {dim}") from None
    bounds = np.cumsum([t.shape[axis] for t in ts])[:-1]

    # z = [x1 | x2 | ...] along dim; dz/dxk = the k-th slice of g
    def vjp(g):
        return tuple(np.split(g, bounds, axis=axis))

    return make_op(out, ts, vjp, "cat", dim)


def stack(tensors, dim: int = 0) -> Tensor:
    """Stack along a new `dim`."""
    ts = _tensors(tensors, "stack")
    axis = _new_dim(dim, ts[0].ndim, "stack")
    try:
        out = np.stack([t._data for t in ts], axis=axis, dtype=_joined_dtype(ts))
    except ValueError:
        raise ValueError(f"stack: all tensors need the same shape, got {[t.shape for t in ts]}") from None

    # z = stack(x1, x2, ...) along a new dim; dz/dxk = g[..., k, ...]
    def vjp(g):
        return tuple(np.take(g, k, axis=axis) for k in range(len(ts)))

    return make_op(out, ts, vjp, "stack", dim)


# ---- indexing ---------------------------------------------------------------------------


def _is_int_array(k) -> bool:
    return isinstance(k, np.ndarray) and k.dtype.kind in "iu"


@functools.lru_cache(maxsize=4)
def _identity(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only n x n identity (n <= 1024: at most 8 MB), made once per size and dtype: its rows are one-hots."""
    eye = np.eye(n, dtype=dtype)
    eye.flags.writeable = False
    return eye


def _gather_rows_vjp(idx: np.ndarray, shape: tuple):
    """The VJP of x[idx] for an integer array `idx` picking rows of an x of `shape`."""
    idx = idx.reshape(-1)
    rows = math.prod(shape[1:])
    # for a small table (an embedding), one_hot(idx)^T @ g is several times faster than np.add.at
    # (27 rows, 96 indices: ~3 µs vs ~15 µs) and sums repeats just the same
    small = shape[0] <= 1024 and shape[0] * idx.size <= 1 << 20

    # z = x[idx] (rows gathered); dz/dx[r] = sum of g over the positions where idx == r
    def vjp(g):
        g2 = g.reshape(-1, rows)
        # an inf or NaN in g would reach every row through the product (0 * inf is NaN): add.at then. A sum of
        # squares is finite only if every entry is (or falls back needlessly on overflow), and BLAS's is fastest
        if small and math.isfinite(np.dot(flat := g.reshape(-1), flat)):
            # one_hot(idx) is the identity's rows taken as the forward took x's (-1 is the last row)
            one_hot = _identity(shape[0], g.dtype).take(idx, axis=0)  # (idx.size, shape[0])
            return (np.dot(one_hot.T, g2).reshape(shape),)
        gx = np.zeros((shape[0], rows), g.dtype)
        np.add.at(gx, idx, g2)
        return (gx.reshape(shape),)

    return vjp


def getitem(x, key) -> Tensor:
    """x[key] for ints, slices, None, ..., and integer/bool tensors, arrays, lists, ranges.

    The gradient scatter-adds into zeros, so an index that repeats accumulates.
    """
    x = as_tensor(x)
    d = x._data
    rows = key._data if type(key) is Tensor else key if type(key) is np.ndarray else None
    if rows is not None and rows.dtype.kind in "iu" and rows.ndim and d.ndim:
        # C[Xb]: rows gathered by an integer tensor or array; take is d[Xb] at a third of fancy indexing's cost
        try:
            out = d.take(rows, axis=0)
        except IndexError as e:
            raise IndexError(f"index into a tensor of shape {d.shape}: {e}") from None
        parents = (x, key) if type(key) is Tensor else (x,)  # a NumPy key is no node of the graph
        return make_op(out, parents, _keys_get_none(_gather_rows_vjp(rows, d.shape), parents), "index", key)
    parents = (x,) + tuple(k for k in (key if isinstance(key, tuple) else (key,)) if isinstance(k, Tensor))
    tkey, npkey = _torch_key(key, d.ndim)  # `key` itself stays the op's argument, as the user wrote it
    split = _ints_first(tkey, npkey)
    if split:
        return getitem(getitem(x, split[0]), split[1])
    try:
        out = d[npkey]
        if not isinstance(out, np.ndarray):  # one element: NumPy gives a copy, torch a 0-d view
            out = d[(npkey if isinstance(npkey, tuple) else (npkey,)) + (Ellipsis,)]
    except IndexError as e:
        raise IndexError(f"index into a tensor of shape {d.shape}: {e}") from None
    shape = d.shape
    parts = npkey if isinstance(npkey, tuple) else (npkey,)
    gather = [_is_int_array(k) for k in parts]

    if gather == [True]:
        vjp = _gather_rows_vjp(parts[0], shape)  # npkey may be the 1-tuple (idx,)

    elif any(gather):

        # z = x[key] (advanced); dz/dx = g scatter-added back, repeats accumulating
        def vjp(g):
            gx = np.zeros(shape, g.dtype)
            np.add.at(gx, npkey, g)
            return (gx,)

    else:

        # z = x[key] (each element picked at most once); dz/dx = g placed back, zeros elsewhere
        def vjp(g):
            gx = np.zeros(shape, g.dtype)
            gx[npkey] = g
            return (gx,)

    owner = d if d.base is None else d.base
    # the user's key rides along as the op's argument, so a drawing can say what was indexed
    view_of = x if out.base is owner else None
    return make_op(out, parents, _keys_get_none(vjp, parents), "index", key, view_of=view_of)


def _keys_get_none(vjp, parents: tuple):
    """`vjp`, returning None after x's gradient for each index tensor among `parents` (integers get none)."""
    if len(parents) == 1:
        return vjp
    nones = (None,) * (len(parents) - 1)
    return lambda g: vjp(g) + nones


# ---- methods ----------------------------------------------------------------------------


def _reflected(fn):
    def method(self, other):
        return fn(other, self)

    method.__name__ = f"r{fn.__name__}"
    return method


def _cast(dtype):
    def method(self) -> Tensor:
        return to(self, dtype)

    return method


_METHODS = {
    "__add__": add, "__radd__": _reflected(add), "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": _reflected(mul), "__truediv__": div, "__rtruediv__": _reflected(div),
    "__pow__": pow, "__rpow__": _reflected(pow), "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__abs__": abs, "__getitem__": getitem,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "matmul": matmul, "addmm": addmm,
    "maximum": maximum,
    "neg": neg, "exp": exp, "log": log, "log10": log10, "tanh": tanh, "relu": relu, "sigmoid": sigmoid,
    "sqrt": sqrt, "abs": abs, "clone": clone, "to": to,
    "sum": sum, "mean": mean, "var": var, "std": std, "max": max, "min": min,
    "argmax": argmax, "argmin": argmin, "all": all_, "any": any_,
    "reshape": reshape, "view": view, "flatten": flatten, "permute": permute, "transpose": transpose,
    "squeeze": squeeze, "unsqueeze": unsqueeze,
    "float": _cast(np.float32), "double": _cast(np.float64), "long": _cast(np.int64),
    "int": _cast(np.int32), "bool": _cast(np.bool_), "half": _cast(np.float16),
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(T)
Tensor.mT = property(lambda self: transpose(self, -2, -1))

