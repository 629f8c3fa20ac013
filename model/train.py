"""Training the makemore MLP (In [33]-[36]) on any of the three backends, with identical numbers in.

`train` runs minibatch SGD with the manual NumPy backward (`manual`), the engine's autograd (`engine`)
or PyTorch's (`torch`): one seeded initialisation and one seeded stream of batch indices shared by all
three, so their loss curves can be laid on top of each other. It then calibrates batchnorm over the
training set (In [35]) and reports the train/val/test loss (In [36]). `train_side_by_side` trains
several backends in one process, taking turns, so that their training times can be compared on a
machine whose speed wanders. `plot_losses` draws the lecture's log10-loss curve to a PNG.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import engine
import manual

from .checkpoint import Checkpoint
from .data import Splits, Vocab, min_words
from .files import atomic_write
from .mlp import PARAM_NAMES, Config, calibrate, forward_eval, forward_train, init_params, to_backend

BACKENDS = ("manual", "engine", "torch")
BATCH_CHUNK = 10_000  # steps of batch indices drawn (and gathered) at once
POSTFIX_EVERY = 500  # steps between progress-bar updates (tqdm's own per-step cost is not free)
EVAL_CHUNK = 32_768  # rows per forward pass when computing a split's loss, to bound memory
PLOT_CHUNK = 1_000  # the lecture averages log10 loss over 1,000 steps per point
PLOT_MIN_POINTS = 50  # shorter runs use smaller chunks so the curve still has this many points

StepFn = Callable[[np.ndarray, np.ndarray, float], float]


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced: final weights, its loss curve and the calibrated model's losses."""

    params: dict[str, np.ndarray]  # PARAM_NAMES -> final NumPy arrays, in cfg.dtype
    losses: np.ndarray  # (steps,) float64: the minibatch loss of every step, before that step's update
    bnmean: np.ndarray  # (1, n_hidden) batchnorm mean of hprebn over the whole training set (In [35])
    bnvar: np.ndarray  # (1, n_hidden) its Bessel-corrected variance
    split_losses: dict[str, float]  # 'train', 'val', 'test' -> mean cross-entropy in eval mode (In [36])
    seconds: float  # wall time of the training loop alone (no calibration or evaluation)
    backend: str  # 'manual', 'engine' or 'torch'
    steps: int  # optimisation steps taken
    cfg: Config  # the configuration trained with
    vocab: Vocab  # the vocabulary the model reads and writes

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps

    def checkpoint(self, vocab: Vocab | None = None, cfg: Config | None = None,
                   extra: dict[str, Any] | None = None) -> Checkpoint:
        """This run as an in-memory `Checkpoint` (what `save_checkpoint` would write and load give back).

        `vocab` and `cfg` default to the run's own; passing others is a ValueError, not a silent mix.
        """
        for name, given, own in (("vocab", vocab, self.vocab), ("cfg", cfg, self.cfg)):
            if given is not None and given != own:
                raise ValueError(f"TrainResult.checkpoint: {name} differs from the one this run trained with")
        return Checkpoint(dict(self.params), self.bnmean, self.bnvar, self.vocab, self.cfg, dict(extra or {}))


def batch_indices(cfg: Config, n_train: int) -> Iterator[np.ndarray]:
    """The rows of every batch, BATCH_CHUNK steps at a time: arrays of shape (chunk, batch_size), int64.

    Drawn from their own generator, `np.random.default_rng([cfg.seed, 1])`, independent of the one that
    initialises the parameters, so every backend sees the same batches; cfg.steps rows in total.
    """
    if n_train < 1:
        raise ValueError("train: the training set is empty")
    rng = np.random.default_rng([cfg.seed, 1])
    for start in range(0, cfg.steps, BATCH_CHUNK):
        yield rng.integers(0, n_train, size=(min(BATCH_CHUNK, cfg.steps - start), cfg.batch_size))


