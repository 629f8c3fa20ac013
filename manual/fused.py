"""Exercises 2 and 3: the cross-entropy and batchnorm backward passes, each fused into one expression.

`cross_entropy_backward` replaces the chain logprobs -> ... -> logit_maxes -> logits of Exercise 1 and
`batchnorm_backward` the chain bnraw -> ... -> bnmeani -> hprebn. `backward_fused` runs the whole backward
pass of In [33] from the chunked forward's intermediates; the training step in `manual.step` shares its body.
"""

import functools
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from manual._common import (
    batch_sum,
    check_batch_size,
    check_labels,
    check_model,
    check_shapes,
    constant,
    intermediates,
    ones_row,
)
from manual.embedding import scatter_rows


def cross_entropy(logits: NDArray, at: NDArray) -> tuple[float, NDArray]:
    """loss = mean_i (log sum_k exp(logits[i, k]) - logits[i, Yb[i]]), and probs = softmax(logits).

    `at` holds the labels' flat positions, label_positions(logits.shape, Yb). Both results are computed from
    logits minus the row max (log-sum-exp), so exp cannot overflow and the log of a tiny probability never
    underflows to log(0); that difference is written over `logits`, which the caller owns. Inputs are not
    checked: the callers have done it.
    """
    norm_logits = logits  # (n, vocab)
    norm_logits -= np.maximum.reduce(logits, axis=1, keepdims=True)  # .max's ufunc
    counts = np.exp(norm_logits)  # (n, vocab)
    counts_sum = np.dot(counts, ones_row(counts.shape[1], counts.dtype).T)  # (n, 1); BLAS sums short rows fastest
    picked = norm_logits.reshape(-1).take(at)  # (n,) norm_logits[i, Yb[i]]
    loss = float(np.add.reduce(np.log(counts_sum[:, 0]) - picked) / logits.shape[0])  # .sum()'s ufunc
    counts /= counts_sum  # (n, vocab) probs, in counts' memory
    return loss, counts


def label_positions(shape: tuple[int, int], Yb: NDArray) -> NDArray:
    """Flat positions of the entries [i, Yb[i]] in a C-ordered array of `shape` (n, vocab).

    `a.reshape(-1).take(label_positions(a.shape, Yb))` is a[np.arange(n), Yb], and a flat `+=` at them is
    a[np.arange(n), Yb] += ..., each in half the time of fancy indexing with two index arrays.
    """
    return row_starts(*shape, Yb.dtype.kind == "u") + Yb  # (n,)


@functools.lru_cache(maxsize=16)
def row_starts(n: int, vocab: int, unsigned: bool = False) -> NDArray:
    """The flat positions 0, vocab, 2 vocab, ... of the rows of an (n, vocab) array, read-only, made once.

    uint64 for unsigned labels: int64 + uint64 promotes to float64, which cannot index.
    """
    starts = np.arange(0, n * vocab, vocab, dtype=np.uint64 if unsigned else np.int64)
    starts.flags.writeable = False
    return starts


def dlogits_from_probs(probs: NDArray, at: NDArray) -> NDArray:
    """dlogits = (probs - one_hot(Yb)) / n, the fused cross-entropy gradient given probs = softmax(logits).

    `at` holds the labels' flat positions, label_positions(probs.shape, Yb). Computed in probs' memory,
    which both callers own. Inputs are not checked: the callers have done it.
    """
    n = probs.shape[0]
    dlogits = probs  # (n, vocab)
    inv_n = constant(1 / n, probs.dtype)
    dlogits *= inv_n
    dlogits.reshape(-1)[at] -= inv_n
    return dlogits


def cross_entropy_backward(logits: NDArray, Yb: NDArray) -> NDArray:
    """Exercise 2: d loss / d logits = (softmax(logits) - one_hot(Yb)) / n for the mean cross-entropy.

    Per example, d(-log p_y)/dz_k = p_k - [k == y]: descent pulls every wrong logit down by its probability
    and pushes the right one up by 1 - p_y; averaging over the batch divides by n.
    """
    logits, Yb = np.asarray(logits), np.asarray(Yb)
    if logits.ndim != 2 or min(logits.shape) < 1 or logits.dtype.kind != "f":
        raise ValueError(f"cross_entropy_backward: logits must be floating point, (n >= 1, vocab_size >= 1); got "
                         f"{logits.dtype} {logits.shape}")
    check_labels(Yb, *logits.shape, "cross_entropy_backward")
    at = label_positions(logits.shape, Yb)
    return dlogits_from_probs(cross_entropy(logits.copy(), at)[1], at)


