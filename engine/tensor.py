"""`Tensor`: a NumPy array that remembers how it was made, with torch's API.

This module holds the Tensor's state (data, grad, the graph links), conversion of user
input, dtypes, in-place updates outside the graph, `backward`, and the creation functions
(`tensor`, `zeros`, `randn`, ...) with a seedable NumPy-backed `Generator`. The
differentiable ops live in `engine.ops`, which binds them onto `Tensor` as methods.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from .dtypes import float32, int64
from .graph import backprop, creation_order, is_grad_enabled, unbroadcast

# torch's names where NumPy reads the same string otherwise ("float" is float64 and "int" int64 to NumPy)
_TORCH_DTYPE_NAMES = {"float": "float32", "double": "float64", "half": "float16", "int": "int32", "long": "int64",
                      "short": "int16"}


def _as_dtype(dtype, what: str = "dtype") -> np.dtype | None:
    """`dtype` (an engine or NumPy dtype, or a name, torch's meaning first) as a NumPy dtype a tensor can hold."""
    if dtype is None:
        return None
    try:
        dt = np.dtype(_TORCH_DTYPE_NAMES.get(dtype, dtype) if isinstance(dtype, str) else dtype)
    except TypeError:
        raise TypeError(f"unknown {what} {dtype!r}; use engine.float32, engine.float64, engine.int64, ...") from None
    if dt.kind not in "biufc":
        raise TypeError(f"{what} {dt} is not numeric: tensors hold bool, integer, floating-point or complex numbers")
    return dt


def _to_array(data, dtype=None, copy: bool = True) -> np.ndarray:
    """Convert user data with torch's defaults: floats → float32, ints → int64, bools → bool.

    A NumPy array keeps its dtype (float64 stays float64), as `torch.from_numpy` would.
    """
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, np.generic):  # a NumPy scalar keeps its dtype too, as in torch.tensor(np.float64(1))
        arr, copy = np.asarray(data), False
    else:
        if isinstance(data, range):
            data = list(data)
        try:
            arr = np.asarray(data)
        except ValueError:  # NumPy 2 refuses ragged nesting itself
            raise ValueError(f"tensor(): nested sequences of unequal lengths in {data!r:.60}") from None
        if arr.dtype == object or arr.dtype.kind == "u":  # NumPy's way with an int past int64
            if any(isinstance(x, int) and not -2**63 <= x < 2**63 for x in arr.reshape(-1).tolist()):
                raise OverflowError(f"tensor(): an integer in {data!r:.60} does not fit in int64")
            raise TypeError(f"tensor(): cannot make a tensor from {type(data).__name__} {data!r:.60}")
        if dtype is None:
            if arr.dtype.kind == "f":
                arr = arr.astype(np.float32)
            elif arr.dtype.kind in "iu":
                arr = arr.astype(np.int64)
            elif arr.dtype.kind not in "b":
                raise TypeError(f"tensor(): unsupported data of dtype {arr.dtype} ({data!r:.60})")
        copy = False
    dtype = _as_dtype(dtype)
    if dtype is not None and arr.dtype != dtype:
        return arr.astype(dtype)
    return arr.copy() if copy else arr


def _check_grad_dtype(dtype: np.dtype, what: str) -> None:
    if dtype.kind not in "fc":
        raise TypeError(
            f"{what}: only floating-point tensors can require gradients, this one is {dtype}; "
            "convert it with .float() or .double() first"
        )


