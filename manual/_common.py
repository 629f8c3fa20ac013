"""Constants and input checks shared by the manual backward passes.

Every check raises a ValueError naming the tensor, its shape and the expected shape, so a wrong input fails
loudly instead of broadcasting into wrong numbers. Batchnorm's Bessel-corrected variance divides by n-1, so
everything that touches it demands a batch of at least 2. The checks look at shapes and dtypes, and read
values only to range-check Xb's indices and Yb's labels, one pass each, which keeps them cheap enough for
the training step.
"""

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

BN_EPS = 1e-5  # added to bnvar before the inverse square root, as in the lecture
PARAM_NAMES = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")


class Dims(NamedTuple):
    """Sizes of the makemore MLP and of one batch, read off the parameters and Xb."""

    n: int  # batch size
    block_size: int  # context length: characters per example
    vocab_size: int  # rows of C, columns of logits
    n_embd: int  # embedding dimension: columns of C
    n_hidden: int  # width of the hidden (batchnorm, tanh) layer


PAIRWISE_ROWS = 32  # batch_sum adds at most this many rows one after another


@functools.lru_cache(maxsize=64)
def ones_row(n: int, dtype: np.dtype, weight: float = 1.0) -> NDArray:
    """A read-only (1, n) row filled with `weight`, made once per size: batch_sum's left factor."""
    row = np.full((1, n), weight, dtype)
    row.flags.writeable = False
    return row


@functools.lru_cache(maxsize=64)
def constant(value: float, dtype: np.dtype) -> NDArray:
    """`value` as a read-only 0-d array of `dtype`, made once per value: NumPy combines an array with it about
    1 us faster than with the Python float (measured at (32, 200) float32), with the same result, as NumPy
    rounds a Python float to the array's dtype too. (The engine has the same helper; manual does not import it.)"""
    const = np.asarray(value, dtype)
    const.flags.writeable = False
    return const


@functools.lru_cache(maxsize=4)
def identity(n: int, dtype: np.dtype) -> NDArray:
    """A read-only (n, n) identity made once per size: its rows are one-hot vectors. At most 4 are kept, as
    the engine's `_identity` keeps: up to 1024 rows (embedding.ONE_HOT_ROWS) each may take 8 MB."""
    eye = np.eye(n, dtype=dtype)
    eye.flags.writeable = False
    return eye


def batch_sum(x: NDArray, keepdims: bool = False, out: NDArray | None = None, weight: float = 1.0) -> NDArray:
    """weight * x.sum(0), the (weighted) sum over the batch of an (n, features) array, added pairwise.

    NumPy adds the rows of axis 0 one after another, so a float32 batch sum's rounding error grows like
    the batch size n (at n = 1024 enough to fail torch.allclose against PyTorch, whose sums are
    pairwise). Adding the second half of the rows to the first until at most PAIRWISE_ROWS remain
    makes it grow like log n. The rows left are summed as the product full((1, n), weight) @ x, which
    BLAS does in a third of NumPy's time at (32, 200); a weight of 1/n gives the batch mean at no extra
    cost. The engine's batch sums finish the same way, so with weight 1 the two give the same bits and
    manual and engine gradients agree to the last bit. `out`, if given, receives the sum.
    """
    while (n := x.shape[0]) > PAIRWISE_ROWS:
        half = n // 2
        halved = x[:half] + x[half : 2 * half]
        if n % 2:  # the odd row out joins the first
            halved[:1] += x[n - 1 :]
        x = halved
    if x.ndim != 2 or x.dtype.char not in "fd" or not x.flags.c_contiguous:  # as the engine's add_reduce
        total = x.sum(0, keepdims=keepdims, out=out)
        if weight != 1:
            total *= weight
        return total
    row = ones_row(n, x.dtype, weight)
    if out is not None:
        np.dot(row, x, out=out.reshape(1, -1))
        return out
    total = np.dot(row, x)  # (1, features)
    return total if keepdims else total.reshape(-1)


@functools.lru_cache(maxsize=64)
def batch_summer(n: int, dtype: np.dtype, weight: float = 1.0) -> Callable[..., NDArray]:
    """`sum_rows(x, out=None)`: batch_sum(x, keepdims=True, out=out, weight=weight) for the (n, features)
    C-contiguous arrays of `dtype` a training step makes, with batch_sum's checks and lookups done once.

    Up to PAIRWISE_ROWS rows of float32 or float64 it is the product ones_row(n, dtype, weight) @ x itself,
    the same bits in half the time at (32, 200): batch_sum spends as long on its checks as BLAS on the sum.
    """
    if n <= PAIRWISE_ROWS and dtype.char in "fd":
        return functools.partial(np.dot, ones_row(n, dtype, weight))
    return functools.partial(batch_sum, keepdims=True, weight=weight)