def train(
    splits: Splits,
    cfg: Config,
    backend: str = "manual",
    progress: bool = True,
    log_every: int = 10_000,
    print_fn: Callable[[str], None] | None = print,
    torch_threads: int | None = None,
) -> TrainResult:
    """Train for cfg.steps steps of SGD on batches of cfg.batch_size from splits.Xtr/Ytr; see TrainResult.

    Parameters come from `init_params(vocab_size, cfg, np.random.default_rng(cfg.seed))`, batches from
    `batch_indices`, the learning rate from `cfg.lr_at(step)`; everything stays in cfg.dtype. The loss
    is printed through `print_fn` every `log_every` steps as in the lecture (0 or print_fn=None: never;
    with the progress bar on, the default `print` goes through tqdm.write so the bar is not broken).
    A loss that turns NaN or infinite (the run diverged) is a ValueError naming the step.
    The torch backend leaves torch's intra-op thread count alone unless `torch_threads` is given, in which
    case it is set for the run and restored afterwards. For this tiny model (32x200 matmuls) threads buy
    nothing, and on a busy machine torch's spinning worker threads can make a step ten times slower than
    with torch_threads=1.
    """
    evaluated = _check_run("train", splits, cfg, (backend,), torch_threads)
    params = init_params(splits.vocab.size, cfg, np.random.default_rng(cfg.seed))
    losses = np.empty(cfg.steps, dtype=np.float64)
    with _torch_threads(backend == "torch", torch_threads):
        step, final = _BACKEND_STEPS[backend](params)
        seconds = _run(step, _turns(splits, cfg, BATCH_CHUNK), cfg, losses, backend, progress, log_every, print_fn)
        params = final()
    return _result(params, losses, seconds, backend, splits, cfg, evaluated)


