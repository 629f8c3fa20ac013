"""Exercise 4: the full manual training step of In [33], fast enough to train with.

`forward_train` is the fused forward (batchnorm from the batch mean and Bessel-corrected variance, a
log-sum-exp cross-entropy); `step_grads` adds the fused backward of Exercises 2 and 3; `sgd_update` applies
the gradients in place. `Trainer` runs forward, backward and update on parameters packed into one flat
array, so the update is a single subtraction: the fastest way to train here. Everything stays in the
parameters' dtype (float32 in training). Products are np.dot rather than @: the same BLAS call, with
half a microsecond less overhead, which is a tenth of a product's time at the lecture's sizes.
"""

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from manual._common import (
    BN_EPS,
    PARAM_NAMES,
    batch_summer,
    check_batch,
    check_model,
    check_params,
    constant,
    index_error,
)
from manual.embedding import scatter_rows
from manual.fused import cross_entropy, dlogits_from_probs, label_positions


class ForwardCache(NamedTuple):
    """What the backward pass needs from `forward_train` (plus the batch statistics for running averages)."""

    embdiff: NDArray  # (n, block_size*n_embd) embcat minus its batch mean
    embcat_mean: NDArray  # (1, block_size*n_embd) batch mean of embcat; bnmean = embcat_mean @ W1 + b1
    bndiff: NDArray  # (n, n_hidden) hprebn - bnmean
    bnvar: NDArray  # (1, n_hidden) Bessel-corrected batch variance of hprebn
    bnvar_inv: NDArray  # (1, n_hidden) (bnvar + eps)**-0.5
    bnscale: NDArray  # (1, n_hidden) bngain * bnvar_inv, so hpreact = bndiff * bnscale + bnbias
    h: NDArray  # (n, n_hidden) tanh activations
    probs: NDArray  # (n, vocab_size) softmax(logits)
    at: NDArray  # (n,) flat positions of the labels in an (n, vocab_size) array (label_positions)


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
    check_model(params, Xb, Yb, "forward_train")
    return _forward(params, Xb, Yb, "forward_train")


def _forward(params: Mapping[str, NDArray], Xb: NDArray, Yb: NDArray, where: str) -> tuple[float, ForwardCache]:
    """`forward_train` for inputs already checked, but for Xb's values: an index outside C raises here."""
    n = Xb.shape[0]
    C = params["C"]
    try:
        emb = C.take(Xb, axis=0)  # (n, block_size, n_embd); C[Xb] without fancy indexing's overhead
    except IndexError:
        raise index_error(Xb, C.shape[0], where) from None
    embcat = emb.reshape(n, -1)  # (n, block_size*n_embd)
    # hprebn = embcat @ W1 + b1 is only ever seen minus its batch mean, and the mean commutes with the linear
    # layer: bndiff = hprebn - bnmean = (embcat - embcat's batch mean) @ W1. Centring embcat's
    # block_size*n_embd columns costs less than centring hprebn's n_hidden ones, and b1 drops out.
    embcat_mean = batch_summer(n, C.dtype, 1 / n)(embcat)  # (1, block_size*n_embd)
    embdiff = embcat - embcat_mean  # (n, block_size*n_embd)
    bndiff = np.dot(embdiff, params["W1"])  # (n, n_hidden)
    bndiff2 = bndiff * bndiff  # (n, n_hidden)
    # a sum rather than .var(ddof=1), which takes 3x as long at this size
    bnvar = batch_summer(n, C.dtype, 1 / (n - 1))(bndiff2)  # (1, n_hidden); Bessel's correction
    bnvar_inv = np.add(bnvar, constant(BN_EPS, C.dtype))  # (1, n_hidden)
    np.sqrt(bnvar_inv, out=bnvar_inv)
    np.reciprocal(bnvar_inv, out=bnvar_inv)  # (bnvar + eps)**-0.5, which NumPy's power computes 1.5x slower
    # hpreact = bngain * bnraw + bnbias with bnraw = bndiff * bnvar_inv: one pass over (n, n_hidden) fewer
    bnscale = params["bngain"] * bnvar_inv  # (1, n_hidden)
    hpreact = np.multiply(bndiff, bnscale, out=bndiff2)  # (n, n_hidden); in bndiff2's memory, read above
    hpreact += params["bnbias"]
    h = np.tanh(hpreact, out=hpreact)  # (n, n_hidden)
    logits = np.dot(h, params["W2"])  # (n, vocab)
    logits += params["b2"]
    at = label_positions(logits.shape, Yb)  # (n,) flat positions of logits[i, Yb[i]]
    loss, probs = cross_entropy(logits, at)  # logits become norm_logits
    return loss, ForwardCache(embdiff, embcat_mean, bndiff, bnvar, bnvar_inv, bnscale, h, probs, at)