class Tensor:
    """An n-dimensional array with reverse-mode autodiff.

    `data` is the NumPy array, `grad` a NumPy array (or None) filled by `backward()`.
    Every tensor in the graph keeps its grad, as if `retain_grad()` were always on.
    """

    __slots__ = ("_data", "_grad", "_gown", "_rg", "_parents", "_vjp", "_op", "_arg", "name",
                 "_vc", "_ver", "_seq", "__weakref__")
    __array_priority__ = 1000  # `ndarray + Tensor` defers to Tensor.__radd__; `ndarray += Tensor` works in place
    __hash__ = object.__hash__  # __eq__ is elementwise; tensors still work as dict keys

    def __init__(self, data, dtype=None, requires_grad: bool = False, name: str | None = None):
        _init_leaf(self, _to_array(data, dtype))
        self.name = name
        if requires_grad:
            self.requires_grad = True

    # ---- state -----------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The NumPy array. Assigning (`p.data += -lr * grad`) writes in place."""
        return self._data

    @data.setter
    def data(self, value) -> None:
        if isinstance(value, Tensor):
            value = value._data
        elif not isinstance(value, np.ndarray):  # None or 5.0 would silently make a 0-d tensor (torch refuses)
            raise TypeError(f"data: assign a Tensor or a NumPy array, got {type(value).__name__}; to fill the "
                            "tensor with a number, write t.data[...] = value")
        if value is not self._data:
            if value.shape == self._data.shape:
                np.copyto(self._data, value, casting="same_kind")
            else:
                self._data = value.astype(self._data.dtype, copy=False)
        self._vc[0] += 1

    @property
    def grad(self) -> np.ndarray | None:
        """d(output)/d(self) as a NumPy array after `backward()`, else None. It is yours to modify."""
        if not self._gown:  # backprop may share one array between nodes; copy only when someone looks
            self._grad = self._grad.copy()
            self._gown = True
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            # a copy: backward adds into .grad in place, which must not reach another tensor or the caller
            value = np.array(value._data if isinstance(value, Tensor) else value)
            if value.shape != self._data.shape:
                raise ValueError(f"grad: shape {value.shape} does not match the tensor's shape {self.shape}")
            if value.dtype.kind != "f":  # backward adds float gradients into it in place
                raise TypeError(f"grad: must be floating point, like the tensor's {self._data.dtype}; "
                                f"got {value.dtype}")
            value = value.astype(self._data.dtype, copy=False)  # a grad has its tensor's dtype, as in torch
        self._grad = value
        self._gown = True

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self._parents:
            if flag and self._rg:  # already so: a no-op, as in torch
                return
            raise RuntimeError(
                f"requires_grad can only be set on leaf tensors; this one was made by '{self._op}' "
                "(use .detach() to get a leaf)"
            )
        if flag:
            _check_grad_dtype(self._data.dtype, "requires_grad")
        self._rg = bool(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self) -> bool:
        return not self._parents

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def op(self) -> str:
        """Name of the op that made this tensor ('' for a leaf)."""
        return self._op

    @property
    def parents(self) -> tuple:
        """The tensors this one was computed from (empty for a leaf or outside the graph)."""
        return self._parents

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self._data.ndim

    def nelement(self) -> int:
        return self._data.size

    numel = nelement

    def item(self):
        """The single value as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item(): a tensor of shape {self.shape} has {self._data.size} elements, not 1")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def numpy(self) -> np.ndarray:
        """The underlying NumPy array (shared, not copied)."""
        return self._data

    def __array__(self, dtype=None, copy=None):
        """NumPy's view of the tensor: its own array for np.asarray, a copy when NumPy asks for one (np.array,
        np.copy), since NumPy trusts that and a write to the shared array would reach the graph unseen."""
        if copy is False and dtype is not None and np.dtype(dtype) != self._data.dtype:
            raise ValueError(f"a {self._data.dtype} tensor cannot be viewed as {np.dtype(dtype)} without a copy")
        return self._data.astype(self._data.dtype if dtype is None else dtype, copy=bool(copy))

    def __contains__(self, item) -> bool:
        """`item in t`: whether some element equals it, as in torch."""
        return bool(np.any(self._data == (item._data if isinstance(item, Tensor) else np.asarray(item))))

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()")
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.ndim != 0 or self._data.dtype.kind not in "iu":
            raise TypeError(f"only 0-d integer tensors can be used as an index, not {self.dtype} {self.shape}")
        return int(self._data)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        return format(str(self), spec)

    def __repr__(self) -> str:
        d = self._data
        body = np.array2string(d, precision=4, separator=", ", prefix="tensor(", floatmode="maxprec_equal"
                               ) if d.ndim else _scalar_str(d)
        extra = []
        if d.dtype not in (float32, int64, np.bool_):
            extra.append(f"dtype={d.dtype}")
        if self._vjp is not None or self._parents:
            extra.append(f"grad_fn=<{self._op}>")
        elif self._rg:
            extra.append("requires_grad=True")
        if self.name:
            extra.append(f"name={self.name!r}")
        return "tensor(" + ", ".join([body] + extra) + ")"

    __str__ = __repr__

    # ---- graph -----------------------------------------------------------------------
    def detach(self) -> Tensor:
        """The same data (shared, with its version counter), cut from the graph."""
        t = _leaf(self._data)
        t._vc = self._vc
        return t

    def retain_grad(self) -> None:
        """Accepted for torch compatibility: every tensor in the graph keeps its grad."""

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `.grad` of every tensor in the graph.

        `gradient` is d(loss)/d(self); it may be omitted only for a single-element tensor.
        """
        if not self._rg:
            raise RuntimeError(
                "backward: this tensor does not require grad (no input had requires_grad=True, "
                "or it was computed under no_grad)"
            )
        if gradient is None:
            if self._data.size != 1:
                raise ValueError(
                    f"backward: output of shape {self.shape} is not a scalar; pass gradient= "
                    f"(an array of shape {self.shape}) or reduce it first, e.g. .sum()"
                )
            seed = np.array(1, self._data.dtype).reshape(self._data.shape)  # np.ones, without its Python layer
        else:
            # a copy: the leaves may keep the seed as their grad, and the caller may reuse the array
            seed = np.array(gradient._data if isinstance(gradient, Tensor) else gradient, self._data.dtype)
            if seed.shape != self._data.shape:
                raise ValueError(f"backward: gradient of shape {seed.shape} for an output of shape {self.shape}")
        backprop(self, seed, retain_graph)

    def _accumulate(self, g: np.ndarray) -> None:
        # g may be shared with another node or be a read-only broadcast: keep it, and let the `grad`
        # property copy it if the user ever reads it (most interior grads never are). A grad that is
        # ours (or the user's) takes the sum in place, as torch's does, so a reference to .grad sees it.
        if self._grad is None:
            self._grad, self._gown = g, False
        elif self._gown and self._grad.flags.writeable:
            self._grad += g
        else:
            self._grad, self._gown = self._grad + g, True

    def _fit(self, g: np.ndarray, op: str) -> np.ndarray:
        """The gradient an op returned for this parent, summed back over broadcast axes."""
        if g.shape != self._data.shape:
            try:
                g = unbroadcast(g, self._data.shape)
            except ValueError:
                raise RuntimeError(  # a custom op's VJP (make_op), or a bug in the engine's own
                    f"backward: the VJP of '{op}' returned a gradient of shape {g.shape} for an input of shape "
                    f"{self.shape}, which it does not broadcast to"
                ) from None
        if g.dtype != self._data.dtype:
            g = g.astype(self._data.dtype)
        return g

    def _check_unmodified(self) -> None:
        v = self._vc[0]
        for p in self._parents:
            v += p._vc[0]
        if v != self._ver:
            culprits = [p for p in (self, *self._parents) if p._vc[0]]
            names = ", ".join(f"{p.name or 'a tensor'} of shape {p.shape}" for p in culprits)
            raise RuntimeError(
                f"backward: an input of '{self._op}' ({names}) was modified in place after the graph "
                "was built, so its gradient would be wrong; recompute the forward pass first"
            )

    # ---- in-place updates (outside the graph) -----------------------------------------
    def _check_inplace(self, what: str, value=None) -> None:
        if is_grad_enabled():
            if self._rg:
                made = f"made by '{self._op}'" if self._parents else "a leaf that requires grad"
                raise RuntimeError(
                    f"{what}: in-place change of a tensor the graph needs ({made}); do it under "
                    "`with engine.no_grad():` or on a .detach()ed / .clone()d copy"
                )
            if isinstance(value, Tensor) and value._rg:
                raise RuntimeError(
                    f"{what}: the value requires grad, but in-place writes are not recorded in the graph; "
                    "build the result with ops (cat, stack, where, arithmetic) instead"
                )

    def __setitem__(self, key, value) -> None:
        self._check_inplace("setitem", value)
        if value is None:  # NumPy would write NaN
            raise TypeError(f"setitem: cannot assign None to a tensor of shape {self.shape}; assign a number or tensor")
        key, npkey = _torch_key(key, self._data.ndim)
        split = _ints_first(key, npkey)
        target = self._data
        if split:  # torch's axis order: write through the view the integers select
            target, npkey = target[split[0]], _index_key(split[1])
        try:
            target[npkey] = value._data if isinstance(value, Tensor) else value
        except (ValueError, TypeError) as e:
            raise _same_kind(e)(f"setitem on a tensor of shape {self.shape}: {e}") from None
        self._vc[0] += 1

    def _inplace(self, ufunc, other, what: str) -> Tensor:
        self._check_inplace(what, other)
        o = other._data if isinstance(other, Tensor) else other
        try:
            ufunc(self._data, o, out=self._data, casting="same_kind")
        except (ValueError, TypeError) as e:  # numpy's own message names the shapes/dtypes
            raise _same_kind(e)(f"{what}: {self.dtype} {self.shape} with {_describe(other)}: {e}") from None
        self._vc[0] += 1
        return self

    def __iadd__(self, other) -> Tensor:
        return self._inplace(np.add, other, "+=")

    def __isub__(self, other) -> Tensor:
        return self._inplace(np.subtract, other, "-=")

    def __imul__(self, other) -> Tensor:
        return self._inplace(np.multiply, other, "*=")

    def __itruediv__(self, other) -> Tensor:
        return self._inplace(np.true_divide, other, "/=")

    def zero_(self) -> Tensor:
        return self._fill(0, "zero_")  # not *= 0: NaN and inf must become 0 too

    def fill_(self, value) -> Tensor:
        return self._fill(value, "fill_")

    def _fill(self, value, what: str) -> Tensor:
        self._check_inplace(what, value)
        if isinstance(value, Tensor):
            if value.ndim:
                raise ValueError(f"{what}: the value must be a number or a 0-d tensor, got shape {value.shape}")
            value = value._data
        self._data.fill(value)
        self._vc[0] += 1
        return self