def train_side_by_side(
    splits: Splits,
    cfg: Config,
    backends: Sequence[str],
    turn_steps: int = 1_000,
    log_every: int = 10_000,
    print_fn: Callable[[str], None] | None = print,
    torch_threads: int | None = None,
) -> dict[str, TrainResult]:
    """Train several backends in one process, taking turns every `turn_steps` steps; backend -> TrainResult.

    Each backend runs what `train` runs (the same init, batches and schedule, so the same losses and
    weights, bit for bit), but backend A's steps 0..turn_steps-1, then B's, then A's next turn, and so on
    (a turn also ends where a chunk of BATCH_CHUNK batches does, so no turn is longer than that).
    Each `seconds` adds up that backend's turns alone. Every backend then meets the machine's slow and
    fast spells alike, so the ratio of their training times holds on a machine whose speed wanders over
    minutes, where separate runs' would not. `print_fn` gets every backend's loss every `log_every` steps.
    """
    if isinstance(backends, str):
        raise ValueError(f"train_side_by_side: backends must be a list of names, e.g. ['manual', 'torch']; "
                         f"got the string {backends!r} (use train() for one backend)")
    backends = tuple(backends)
    evaluated = _check_run("train_side_by_side", splits, cfg, backends, torch_threads)
    if isinstance(turn_steps, bool) or not isinstance(turn_steps, int) or turn_steps < 1:
        raise ValueError(f"train_side_by_side: turn_steps must be a positive integer, got {turn_steps!r}")
    losses = {name: np.empty(cfg.steps, dtype=np.float64) for name in backends}
    seconds = dict.fromkeys(backends, 0.0)
    with _torch_threads("torch" in backends, torch_threads):
        runs = {name: _BACKEND_STEPS[name](init_params(splits.vocab.size, cfg, np.random.default_rng(cfg.seed)))
                for name in backends}
        for turn in _turns(splits, cfg, turn_steps):
            for name, (step, _) in runs.items():
                seconds[name] += _run(step, (turn,), cfg, losses[name], name, False, 0, None)
            first, Xc, _ = turn
            if log_every and print_fn is not None:
                for i in range(-(-first // log_every) * log_every, first + Xc.shape[0], log_every):  # in this turn
                    each = "  ".join(f"{name} {losses[name][i]:.4f}" for name in backends)
                    print_fn(f"{i:7d}/{cfg.steps:7d}: {each}")
        params = {name: final() for name, (_, final) in runs.items()}
    return {name: _result(params[name], losses[name], seconds[name], name, splits, cfg, evaluated) for name in backends}


def _check_run(where: str, splits: Splits, cfg: Config, backends: tuple[str, ...],
               torch_threads: int | None) -> tuple[tuple[str, np.ndarray, np.ndarray], ...]:
    """Refuse what would make a run fail or mislead; return the splits it evaluates (see `_evaluated`)."""
    if not backends:
        raise ValueError(f"{where}: no backend given; choose from {', '.join(BACKENDS)}")
    for backend in backends:
        if backend not in BACKENDS:
            raise ValueError(f"{where}: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if len(set(backends)) != len(backends):
        raise ValueError(f"{where}: a backend is listed twice in {list(backends)}")
    if splits.block_size != cfg.block_size:
        raise ValueError(
            f"{where}: the splits were built with block_size={splits.block_size} but cfg.block_size="
            f"{cfg.block_size}; rebuild them with build_splits(words, block_size={cfg.block_size})"
        )
    if torch_threads is not None and torch_threads < 1:
        raise ValueError(f"{where}: torch_threads must be a positive integer or None, got {torch_threads}")
    evaluated = _evaluated(splits)
    if empty := [name for name, _, Y in evaluated if len(Y) == 0]:
        raise ValueError(
            f"{where}: the {' and '.join(empty)} split has no examples; training evaluates the train, val and test "
            f"splits, so build them from at least {min_words()} words"
        )
    return evaluated


def _result(params: dict[str, np.ndarray], losses: np.ndarray, seconds: float, backend: str, splits: Splits,
            cfg: Config, evaluated: tuple[tuple[str, np.ndarray, np.ndarray], ...]) -> TrainResult:
    """A finished run's TrainResult: batchnorm calibrated over the training set (In [35]), then the split losses."""
    bnmean, bnvar = calibrate_bn(params, splits.Xtr)
    split_losses = {name: split_loss(params, bnmean, bnvar, X, Y) for name, X, Y in evaluated}
    return TrainResult(params, losses, bnmean, bnvar, split_losses, seconds, backend, cfg.steps, cfg, splits.vocab)


def _evaluated(splits: Splits) -> tuple[tuple[str, np.ndarray, np.ndarray], ...]:
    """(name, X, Y) of the splits `train` reports, under the lecture's names (the dev split is 'val')."""
    return (("train", splits.Xtr, splits.Ytr), ("val", splits.Xdev, splits.Ydev), ("test", splits.Xte, splits.Yte))


@contextlib.contextmanager
def _torch_threads(uses_torch: bool, threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to `threads` while a run that uses torch lasts (None: left alone)."""
    if not uses_torch or threads is None:
        yield
        return
    torch = import_torch()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _turns(splits: Splits, cfg: Config, size: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(first step, Xb's, Yb's) for runs of at most `size` steps: (steps, batch_size, block_size), (steps, batch_size).

    The batches of `batch_indices`, gathered from the training set BATCH_CHUNK steps at a time and cut
    into turns (views, not copies).
    """
    first = 0
    for ix in batch_indices(cfg, splits.Xtr.shape[0]):
        Xc, Yc = splits.Xtr[ix], splits.Ytr[ix]  # (chunk, batch_size, block_size), (chunk, batch_size)
        for start in range(0, ix.shape[0], size):
            yield first + start, Xc[start:start + size], Yc[start:start + size]
        first += ix.shape[0]


def _run(step: StepFn, turns: Iterable[tuple[int, np.ndarray, np.ndarray]], cfg: Config, losses: np.ndarray,
         backend: str, progress: bool, log_every: int, print_fn: Callable[[str], None] | None) -> float:
    """The training loop over `turns` (see `_turns`): writes every step's loss into losses; returns its wall time."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, desc=f"train ({backend})", unit="step", dynamic_ncols=True)
    emit = bar.write if (bar is not None and print_fn is print) else print_fn
    log_every = log_every if (log_every and emit is not None) else 0

    done = 0
    t0 = time.perf_counter()
    try:
        for first, Xc, Yc in turns:
            for k in range(Xc.shape[0]):
                i = first + k
                loss = step(Xc[k], Yc[k], cfg.lr_at(i))
                if not math.isfinite(loss):  # NaN from here on: stop now rather than after all the steps
                    raise ValueError(f"train ({backend}): the loss is {loss} at step {i} of {cfg.steps}: training "
                                     f"diverged; try a smaller learning rate (lr={cfg.lr_at(i):g})")
                losses[i] = loss
                if log_every and i % log_every == 0:
                    emit(f"{i:7d}/{cfg.steps:7d}: {loss:.4f}")
                done += 1
                if bar is not None and done % POSTFIX_EVERY == 0:
                    bar.set_postfix(loss=f"{losses[i + 1 - POSTFIX_EVERY:i + 1].mean():.4f}", refresh=False)
                    bar.update(POSTFIX_EVERY)
        seconds = time.perf_counter() - t0
    finally:
        if bar is not None:
            bar.update(done - bar.n)
            bar.close()

    return seconds


# ---------------------------------------------------------------------------------------------------------
# one training step per backend: each returns (step(Xb, Yb, lr) -> loss, final() -> NumPy params)


def _manual_steps(params: dict[str, np.ndarray]) -> tuple[StepFn, Callable[[], dict[str, np.ndarray]]]:
    trainer = manual.Trainer(params)
    return trainer.step, lambda: {name: p.copy() for name, p in trainer.params.items()}


def _engine_steps(params: dict[str, np.ndarray]) -> tuple[StepFn, Callable[[], dict[str, np.ndarray]]]:
    P = to_backend(params, engine)
    optimizer = engine.optim.SGD([P[name] for name in PARAM_NAMES], lr=0.0)  # each step sets its lr
    F = engine.functional

    def step(Xb: np.ndarray, Yb: np.ndarray, lr: float) -> float:
        loss = forward_train(engine, F, P, Xb, Yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.param_groups[0]["lr"] = lr
        optimizer.step()
        return loss.item()

    return step, lambda: {name: P[name].data.copy() for name in PARAM_NAMES}


def _torch_steps(params: dict[str, np.ndarray]) -> tuple[StepFn, Callable[[], dict[str, np.ndarray]]]:
    torch = import_torch()
    P = to_backend(params, torch)
    plist = [P[name] for name in PARAM_NAMES]
    F = torch.nn.functional

    def step(Xb: np.ndarray, Yb: np.ndarray, lr: float) -> float:
        loss = forward_train(torch, F, P, torch.from_numpy(Xb), torch.from_numpy(Yb))
        for p in plist:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in plist:
                p -= lr * p.grad
        return loss.item()

    return step, lambda: {name: P[name].detach().numpy().copy() for name in PARAM_NAMES}


_BACKEND_STEPS = {"manual": _manual_steps, "engine": _engine_steps, "torch": _torch_steps}


def import_torch() -> Any:
    """PyTorch, imported on first use; an ImportError saying how to install it if it is missing."""
    try:
        import torch
    except ImportError as e:
        raise ImportError("the torch backend needs PyTorch: pip install 'ninjagrad[torch]'") from e
    return torch


# ---------------------------------------------------------------------------------------------------------
# evaluation: batchnorm calibration and split losses, with the engine under no_grad


def calibrate_bn(params: dict[str, np.ndarray], X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In [35]: batchnorm mean and Bessel-corrected variance of hprebn over all of X, as NumPy arrays."""
    with engine.no_grad():
        bnmean, bnvar = calibrate(to_backend(params, engine, requires_grad=False), X)
    return bnmean.data, bnvar.data


def split_loss(params: dict[str, np.ndarray], bnmean: np.ndarray, bnvar: np.ndarray, X: np.ndarray,
               Y: np.ndarray) -> float:
    """In [36]: mean cross-entropy of the eval-mode model (calibrated batchnorm) on (X, Y).

    Computed EVAL_CHUNK rows at a time (summed, then divided by len(Y)) so a whole split never needs
    all its activations at once; NaN for an empty split.
    """
    if len(Y) == 0:
        return float("nan")
    P = to_backend(params, engine, requires_grad=False)
    mean_t, var_t = engine.tensor(bnmean), engine.tensor(bnvar)
    total = 0.0
    with engine.no_grad():
        for start in range(0, len(Y), EVAL_CHUNK):
            logits = forward_eval(engine, P, mean_t, var_t, X[start:start + EVAL_CHUNK])
            total += engine.functional.cross_entropy(logits, Y[start:start + EVAL_CHUNK], reduction="sum").item()
    return total / len(Y)


# ---------------------------------------------------------------------------------------------------------
# the loss curve


def plot_losses(losses: np.ndarray | list[float], path: str | os.PathLike[str]) -> Path:
    """Write the lecture's loss plot to PNG `path`: log10 of the loss, averaged over chunks of steps.

    The chunk is 1,000 steps as in the lecture when there are at least 50,000 steps; shorter runs use
    len(losses) // 50 steps (at least 1) so the curve keeps about 50 points. A last partial chunk is
    averaged over the steps it has. The file is written atomically (temp file in the same directory,
    then os.replace) and the directory is created if needed. Returns the path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    losses = np.asarray(losses, dtype=np.float64).reshape(-1)
    if losses.size == 0:
        raise ValueError("plot_losses: no losses to plot")
    chunk = PLOT_CHUNK if losses.size >= PLOT_CHUNK * PLOT_MIN_POINTS else max(1, losses.size // PLOT_MIN_POINTS)
    log_losses = np.log10(losses)
    starts = np.arange(0, losses.size, chunk)
    means = np.add.reduceat(log_losses, starts) / np.diff(np.append(starts, losses.size))

    fig = Figure(figsize=(8, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(starts, means)
    ax.set_xlabel("step")
    ax.set_ylabel(f"log10 loss (mean over {chunk:,} step{'s' * (chunk != 1)})")
    ax.grid(alpha=0.3)
    fig.tight_layout()

    return atomic_write(path, lambda f: fig.savefig(f, format="png"))
