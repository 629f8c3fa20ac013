"""The makemore MLP of the lecture, written once against the torch-like API.

`init_params` draws the parameters with the seed notebook's deliberately non-standard scales
from one seeded NumPy generator; `to_backend` copies them into engine or torch tensors, so
every backend sees identical numbers. `forward_chunked` is In [27]'s step-by-step forward
(every intermediate named as in the lecture), `forward_train` In [33]'s fused one, and
`forward_eval` In [36]'s with calibrated batchnorm statistics. Each takes the namespace
(`engine` or `torch`, and its `functional`), so the same lines run on every backend.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

PARAM_NAMES = ("C", "W1", "b1", "W2", "b2", "bngain", "bnbias")
BN_EPS = 1e-5
# the intermediates of forward_chunked, in forward order
INTERMEDIATES = ("emb", "embcat", "hprebn", "bnmeani", "bndiff", "bndiff2", "bnvar", "bnvar_inv", "bnraw",
                 "hpreact", "h", "logits", "logit_maxes", "norm_logits", "counts", "counts_sum",
                 "counts_sum_inv", "probs", "logprobs", "loss")


@dataclass(frozen=True)
class Config:
    """Hyperparameters; the defaults are the seed notebook's (In [33])."""

    n_embd: int = 10  # embedding dimension of a character
    n_hidden: int = 200  # hidden units of the batchnormed tanh layer
    block_size: int = 3  # characters of context
    batch_size: int = 32  # examples per step (batchnorm needs at least 2)
    steps: int = 200_000  # training steps
    lr: float = 0.1  # learning rate before the decay
    lr_final: float = 0.01  # learning rate after the decay
    decay_at: float = 0.5  # fraction of the steps after which lr_final applies
    seed: int = 2147483647  # seeds initialisation and batch sampling (the notebook's generator seed)
    dtype: str = "float32"  # float32 (as the lecture) or float64

    def __post_init__(self) -> None:
        for field in ("n_embd", "n_hidden", "block_size", "batch_size", "steps", "seed", "lr", "lr_final", "decay_at"):
            value, integral = getattr(self, field), field not in ("lr", "lr_final", "decay_at")
            if isinstance(value, bool) or not isinstance(value, numbers.Integral if integral else numbers.Real):
                raise TypeError(f"config: {field} must be {'an integer' if integral else 'a number'}, got "
                                f"{type(value).__name__} {value!r}")
            # NumPy scalars become Python ones, which to_dict's JSON (and so a checkpoint) can hold
            object.__setattr__(self, field, int(value) if integral else float(value))
        for field in ("n_embd", "n_hidden", "block_size", "steps"):
            if getattr(self, field) < 1:
                raise ValueError(f"config: {field} must be a positive integer, got {getattr(self, field)}")
        if self.seed < 0:
            raise ValueError(f"config: seed must be a non-negative integer (as NumPy's generators), got {self.seed}")
        if self.batch_size < 2:
            raise ValueError(
                f"config: batch_size must be at least 2, got {self.batch_size} — batchnorm's Bessel-corrected "
                "variance divides by batch_size - 1"
            )
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"config: dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not (0 < self.lr < math.inf and 0 < self.lr_final < math.inf and 0 <= self.decay_at <= 1):
            raise ValueError(f"config: lr and lr_final must be positive and finite and decay_at in [0, 1], got "
                             f"lr={self.lr}, lr_final={self.lr_final}, decay_at={self.decay_at}")

    def lr_at(self, step: int) -> float:
        """The lecture's schedule: lr, then lr_final from step decay_at * steps on."""
        return self.lr if step < self.decay_at * self.steps else self.lr_final

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def init_params(vocab_size: int, cfg: Config, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The seed's initialisation (In [25]), deliberately non-standard so a wrong backward cannot hide.

    C ~ N(0,1); W1 ~ N(0,1)·(5/3)/sqrt(n_embd·block_size) (Kaiming for tanh); b1, W2, b2 ~ N(0,1)·0.1;
    bngain ~ N(0,1)·0.1 + 1; bnbias ~ N(0,1)·0.1. b1 is useless under batchnorm; it is kept to show
    that its gradient is zero.
    """
    fan_in = cfg.n_embd * cfg.block_size
    dt = np.dtype(cfg.dtype)

    def randn(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    params = {
        "C": randn(vocab_size, cfg.n_embd),
        "W1": randn(fan_in, cfg.n_hidden) * (5 / 3) / fan_in**0.5,
        "b1": randn(cfg.n_hidden) * 0.1,
        "W2": randn(cfg.n_hidden, vocab_size) * 0.1,
        "b2": randn(vocab_size) * 0.1,
        "bngain": randn(1, cfg.n_hidden) * 0.1 + 1.0,
        "bnbias": randn(1, cfg.n_hidden) * 0.1,
    }
    return {name: p.astype(dt) for name, p in params.items()}


def to_backend(arrays: dict[str, np.ndarray], ns, requires_grad: bool = True) -> dict[str, Any]:
    """Copies of NumPy arrays as leaf tensors of namespace `ns` (`engine` or `torch`)."""
    return {name: ns.tensor(np.array(a), requires_grad=requires_grad) for name, a in arrays.items()}


def _batch_size(Xb) -> int:
    n = Xb.shape[0]
    if n < 2:
        raise ValueError(
            f"batchnorm needs a batch of at least 2 examples, got {n}: the Bessel-corrected variance "
            "divides by n - 1 = 0"
        )
    return n


def forward_chunked(ns, P: dict, Xb, Yb) -> dict[str, Any]:
    """In [27]: the forward pass in small steps, every intermediate kept under the lecture's name.

    `ns` is `engine` or `torch`; `P` maps PARAM_NAMES to its tensors; Xb (n, block_size), Yb (n,).
    The loss is cross-entropy written out (max-subtracted softmax, log, pick, mean).
    """
    n = _batch_size(Xb)
    emb = P["C"][Xb]  # (n, block_size, n_embd)
    embcat = emb.view(emb.shape[0], -1)  # (n, block_size*n_embd)
    hprebn = embcat @ P["W1"] + P["b1"]  # (n, n_hidden)
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)  # (1, n_hidden)
    bndiff = hprebn - bnmeani  # (n, n_hidden)
    bndiff2 = bndiff**2  # (n, n_hidden)
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)  # (1, n_hidden), Bessel's correction
    bnvar_inv = (bnvar + BN_EPS) ** -0.5  # (1, n_hidden)
    bnraw = bndiff * bnvar_inv  # (n, n_hidden)
    hpreact = P["bngain"] * bnraw + P["bnbias"]  # (n, n_hidden)
    h = ns.tanh(hpreact)  # (n, n_hidden)
    logits = h @ P["W2"] + P["b2"]  # (n, vocab)
    logit_maxes = logits.max(1, keepdim=True).values  # (n, 1), for numerical stability only
    norm_logits = logits - logit_maxes  # (n, vocab)
    counts = norm_logits.exp()  # (n, vocab)
    counts_sum = counts.sum(1, keepdim=True)  # (n, 1)
    counts_sum_inv = counts_sum**-1  # (n, 1)
    probs = counts * counts_sum_inv  # (n, vocab)
    logprobs = probs.log()  # (n, vocab)
    loss = -logprobs[ns.arange(n), Yb].mean()  # ()
    return dict(emb=emb, embcat=embcat, hprebn=hprebn, bnmeani=bnmeani, bndiff=bndiff, bndiff2=bndiff2,
                bnvar=bnvar, bnvar_inv=bnvar_inv, bnraw=bnraw, hpreact=hpreact, h=h, logits=logits,
                logit_maxes=logit_maxes, norm_logits=norm_logits, counts=counts, counts_sum=counts_sum,
                counts_sum_inv=counts_sum_inv, probs=probs, logprobs=logprobs, loss=loss)


def batchnorm_train(F, hprebn, bngain, bnbias):
    """In [33]'s batchnorm: batch mean and Bessel-corrected variance, then gain and bias.

    The engine has it as one fused op (`F.batch_norm_train`, Exercise 3's backward); elsewhere (torch,
    whose F.batch_norm uses the biased variance) it is the lecture's lines. Tests hold the two equal.
    """
    if hasattr(F, "batch_norm_train"):
        return F.batch_norm_train(hprebn, bngain, bnbias, BN_EPS)
    bnmean = hprebn.mean(0, keepdim=True)  # (1, n_hidden)
    bnvar = hprebn.var(0, keepdim=True, unbiased=True)  # (1, n_hidden)
    bnvar_inv = (bnvar + BN_EPS) ** -0.5  # (1, n_hidden)
    return bngain * ((hprebn - bnmean) * bnvar_inv) + bnbias  # (n, n_hidden)


def forward_train(ns, F, P: dict, Xb, Yb):
    """In [33]: the training forward with fused batchnorm statistics and F.cross_entropy; returns the loss.

    The two linear layers are `addmm` (input + mat1 @ mat2, one op in torch and the engine).
    """
    _batch_size(Xb)
    emb = P["C"][Xb]  # (n, block_size, n_embd)
    embcat = emb.view(emb.shape[0], -1)  # (n, block_size*n_embd)
    hprebn = ns.addmm(P["b1"], embcat, P["W1"])  # (n, n_hidden): embcat @ W1 + b1 as one op
    hpreact = batchnorm_train(F, hprebn, P["bngain"], P["bnbias"])  # (n, n_hidden)
    h = ns.tanh(hpreact)  # (n, n_hidden)
    logits = ns.addmm(P["b2"], h, P["W2"])  # (n, vocab): h @ W2 + b2
    return F.cross_entropy(logits, Yb)


def preactivations(P: dict, X):
    """hprebn = C[X] flattened @ W1 + b1 for inputs X (N, block_size): what batchnorm normalises."""
    emb = P["C"][X]  # (N, block_size, n_embd)
    return emb.view(emb.shape[0], -1) @ P["W1"] + P["b1"]  # (N, n_hidden)


def forward_eval(ns, P: dict, bnmean, bnvar, X):
    """In [36]: logits with batchnorm in eval mode, using the calibrated statistics (no batch needed)."""
    hpreact = P["bngain"] * (preactivations(P, X) - bnmean) * (bnvar + BN_EPS) ** -0.5 + P["bnbias"]
    return ns.tanh(hpreact) @ P["W2"] + P["b2"]  # (N, vocab)


def calibrate(P: dict, X, chunk: int = 32768):
    """In [35]: batchnorm mean and Bessel-corrected variance of hprebn over the whole set X.

    Two passes over `chunk` rows at a time (the mean, then the squared deviations from it), summed in
    float64, so the whole set's activations (182,625 x n_hidden for names.txt) never sit in memory at once.
    """
    n, starts = X.shape[0], range(0, X.shape[0], chunk)
    mean = sum(preactivations(P, X[s:s + chunk]).double().sum(0, keepdim=True) for s in starts) / n
    sq = sum(((preactivations(P, X[s:s + chunk]).double() - mean) ** 2).sum(0, keepdim=True) for s in starts)
    dtype = P["W1"].dtype
    return mean.to(dtype), (sq / (n - 1)).to(dtype)