def _backward(
    params: Mapping[str, NDArray], cache: ForwardCache, Xb: NDArray, Yb: NDArray, grads: Mapping[str, NDArray]
) -> None:
    """The fused backward pass of In [33], writing d loss / d every parameter into grads['dC'], ...

    logits = h @ W2 + b2; h = tanh(hpreact) so dhpreact = (1 - h**2) * dh; hpreact = bngain * bnraw + bnbias
    (Exercise 3's batchnorm backward); hprebn = embcat @ W1 + b1; embcat = emb.reshape(n, -1); emb = C[Xb].
    Inputs already checked. It reuses the cache's arrays for gradients: the cache is spent afterwards.
    """
    W1, W2 = params["W1"], params["W2"]
    embdiff, _, bndiff, _, bnvar_inv, bnscale, h, probs, at = cache
    n, dtype = Xb.shape[0], W1.dtype
    dlogits = dlogits_from_probs(probs, at)  # (n, vocab)
    dh = np.dot(dlogits, W2.T)  # (n, n_hidden)
    np.dot(h.T, dlogits, out=grads["dW2"])  # (n_hidden, vocab)
    sum_rows = batch_summer(n, dtype)  # x -> x.sum(0, keepdims=True)
    sum_rows(dlogits, out=grads["db2"].reshape(1, -1))  # (vocab,)
    dhpreact = np.multiply(h, h, out=h)  # (n, n_hidden); in h's memory, read for the last time above
    np.subtract(constant(1.0, dtype), dhpreact, out=dhpreact)
    dhpreact *= dh  # (1 - h**2) * dh; dh is read for the last time
    dbnbias = sum_rows(dhpreact, out=grads["dbnbias"])  # (1, n_hidden)
    bndiff_dhpreact = np.multiply(bndiff, dhpreact, out=dh)  # (n, n_hidden), in dh's memory
    dbngain = sum_rows(bndiff_dhpreact, out=grads["dbngain"])  # (1, n_hidden)
    dbngain *= bnvar_inv  # sum_i bnraw * dhpreact, as bnraw = bndiff * bnvar_inv
    # Exercise 3: dhprebn = bnscale * (dhpreact - dbnbias/n - bndiff * bnvar_inv*dbngain/(n-1)), as
    # bnraw = bndiff * bnvar_inv. Built in dhpreact's memory; bndiff's is free for the scaled copy.
    inv_n, inv_n1 = constant(1 / n, dtype), constant(1 / (n - 1), dtype)
    dhprebn = np.subtract(dhpreact, dbnbias * inv_n, out=dhpreact)  # (n, n_hidden)
    dhprebn -= np.multiply(bndiff, bnvar_inv * dbngain * inv_n1, out=bndiff)
    dhprebn *= bnscale
    # The rows of embdiff sum to zero, so dW1 = embcat.T @ dhprebn = embdiff.T @ dhprebn; db1 = sum_i dhprebn
    # = 0 exactly (b1 cancels in the batch mean).
    np.dot(embdiff.T, dhprebn, out=grads["dW1"])  # (block_size*n_embd, n_hidden)
    grads["db1"].fill(0)  # (n_hidden,)
    dembcat = np.dot(dhprebn, W1.T)  # (n, block_size*n_embd)
    demb = dembcat.reshape(*Xb.shape, -1)  # (n, block_size, n_embd)
    scatter_rows(demb, Xb, params["C"].shape[0], out=grads["dC"])  # (vocab, n_embd); dC[v] sums demb where Xb == v


def step_grads(params: Mapping[str, NDArray], Xb: NDArray, Yb: NDArray) -> StepResult:
    """Loss and d loss / d every parameter for one batch: `forward_train`, then the fused backward pass."""
    Xb, Yb = np.asarray(Xb), np.asarray(Yb)
    check_model(params, Xb, Yb, "step_grads")
    loss, cache = _forward(params, Xb, Yb, "step_grads")
    # C-ordered and in native byte order, whatever the parameters' layout: np.dot writes into them
    grads = {f"d{name}": np.empty(params[name].shape, params[name].dtype.newbyteorder("=")) for name in PARAM_NAMES}
    _backward(params, cache, Xb, Yb, grads)
    bnmean = cache.embcat_mean @ params["W1"] + params["b1"]  # (1, n_hidden); the batch mean of hprebn
    return StepResult(loss, grads, bnmean, cache.bnvar)