def check_batch_size(n: int) -> None:
    """Raise unless n >= 2: the Bessel-corrected batch variance divides by n-1."""
    if n < 2:
        raise ValueError(
            f"batchnorm needs a batch of at least 2 examples: Bessel-corrected variance divides by "
            f"n-1 = {n - 1} (got a batch of n = {n})"
        )


def check_shapes(arrays: Mapping[str, NDArray], expected: Mapping[str, tuple[int, ...]], where: str) -> None:
    """Raise if any arrays[name].shape differs from expected[name]."""
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise ValueError(f"{where}: {name} has shape {arrays[name].shape}, expected {shape}")


def check_labels(Yb: NDArray, n: int, classes: int, where: str) -> None:
    """Raise unless Yb is an integer array of shape (n,) holding classes 0..classes-1.

    A label of -1 would index the last class, as NumPy allows; torch and the engine refuse it, and so do we.
    """
    if Yb.shape != (n,) or Yb.dtype.kind not in "iu":
        raise ValueError(f"{where}: Yb must be integers of shape ({n},); got {Yb.dtype} {Yb.shape}")
    if n and not labels_in_range(Yb, classes):
        bad = Yb[(Yb < 0) | (Yb >= classes)][0]
        raise ValueError(f"{where}: Yb holds the class {bad}, outside the {classes} classes 0..{classes - 1}")


def labels_in_range(Yb: NDArray, classes: int) -> bool:
    """Whether every label is one of 0..classes-1, for integer labels Yb of one axis.

    np.bincount refuses a negative label and counts up to the largest, in one tight pass: in the training
    step it takes a third of the time of Yb.max(), whose reduction machinery is slow there. Labels it
    cannot take (uint64) are read by a max, as unsigned so that a negative one would be huge.
    (The engine's cross_entropy checks its targets the same way; manual does not import the engine.)
    """
    try:
        return np.bincount(Yb).size <= classes
    except (ValueError, MemoryError):  # a negative label; one so large its count array cannot be made
        return False
    except TypeError:  # uint64, which bincount will not cast to its index type
        return bool(Yb.view(f"u{Yb.itemsize}").max() < classes)


def check_indices(Xb: NDArray, vocab_size: int, where: str) -> None:
    """Raise unless every index in Xb picks a row of C: -vocab_size..vocab_size-1, as C[Xb] allows (-1 is the last)."""
    if Xb.size and (Xb.min() < -vocab_size or Xb.max() >= vocab_size):
        raise index_error(Xb, vocab_size, where)


def index_error(Xb: NDArray, vocab_size: int, where: str) -> ValueError:
    """The error for an Xb holding an index outside C's rows, naming the first such index."""
    bad = Xb[(Xb < -vocab_size) | (Xb >= vocab_size)][0]
    return ValueError(f"{where}: Xb holds the index {bad}, but C has {vocab_size} rows")


def check_batch(Xb: NDArray, Yb: NDArray, vocab_size: int, where: str) -> tuple[int, int]:
    """Check Xb (integers (n, block_size), n >= 2) and Yb (n labels); return (n, block_size).

    Xb's values are left to `check_indices`, or to C.take(Xb, axis=0), which refuses the same ones.
    """
    if Xb.ndim != 2 or Xb.dtype.kind not in "iu":
        raise ValueError(f"{where}: Xb must be integers of shape (n, block_size); got {Xb.dtype} {Xb.shape}")
    n, block_size = Xb.shape
    check_batch_size(n)
    check_labels(Yb, n, vocab_size, where)
    return n, block_size