_new = object.__new__


def _leaf(data: np.ndarray) -> Tensor:
    """A constant tensor around an array we own (no copy, no checks)."""
    t = _new(Tensor)
    _init_leaf(t, data)
    return t


def _init_leaf(t: Tensor, data: np.ndarray) -> None:
    t._data = data
    t._grad = None
    t._gown = True
    t._seq = creation_order()
    t._rg = False
    t._parents = ()
    t._vjp = None
    t._op = ""
    t._arg = None
    t.name = None
    t._vc = [0]  # the version counter: in-place writes bump it; views and detach() share their base's
    t._ver = 0


def make_op(data, parents: tuple, vjp, op: str, arg=None, view_of: Tensor | None = None) -> Tensor:
    """The result of a differentiable op: `data` computed from `parents` (a tuple of Tensors).

    `vjp(g)` returns one gradient per parent (or None) for output gradient `g`; it must not
    write `.grad` or hold the output tensor. The graph is recorded only when grad mode is on
    and some parent requires grad. `view_of` names the parent whose memory `data` may share
    (reshape, transpose, basic indexing), so an in-place write through either is seen by both.
    This is also the public way to define a custom op.
    """
    if type(data) is not np.ndarray:
        data = np.asarray(data)
    t = _new(Tensor)
    t._data = data
    t._grad = None
    t._gown = True
    t._seq = creation_order()
    t.name = None
    t._vc = [0] if view_of is None else view_of._vc
    t._op = op
    t._arg = arg
    if is_grad_enabled():
        v = t._vc[0]
        rg = False
        for p in parents:
            rg = rg or p._rg
            v += p._vc[0]
        if rg:
            t._rg = True
            t._parents = parents
            t._vjp = vjp
            t._ver = v
            return t
    t._rg = False
    t._parents = ()
    t._vjp = None
    t._ver = 0
    return t


