"""Sampling names from a trained makemore MLP (the lecture's sampling loop, batchnorm in eval mode).

`sample` starts every name from the context '.'*block_size, draws the next character from the softmax
of `mlp.forward_eval`'s logits (calibrated batchnorm statistics, engine under no_grad) with a seeded
NumPy generator, and stops at '.' or after max_len characters. All n names are drawn in parallel, one
batched forward pass per character position.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

import engine

from .checkpoint import check_shapes
from .data import Vocab
from .mlp import PARAM_NAMES, Config, forward_eval, to_backend

DEFAULT_MAX_LEN = 50


class Model(Protocol):
    """Anything holding a trained model: a `Checkpoint` or a `TrainResult`."""

    params: Mapping[str, np.ndarray]
    bnmean: np.ndarray
    bnvar: np.ndarray
    vocab: Vocab


ModelParts = tuple[Mapping[str, np.ndarray], np.ndarray, np.ndarray, Vocab]


def _unpack(model: Model | ModelParts) -> ModelParts:
    if isinstance(model, tuple):
        if len(model) != 4:
            raise TypeError(f"sample: expected (params, bnmean, bnvar, vocab), got a tuple of {len(model)} items")
        return model
    try:
        return model.params, model.bnmean, model.bnvar, model.vocab
    except AttributeError:
        raise TypeError(
            f"sample: expected a Checkpoint, a TrainResult or a tuple (params, bnmean, bnvar, vocab), "
            f"got {type(model).__name__}"
        ) from None


def sample(
    ckpt_or_parts: Model | ModelParts,
    n: int = 20,
    seed: int | None = None,
    max_len: int = DEFAULT_MAX_LEN,
) -> list[str]:
    """n names sampled from the model: each starts from '.'*block_size and ends before '.' or at max_len.

    `ckpt_or_parts` is a Checkpoint, a TrainResult (anything with params, bnmean, bnvar and vocab) or the
    tuple (params, bnmean, bnvar, vocab), whose every array must have the shape C and W1 imply (ValueError
    naming the array otherwise). The next character of every unfinished name is drawn from
    softmax(logits) by inverse-CDF sampling with `np.random.default_rng(seed)`, one uniform number per
    name per position (finished names included), so a given (model, n, seed, max_len) always gives the
    same names; seed=None draws fresh entropy. The names never contain '.', may be empty (the model
    chose '.' first) and have at most max_len characters.
    """
    params, bnmean, bnvar, vocab = _unpack(ckpt_or_parts)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"sample: n must be a non-negative integer, got {n!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0):
        raise ValueError(f"sample: seed must be a non-negative integer or None, got {seed!r}")
    if isinstance(max_len, bool) or not isinstance(max_len, int | np.integer) or max_len < 1:
        raise ValueError(f"sample: max_len must be a positive integer, got {max_len!r}")
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise ValueError(f"sample: params is missing {missing}")
    arrays = {**{name: np.asarray(params[name]) for name in PARAM_NAMES}, "bnmean": np.asarray(bnmean),
              "bnvar": np.asarray(bnvar)}
    C, W1 = arrays["C"], arrays["W1"]
    if C.ndim != 2 or W1.ndim != 2 or C.shape[1] == 0:
        raise ValueError(f"sample: C and W1 must be (vocab size, n_embd) and (block_size * n_embd, n_hidden) "
                         f"matrices, got shapes {C.shape} and {W1.shape}")
    if C.shape[0] != vocab.size:
        raise ValueError(f"sample: C has {C.shape[0]} rows but the vocabulary has {vocab.size} symbols")
    if W1.shape[0] % C.shape[1]:
        raise ValueError(f"sample: W1 has {W1.shape[0]} rows, not a multiple of n_embd={C.shape[1]}")
    block_size = W1.shape[0] // C.shape[1]
    try:
        sizes = Config(n_embd=C.shape[1], n_hidden=W1.shape[1], block_size=block_size)
    except ValueError as e:
        raise ValueError(f"sample: C {C.shape} and W1 {W1.shape} make no model ({e})") from None
    check_shapes(arrays, sizes, vocab, "sample")  # the other five parameters and the batchnorm statistics

    rng = np.random.default_rng(seed)
    P = to_backend({name: arrays[name] for name in PARAM_NAMES}, engine, requires_grad=False)
    mean_t, var_t = engine.tensor(arrays["bnmean"]), engine.tensor(arrays["bnvar"])
    context = np.zeros((n, block_size), dtype=np.int64)  # (n, block_size), all '.'
    out = np.zeros((n, max_len), dtype=np.int64)  # (n, max_len), 0 = '.' = nothing written
    length = np.full(n, max_len, dtype=np.int64)  # (n,) characters before the first '.'
    alive = np.ones(n, dtype=bool)  # (n,)
    with engine.no_grad():
        for t in range(max_len):
            if not alive.any():
                break
            logits = forward_eval(engine, P, mean_t, var_t, context).data.astype(np.float64)  # (n, V)
            if not np.isfinite(logits[alive]).all():
                raise ValueError("sample: the model's logits are not finite (NaN or inf); did training diverge?")
            ix = _draw(logits, rng.random(n))  # (n,)
            stopped = alive & (ix == 0)
            length[stopped] = t
            alive &= ~stopped
            out[alive, t] = ix[alive]
            context = np.concatenate([context[:, 1:], ix[:, None]], axis=1)  # (n, block_size)
    return [vocab.decode(row[:k]) for row, k in zip(out, length)]


def _draw(logits: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One index per row from softmax(logits) by inverse CDF: the first k with cdf[k] > u (u in [0, 1))."""
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))  # (n, V), max subtracted so exp cannot overflow
    cdf = np.cumsum(probs, axis=1)  # (n, V)
    # scale u by the row total instead of normalising the cdf, so rounding can never leave u above cdf[-1]
    return (cdf <= (u * cdf[:, -1])[:, None]).sum(axis=1).clip(max=logits.shape[1] - 1)