def batchnorm_backward(dhpreact: NDArray, bngain: NDArray, bnvar_inv: NDArray, bnraw: NDArray) -> NDArray:
    """Exercise 3: d loss / d hprebn through hpreact = bngain * (hprebn - mean) * bnvar_inv + bnbias.

    With the Bessel-corrected variance (divide by n-1), summing every path through the mean and the variance:
    dhprebn = bngain * bnvar_inv / n * (n*dhpreact - sum_i dhpreact - n/(n-1) * bnraw * sum_i dhpreact*bnraw)
            = bngain * bnvar_inv * (dhpreact - sum_i dhpreact / n - bnraw * sum_i dhpreact*bnraw / (n-1)),
    sums over the batch axis; dhpreact and bnraw are (n, n_hidden), bngain and bnvar_inv (1, n_hidden).
    """
    dhpreact, bnraw = np.asarray(dhpreact), np.asarray(bnraw)
    if dhpreact.ndim != 2:
        raise ValueError(f"batchnorm_backward: dhpreact must be (n, n_hidden); got {dhpreact.shape}")
    n, n_hidden = dhpreact.shape
    check_batch_size(n)
    arrays = {"bngain": np.asarray(bngain), "bnvar_inv": np.asarray(bnvar_inv), "bnraw": bnraw}
    expected = {"bngain": (1, n_hidden), "bnvar_inv": (1, n_hidden), "bnraw": (n, n_hidden)}
    check_shapes(arrays, expected, f"batchnorm_backward (dhpreact is {dhpreact.shape})")
    for name, array in {"dhpreact": dhpreact, **arrays}.items():
        if array.dtype.kind != "f":
            raise ValueError(f"batchnorm_backward: {name} must be floating point; got {array.dtype}")
    dbnbias = batch_sum(dhpreact, keepdims=True)  # (1, n_hidden)
    dbngain = batch_sum(dhpreact * bnraw, keepdims=True)  # (1, n_hidden)
    return _batchnorm_backward(dhpreact, arrays["bngain"], arrays["bnvar_inv"], bnraw, dbnbias, dbngain)


def _batchnorm_backward(
    dhpreact: NDArray, bngain: NDArray, bnvar_inv: NDArray, bnraw: NDArray, dbnbias: NDArray, dbngain: NDArray
) -> NDArray:
    """The formula of `batchnorm_backward`, inputs already checked.

    Its two batch sums are the gradients of the affine part, sum_i dhpreact = dbnbias and
    sum_i dhpreact*bnraw = dbngain, so the caller passes those in rather than summing twice.
    """
    n = dhpreact.shape[0]
    # the second form above: the 1/n taken inside saves one pass over (n, n_hidden)
    return bngain * bnvar_inv * (dhpreact - dbnbias / n - bnraw * (dbngain / (n - 1)))  # (n, n_hidden)


def backward_after_logits(
    dlogits: NDArray,
    h: NDArray,
    bnraw: NDArray,
    bnvar_inv: NDArray,
    embcat: NDArray,
    params: Mapping[str, NDArray],
    Xb: NDArray,
) -> dict[str, NDArray]:
    """The backward pass of In [33] from dlogits down to dC, with the fused batchnorm; inputs already checked.

    logits = h @ W2 + b2; h = tanh(hpreact) so dhpreact = (1 - h**2) * dh; hpreact = bngain * bnraw + bnbias;
    hprebn = embcat @ W1 + b1; embcat = emb.reshape(n, -1); emb = C[Xb].
    """
    C, W1, W2, bngain = params["C"], params["W1"], params["W2"], params["bngain"]
    dh = dlogits @ W2.T  # (n, n_hidden)
    dW2 = h.T @ dlogits  # (n_hidden, vocab)
    db2 = batch_sum(dlogits)  # (vocab,)
    dhpreact = (1.0 - h**2) * dh  # (n, n_hidden)
    dbngain = batch_sum(bnraw * dhpreact, keepdims=True)  # (1, n_hidden)
    dbnbias = batch_sum(dhpreact, keepdims=True)  # (1, n_hidden)
    dhprebn = _batchnorm_backward(dhpreact, bngain, bnvar_inv, bnraw, dbnbias, dbngain)  # (n, n_hidden)
    dW1 = embcat.T @ dhprebn  # (block_size*n_embd, n_hidden)
    db1 = batch_sum(dhprebn)  # (n_hidden,)
    dembcat = dhprebn @ W1.T  # (n, block_size*n_embd)
    demb = dembcat.reshape(*Xb.shape, C.shape[1])  # (n, block_size, n_embd)
    dC = scatter_rows(demb, Xb, C.shape[0])  # (vocab, n_embd); dC[v] sums demb where Xb == v
    return {
        "dh": dh, "dW2": dW2, "db2": db2, "dhpreact": dhpreact, "dbngain": dbngain, "dbnbias": dbnbias,
        "dhprebn": dhprebn, "dW1": dW1, "db1": db1, "dembcat": dembcat, "demb": demb, "dC": dC,
    }


def backward_fused(
    fwd: Mapping[str, NDArray], params: Mapping[str, NDArray], Xb: NDArray, Yb: NDArray
) -> dict[str, NDArray]:
    """The backward pass with the fused cross-entropy and batchnorm, from the chunked forward's intermediates.

    Uses fwd['logits', 'h', 'bnraw', 'bnvar_inv' (or 'bnstd_inv'), 'embcat']. Returns dlogits, dh, dW2, db2,
    dhpreact, dbngain, dbnbias, dhprebn, dW1, db1, dembcat, demb, dC, comparable with `backward_chain`.
    """
    Xb, Yb = np.asarray(Xb), np.asarray(Yb)
    dims = check_model(params, Xb, Yb, "backward_fused")
    names = ("logits", "h", "bnraw", "bnvar_inv", "embcat")
    f = intermediates(fwd, names, dims, params["C"].dtype, "backward_fused")
    dlogits = cross_entropy_backward(f["logits"], Yb)  # (n, vocab)
    grads = backward_after_logits(dlogits, f["h"], f["bnraw"], f["bnvar_inv"], f["embcat"], params, Xb)
    return {"dlogits": dlogits, **grads}