def _scalar_str(d: np.ndarray) -> str:
    if d.dtype.kind == "f":
        x = d.item()
        return f"{x:.4e}" if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e6) else f"{x:.4f}"
    return str(d.item())


def _describe(x) -> str:
    if isinstance(x, Tensor | np.ndarray):
        return f"{x.dtype} {x.shape}"
    return f"{type(x).__name__} {x!r:.40}"


def as_tensor(x) -> Tensor:
    """A Tensor for an op's operand: Tensors pass through, arrays are wrapped without copying."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return _leaf(x)
    if isinstance(x, np.generic):
        return _leaf(np.asarray(x))
    return _leaf(_to_array(x, copy=False))


def _index_part(k):
    if isinstance(k, Tensor):
        k = k._data
    elif isinstance(k, range):
        return np.arange(k.start, k.stop, k.step)
    elif isinstance(k, list):
        k = np.asarray(k)
        if k.size == 0:
            return k.astype(np.int64)
    if isinstance(k, np.ndarray):
        if k.dtype.kind not in "iub":
            raise IndexError(f"index arrays must be integer or bool, got {k.dtype} (convert with .long())")
        if k.ndim == 0 and k.dtype.kind != "b":
            return int(k)
        return k
    if k is None or k is Ellipsis or isinstance(k, slice | numbers.Integral):
        return k
    raise IndexError(f"only integers, slices, None, ..., and integer or bool tensors/arrays/lists are valid "
                     f"indices, got {type(k).__name__} {k!r:.40}")


def _same_kind(e: Exception) -> type[Exception]:
    """TypeError or ValueError: NumPy raises subclasses of them that cannot be rebuilt from a message."""
    return TypeError if isinstance(e, TypeError) else ValueError


def _index_key(key):
    """Normalise a torch-style index (Tensors, ranges, lists) into a NumPy one."""
    if isinstance(key, tuple):
        return tuple(_index_part(k) for k in key)
    return _index_part(key)


def _torch_key(key, ndim: int) -> tuple:
    """(key, its NumPy form) for a tensor of `ndim` axes, without an Ellipsis that stands for no axes.

    Such an Ellipsis changes nothing in torch, but NumPy counts it as separating the index arrays on
    either side and moves their axes to the front (x[:, mask, ..., [0]] on 3 axes would come out transposed).
    """
    npkey = _index_key(key)
    if not isinstance(npkey, tuple) or not any(k is Ellipsis for k in npkey):
        return key, npkey
    axes = 0
    for k in npkey:
        if isinstance(k, np.ndarray) and k.dtype == np.bool_:
            axes += k.ndim
        elif not (k is None or k is Ellipsis or type(k) is bool):
            axes += 1
    if axes != ndim:
        return key, npkey
    i = next(i for i, k in enumerate(npkey) if k is Ellipsis)
    return key[:i] + key[i + 1:], npkey[:i] + npkey[i + 1:]


def _ints_first(key, npkey) -> tuple | None:
    """torch's order for a key mixing integers and index arrays: (the integers, then the rest), else None.

    torch applies integers first, as basic indexing; NumPy counts an integer beside an index array as one
    more index array, which moves the result's axes when a slice lies between them (x[0, :, [0, 1, 2]]
    would come out transposed). Indexing with the first key and then the second gives torch's answer;
    the second keeps the user's own index objects (Tensors stay Tensors). `npkey` is `_index_key(key)`.
    """
    if not isinstance(npkey, tuple) or any(type(k) is bool for k in npkey):
        return None
    ints = [isinstance(k, numbers.Integral) for k in npkey]
    if not any(ints) or not any(isinstance(k, np.ndarray) for k in npkey):
        return None
    first, rest = [], []
    for k, np_k, is_int in zip(key, npkey, ints):
        if is_int:
            first.append(np_k)
        elif np_k is None:  # the new axis is made by the first key and passed over by the second
            first.append(None)
            rest.append(slice(None))
        elif np_k is Ellipsis:
            first.append(Ellipsis)
            rest.append(Ellipsis)
        else:  # a slice or an index array: the second key's, over the axes it covers
            covered = np_k.ndim if isinstance(np_k, np.ndarray) and np_k.dtype == np.bool_ else 1
            first.extend([slice(None)] * covered)
            rest.append(k)
    return tuple(first), tuple(rest)


# ---- creation -------------------------------------------------------------------------


class Generator:
    """A seedable random stream (NumPy PCG64; its numbers differ from torch's)."""

    def __init__(self, device=None) -> None:
        self._seed = None
        self._rng = np.random.default_rng()

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def initial_seed(self) -> int | None:
        return self._seed


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the global default generator (what `randn` uses without `generator=`)."""
    return default_generator.manual_seed(seed)


def _size(size: tuple, what: str) -> tuple:
    if len(size) == 1 and isinstance(size[0], Sequence | np.ndarray):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"{what}: sizes must be non-negative integers, got {size}")
    return tuple(int(n) for n in size)


def _created(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = _leaf(data)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of `data` (floats → float32, ints → int64)."""
    return _created(_to_array(data, dtype), requires_grad)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _created(np.zeros(_size(size, "zeros"), _as_dtype(dtype) or float32), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _created(np.ones(_size(size, "ones"), _as_dtype(dtype) or float32), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    dtype = _as_dtype(dtype) or _to_array(fill_value).dtype
    return _created(np.full(_size((size,), "full"), fill_value, dtype), requires_grad)


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    t = as_tensor(t)
    return _created(np.zeros(t.shape, _as_dtype(dtype) or t.dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    t = as_tensor(t)
    return _created(np.ones(t.shape, _as_dtype(dtype) or t.dtype), requires_grad)


def randn(*size, generator: Generator | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples of the given size, from `generator` (or the default one)."""
    dtype = _as_dtype(dtype) or float32
    _check_grad_dtype(dtype, "randn")
    rng = (generator or default_generator)._rng
    return _created(rng.standard_normal(_size(size, "randn"), dtype=dtype), requires_grad)


def rand(*size, generator: Generator | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    dtype = _as_dtype(dtype) or float32
    _check_grad_dtype(dtype, "rand")
    rng = (generator or default_generator)._rng
    return _created(rng.random(_size(size, "rand"), dtype=dtype), requires_grad)


def randint(low, high=None, size=None, *, generator: Generator | None = None, dtype=None) -> Tensor:
    """Integers uniform in [low, high); `randint(high, size)` means low = 0, as in torch."""
    if size is None:
        if high is None or not isinstance(high, Sequence):
            raise TypeError("randint(low, high, size) or randint(high, size): size is required")
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=...)
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    rng = (generator or default_generator)._rng
    return _leaf(rng.integers(low, high, _size((size,), "randint"), dtype=_as_dtype(dtype) or int64))


def arange(start, end=None, step=1, *, dtype=None, requires_grad: bool = False) -> Tensor:
    """start, start + step, ... up to but excluding end (arange(n) is 0..n-1): int64 for int arguments, else float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError(f"arange: step must be non-zero, got {step!r}")
    integral = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = _as_dtype(dtype) or (int64 if integral else float32)
    if dtype.kind in "iu" and not integral:  # NumPy would size it by the float step but step by its int part
        raise ValueError(f"arange: an integer dtype ({dtype}) needs integer start, end and step; got {start!r}, "
                         f"{end!r}, {step!r}")
    return _created(np.arange(start, end, step, dtype=dtype), requires_grad)


def allclose(a, b, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """|a - b| <= atol + rtol * |b| everywhere (torch's defaults); shapes must broadcast."""
    a, b = as_tensor(a)._data, as_tensor(b)._data
    try:
        return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))
    except ValueError:
        raise ValueError(f"allclose: shapes {a.shape} and {b.shape} cannot be broadcast together") from None
