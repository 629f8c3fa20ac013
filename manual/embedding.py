"""Backward of the embedding lookup emb = C[Xb], shared by the step-by-step chain and the training step.

The lookup copies row C[Xb[i, j]] into emb[i, j], so dC gathers demb[i, j] back into that row; an index that
appears several times in the batch collects several gradients (a plain fancy-index `+=` would keep only one).
"""

import math
import numbers

import numpy as np
from numpy.typing import NDArray

from manual._common import check_indices, identity

ONE_HOT_ROWS = 1024  # tables up to this many rows scatter by a one-hot product (its identity: at most 8 MB)
ONE_HOT_ENTRIES = 1 << 20  # and only while the one-hot matrix has at most this many entries


def embedding_backward(demb: NDArray, Xb: NDArray, vocab_size: int) -> NDArray:
    """dC[v] = sum of demb[i, j] over all (i, j) with Xb[i, j] == v: a scatter-add, as one_hot(Xb).T @ demb.

    demb (n, block_size, n_embd), Xb integers (n, block_size) -> dC (vocab_size, n_embd) in demb's dtype.
    Indices follow NumPy indexing exactly as the forward C[Xb] does.
    """
    demb, Xb = np.asarray(demb), np.asarray(Xb)
    if demb.dtype.kind != "f":
        raise ValueError(f"embedding_backward: demb must be floating point; got {demb.dtype}")
    if Xb.dtype.kind not in "iu":
        raise ValueError(f"embedding_backward: Xb must hold integer indices; got {Xb.dtype}")
    if demb.ndim != 3 or demb.shape[:2] != Xb.shape:
        raise ValueError(
            f"embedding_backward: demb has shape {demb.shape}, expected (n, block_size, n_embd) with "
            f"(n, block_size) = Xb.shape = {Xb.shape}"
        )
    if not isinstance(vocab_size, numbers.Integral) or isinstance(vocab_size, bool) or vocab_size < 1:
        raise ValueError(f"embedding_backward: vocab_size must be an int >= 1; got {vocab_size!r}")
    check_indices(Xb, vocab_size, "embedding_backward")
    return scatter_rows(demb, Xb, vocab_size)


def scatter_rows(demb: NDArray, Xb: NDArray, vocab_size: int, out: NDArray | None = None) -> NDArray:
    """`embedding_backward` for inputs already checked (the backward passes' callers have done it).

    `out`, if given, is a C-contiguous (vocab_size, n_embd) array of demb's dtype that receives dC.
    """
    ix = Xb.reshape(-1)  # (n*block_size,)
    rows = demb.reshape(ix.size, demb.shape[-1])  # (n*block_size, n_embd); -1 cannot size an empty batch
    small = vocab_size <= ONE_HOT_ROWS and vocab_size * ix.size <= ONE_HOT_ENTRIES  # a one-hot matrix fits
    # but an inf or NaN in demb would reach every row through its product (0 * inf is NaN): add.at then. A sum
    # of squares is finite only if every entry is (or falls back needlessly on overflow); BLAS's is fastest
    if small and math.isfinite(np.dot(flat := demb.reshape(-1), flat)):
        # 27 rows, 96 indices, f32 (us): one-hot matmul 4.9-6.9, flat bincount 7-12, add.at 11-19, bincount/col
        # 15-20; the one-hot rows are taken from a cached identity: 4.1 us here, against 6.0 to scatter ones
        one_hot = identity(vocab_size, demb.dtype).take(ix, axis=0)  # (n*block_size, vocab_size)
        return np.dot(one_hot.T, rows, out=out)  # (vocab_size, n_embd)
    if out is None:
        out = np.empty((vocab_size, rows.shape[1]), demb.dtype)
    out.fill(0)
    np.add.at(out, ix, rows)
    return out