def check_params(params: Mapping[str, NDArray], where: str, block_size: int | None = None) -> Dims:
    """Check the 7 parameters against each other and return their sizes (with n = 0: no batch yet).

    C (vocab, n_embd), W1 (block*n_embd, n_hidden), b1 (n_hidden,), W2 (n_hidden, vocab), b2 (vocab,),
    bngain and bnbias (1, n_hidden), all NumPy arrays of one floating dtype. block_size is read off W1
    unless given (by a batch, whose width W1 must then match).
    """
    if not isinstance(params, Mapping):
        raise TypeError(f"{where}: params must be a mapping name -> array (a dict), got {type(params).__name__}")
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise ValueError(f"{where}: params is missing {missing}; expected all of {PARAM_NAMES}")
    for name in PARAM_NAMES:
        if type(params[name]) is not np.ndarray:
            raise TypeError(f"{where}: params[{name!r}] is a {type(params[name]).__name__}; pass NumPy arrays "
                            "(np.asarray(t) for a list; t.detach().numpy() for a torch tensor)")
    C, W1 = params["C"], params["W1"]
    if C.ndim != 2 or W1.ndim != 2:
        raise ValueError(f"{where}: C and W1 must be 2-D; got C {C.shape} and W1 {W1.shape}")
    vocab_size, n_embd = C.shape
    if block_size is None:
        if n_embd == 0 or W1.shape[0] % n_embd:
            raise ValueError(f"{where}: W1 has {W1.shape[0]} rows, not a multiple of C's {n_embd} columns "
                             "(W1 takes block_size embeddings side by side)")
        block_size, source = W1.shape[0] // n_embd, f"C {C.shape}"
    else:
        source = f"C {C.shape} and block_size {block_size}"
    n_hidden = W1.shape[1]
    expected = {
        "W1": (block_size * n_embd, n_hidden),
        "b1": (n_hidden,),
        "W2": (n_hidden, vocab_size),
        "b2": (vocab_size,),
        "bngain": (1, n_hidden),
        "bnbias": (1, n_hidden),
    }
    for name, shape in expected.items():
        param = params[name]
        if param.shape != shape:
            raise ValueError(f"{where}: {name} has shape {param.shape}, expected {shape} (from {source})")
        if param.dtype != C.dtype:
            raise ValueError(f"{where}: {name} is {param.dtype} but C is {C.dtype}; use one dtype for all")
    if C.dtype.kind != "f":
        raise ValueError(f"{where}: parameters must be floating point; got {C.dtype}")
    return Dims(0, block_size, vocab_size, n_embd, n_hidden)


def check_model(params: Mapping[str, NDArray], Xb: NDArray, Yb: NDArray, where: str) -> Dims:
    """Check the 7 parameters (`check_params`) and the batch (`check_batch`) against each other; their sizes."""
    C = params.get("C") if isinstance(params, Mapping) else None
    if type(C) is not np.ndarray or C.ndim != 2:
        return check_params(params, where)  # raises, naming what is wrong with C
    n, block_size = check_batch(Xb, Yb, C.shape[0], where)
    check_indices(Xb, C.shape[0], where)
    return check_params(params, where, block_size)._replace(n=n)


def intermediate_shapes(dims: Dims) -> dict[str, tuple[int, ...]]:
    """The shape of every forward intermediate of the chunked forward pass (In [27])."""
    n, block_size, vocab_size, n_embd, n_hidden = dims
    row, per_example = (1, n_hidden), (n, 1)
    return {
        "emb": (n, block_size, n_embd),
        "embcat": (n, block_size * n_embd),
        "hprebn": (n, n_hidden),
        "bnmeani": row,
        "bndiff": (n, n_hidden),
        "bndiff2": (n, n_hidden),
        "bnvar": row,
        "bnvar_inv": row,
        "bnraw": (n, n_hidden),
        "hpreact": (n, n_hidden),
        "h": (n, n_hidden),
        "logits": (n, vocab_size),
        "logit_maxes": per_example,
        "norm_logits": (n, vocab_size),
        "counts": (n, vocab_size),
        "counts_sum": per_example,
        "counts_sum_inv": per_example,
        "probs": (n, vocab_size),
        "logprobs": (n, vocab_size),
    }


def intermediates(
    fwd: Mapping[str, NDArray], names: Iterable[str], dims: Dims, dtype: np.dtype, where: str
) -> dict[str, NDArray]:
    """Pick `names` out of fwd as arrays, checking shapes and dtype; 'bnstd_inv' may stand for 'bnvar_inv'."""
    fwd = dict(fwd)
    if "bnstd_inv" in fwd:
        alias = fwd.pop("bnstd_inv")
        if "bnvar_inv" in fwd and not np.array_equal(fwd["bnvar_inv"], alias, equal_nan=True):
            raise ValueError(f"{where}: fwd has bnvar_inv and its alias bnstd_inv with different values")
        fwd.setdefault("bnvar_inv", alias)
    names = tuple(names)
    missing = [name for name in names if name not in fwd]
    if missing:
        raise ValueError(f"{where}: fwd is missing the intermediates {missing}")
    picked = {name: np.asarray(fwd[name]) for name in names}
    shapes = intermediate_shapes(dims)
    check_shapes(picked, {name: shapes[name] for name in names}, f"{where} (from Xb and the parameters)")
    for name, array in picked.items():
        if array.dtype != dtype:
            raise ValueError(f"{where}: {name} is {array.dtype} but the parameters are {dtype}")
    return picked
