"""Exercise 4: the full manual training step of In [33], fast enough to train with.

`forward_train` is the fused forward (batchnorm from the batch mean and Bessel-corrected variance, a
log-sum-exp cross-entropy); `step_grads` adds the fused backward shared with `manual.fused.backward_fused`;
`sgd_update` applies the gradients in place. Everything stays in the parameters' dtype (float32 in training).
"""

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from manual._common import BN_EPS, PARAM_NAMES, batch_sum, check_model
from manual.fused import backward_after_logits, cross_entropy, dlogits_from_probs


class ForwardCache(NamedTuple):
    """What the backward pass needs from `forward_train` (plus the batch statistics for running averages)."""

    embcat: NDArray  # (n, block_size*n_embd)
    bnmean: NDArray  # (1, n_hidden) batch mean of hprebn
    bnvar: NDArray  # (1, n_hidden) Bessel-corrected batch variance of hprebn
    bnvar_inv: NDArray  # (1, n_hidden) (bnvar + eps)**-0.5
    bnraw: NDArray  # (n, n_hidden) normalized hprebn
    h: NDArray  # (n, n_hidden) tanh activations
    probs: NDArray  # (n, vocab_size) softmax(logits)


class StepResult(NamedTuple):
    """One training step's loss, parameter gradients ('dC', 'dW1', ..., 'dbnbias') and batch statistics."""

    loss: float
    grads: dict[str, NDArray]
    bnmean: NDArray  # (1, n_hidden)
    bnvar: NDArray  # (1, n_hidden)


def forward_train(params: Mapping[str, NDArray], Xb: NDArray, Yb: NDArray) -> tuple[float, ForwardCache]:
    """The training-mode forward pass of In [33]: the loss, and what the backward pass needs.

    hprebn = C[Xb].reshape(n, -1) @ W1 + b1; bnraw = (hprebn - bnmean) * (bnvar + eps)**-0.5 with the batch
    mean and the Bessel-corrected batch variance (divide by n-1); h = tanh(bngain * bnraw + bnbias);
    logits = h @ W2 + b2; loss = mean cross-entropy of logits against Yb.
    """
    Xb, Yb = np.asarray(Xb), np.asarray(Yb)
    n = check_model(params, Xb, Yb, "forward_train").n
    emb = params["C"].take(Xb, axis=0)  # (n, block_size, n_embd); C[Xb] without fancy indexing's overhead
    embcat = emb.reshape(n, -1)  # (n, block_size*n_embd)
    hprebn = embcat @ params["W1"] + params["b1"]  # (n, n_hidden)
    # sums rather than .mean() and .var(ddof=1): those take 2x and 3x as long at this size
    bnmean = batch_sum(hprebn, keepdims=True) * (1 / n)  # (1, n_hidden)
    bndiff = hprebn - bnmean  # (n, n_hidden)
    bnvar = batch_sum(bndiff * bndiff, keepdims=True) * (1 / (n - 1))  # (1, n_hidden); Bessel's correction
    bnvar_inv = (bnvar + BN_EPS) ** -0.5  # (1, n_hidden)
    bnraw = bndiff * bnvar_inv  # (n, n_hidden)
    h = np.tanh(params["bngain"] * bnraw + params["bnbias"])  # (n, n_hidden)
    logits = h @ params["W2"] + params["b2"]  # (n, vocab)
    loss, probs = cross_entropy(logits, Yb)
    return loss, ForwardCache(embcat, bnmean, bnvar, bnvar_inv, bnraw, h, probs)


def step_grads(params: Mapping[str, NDArray], Xb: NDArray, Yb: NDArray) -> StepResult:
    """Loss and d loss / d every parameter for one batch: `forward_train`, then the fused backward pass."""
    Xb, Yb = np.asarray(Xb), np.asarray(Yb)
    loss, cache = forward_train(params, Xb, Yb)
    dlogits = dlogits_from_probs(cache.probs, Yb)  # (n, vocab)
    grads = backward_after_logits(dlogits, cache.h, cache.bnraw, cache.bnvar_inv, cache.embcat, params, Xb)
    param_grads = {f"d{name}": grads[f"d{name}"] for name in PARAM_NAMES}
    return StepResult(loss, param_grads, cache.bnmean, cache.bnvar)


def sgd_update(params: Mapping[str, NDArray], grads: Mapping[str, NDArray], lr: float) -> None:
    """p -= lr * dp for every parameter, in place (so the arrays keep their identity and dtype).

    Every gradient is checked before any parameter changes, so a bad one leaves the model as it was.
    """
    for name in PARAM_NAMES:
        param, grad = params[name], grads.get(f"d{name}")
        if type(grad) is not np.ndarray or grad.shape != param.shape:
            got = f"shape {grad.shape}" if isinstance(grad, np.ndarray) else type(grad).__name__
            raise ValueError(f"sgd_update: d{name} must be an array of {name}'s shape {param.shape}; got {got}")
        if param.dtype.kind != "f" or not param.flags.writeable:
            raise ValueError(f"sgd_update: {name} must be a writeable floating-point array to update in place; "
                             f"got {param.dtype}{'' if param.flags.writeable else ', read-only'}")
    lr = np.asarray(lr, dtype=params["C"].dtype)  # a 0-d array multiplies with half a Python float's overhead
    for name in PARAM_NAMES:
        param = params[name]
        param -= lr * grads[f"d{name}"]