_REAL_TYPES = (float, int, np.floating, np.integer)  # a tuple, not a union built on every call


def _check_lr(lr: float, where: str) -> None:
    if not isinstance(lr, _REAL_TYPES) or not math.isfinite(lr):
        raise ValueError(f"{where}: the learning rate must be a finite real number; got {lr!r}")


def sgd_update(params: Mapping[str, NDArray], grads: Mapping[str, NDArray], lr: float) -> None:
    """p -= lr * dp for every parameter, in place (so the arrays keep their identity and dtype).

    The parameters are checked as a model (`check_params`: one floating dtype, shapes that fit together),
    and every gradient before any parameter changes, so a bad one leaves the model as it was.
    """
    _check_lr(lr, "sgd_update")
    check_params(params, "sgd_update")
    if not isinstance(grads, Mapping):
        raise TypeError(f"sgd_update: grads must be a mapping 'd' + name -> array, got {type(grads).__name__}")
    for name in PARAM_NAMES:
        param, grad = params[name], grads.get(f"d{name}")
        if type(grad) is not np.ndarray or grad.shape != param.shape or grad.dtype.kind != "f":
            got = f"{grad.dtype} {grad.shape}" if isinstance(grad, np.ndarray) else type(grad).__name__
            raise ValueError(f"sgd_update: d{name} must be a floating-point array of {name}'s shape {param.shape}; "
                             f"got {got}")
        if not param.flags.writeable:
            raise ValueError(f"sgd_update: {name} is read-only; it must be writeable to update in place")
    lr = constant(float(lr), params["C"].dtype)  # a 0-d array multiplies with half a Python float's overhead
    for name in PARAM_NAMES:
        param = params[name]
        param -= lr * grads[f"d{name}"]


class Trainer:
    """The training loop's body at full speed: `trainer.step(Xb, Yb, lr)` is forward, backward, update.

    The parameters are copied into one flat array `theta`, and `params` maps each name to a view of its
    slice; the gradients fill views (`grads`, 'dC', ...) of one flat array `grad` laid out the same way,
    so SGD, theta -= lr * grad, is one pass over memory rather than seven. The parameters are checked once,
    here; each step checks only its batch. The gradients stay readable in `grads` until the next step.
    """

    def __init__(self, params: Mapping[str, NDArray]) -> None:
        self.dims = check_params(params, "Trainer")
        sizes = [params[name].size for name in PARAM_NAMES]
        offsets = np.cumsum([0, *sizes]).tolist()
        dtype = params["C"].dtype.newbyteorder("=")  # native byte order: np.dot writes the gradients into views
        self.theta = np.empty(offsets[-1], dtype)  # every parameter, flattened one after another
        self.grad = np.zeros_like(self.theta)  # d loss / d theta, the same layout
        self.params: dict[str, NDArray] = {}
        self.grads: dict[str, NDArray] = {}
        for name, start, stop in zip(PARAM_NAMES, offsets[:-1], offsets[1:], strict=True):
            shape = params[name].shape
            self.params[name] = self.theta[start:stop].reshape(shape)
            self.params[name][...] = params[name]
            self.grads[f"d{name}"] = self.grad[start:stop].reshape(shape)

    def step(self, Xb: NDArray, Yb: NDArray, lr: float) -> float:
        """One SGD step on the batch (Xb (n, block_size) indices, Yb (n,) labels); returns its loss (before)."""
        Xb, Yb = np.asarray(Xb), np.asarray(Yb)
        _check_lr(lr, "Trainer.step")
        _, block_size = check_batch(Xb, Yb, self.dims.vocab_size, "Trainer.step")
        if block_size != self.dims.block_size:
            raise ValueError(f"Trainer.step: Xb has {block_size} columns, but W1 takes block_size = "
                             f"{self.dims.block_size} characters")
        loss, cache = _forward(self.params, Xb, Yb, "Trainer.step")
        _backward(self.params, cache, Xb, Yb, self.grads)
        self.theta -= np.multiply(self.grad, constant(float(lr), self.theta.dtype))
        return loss
