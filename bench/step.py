"""Time one training step (forward, backward, SGD update) of every backend, interleaved in one process.

Backends: `engine` (ninjagrad autograd), `manual` (manual.Trainer: the hand-derived step on one flat
parameter array), `torch` (PyTorch autograd) and `torch-manual` (the lecture's In [33]: torch tensors,
hand-written backward). All start from the same float32 initialisation and see the same batches. After a
warm-up each backend runs a window of N steps in turn (N sized so a window lasts about --window seconds),
over --windows rounds, so drift of the machine hits every backend alike. Prints microseconds per step
(median, min, max over the windows), the ratio to torch, the issue's targets as PASS/MISS, and writes
everything with the environment as JSON.

    python bench/step.py --threads 1 --clock cpu --out bench/results/step.json   # make bench
    python bench/step.py --quick --sizes 32x200
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench._common import (  # noqa: E402
    announce_environment,
    find_names,
    write_json,
)
from model.files import check_writable  # noqa: E402

BACKENDS = ("engine", "manual", "torch", "torch-manual")
DEFAULT_SIZES = ((32, 200), (256, 200), (2048, 200), (32, 1000))
N_BATCHES = 64  # distinct batches cycled through; the same sequence for every backend
# Many short windows: this VM's speed shifts within a second, so backends timed 0.3-0.5 s apart see
# different machines. Over nine runs of 15 x 0.3 s windows, engine/manual at 32x200 read 1.40-1.78
# (median / median) and 1.43-1.71 (paired); over eight runs of 0.05-0.1 s windows, 1.41-1.69 and 1.50-1.58.
DEFAULT_WINDOWS, DEFAULT_WINDOW_S = 60, 0.05
LR = 0.1
# the targets: at (B, H), median of `backend` / median of `reference` must be <= limit
TARGETS = (
    ((32, 200), "manual", "torch", 0.25),
    ((2048, 200), "manual", "torch", 1.0),
    ((32, 200), "engine", "torch", 0.5),
    ((2048, 200), "engine", "torch", 1.1),
    ((32, 200), "engine", "manual", 1.6),
)

Step = Callable[[int], Any]  # step(k) trains on batch k % N_BATCHES and returns the loss (backend's type)


# ---------------------------------------------------------------------------------------------------------
# the four training steps


def engine_step(params: dict[str, np.ndarray], batches: list[tuple[np.ndarray, np.ndarray]], lr: float) -> Step:
    """ninjagrad: model.mlp.forward_train on engine tensors, loss.backward(), engine.optim.SGD's step."""
    import engine
    import engine.functional as F
    from model.mlp import forward_train, to_backend

    P = to_backend(params, engine)
    optimizer = engine.optim.SGD(P.values(), lr)
    data = [(engine.tensor(Xb), engine.tensor(Yb)) for Xb, Yb in batches]

    def step(k: int):
        Xb, Yb = data[k % len(data)]
        loss = forward_train(engine, F, P, Xb, Yb)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss

    return step


def manual_step(params: dict[str, np.ndarray], batches: list[tuple[np.ndarray, np.ndarray]], lr: float) -> Step:
    """The hand-derived NumPy step: manual.Trainer (forward, fused backward, one flat SGD update)."""
    import manual

    trainer = manual.Trainer(params)

    def step(k: int):
        Xb, Yb = batches[k % len(batches)]
        return trainer.step(Xb, Yb, lr)

    return step


def torch_step(params: dict[str, np.ndarray], batches: list[tuple[np.ndarray, np.ndarray]], lr: float) -> Step:
    """PyTorch autograd: the same model.mlp.forward_train, loss.backward(), update under no_grad."""
    import torch
    import torch.nn.functional as F

    from model.mlp import forward_train, to_backend

    P = to_backend(params, torch)
    leaves = list(P.values())
    data = [(torch.from_numpy(Xb), torch.from_numpy(Yb)) for Xb, Yb in batches]

    def step(k: int):
        Xb, Yb = data[k % len(data)]
        loss = forward_train(torch, F, P, Xb, Yb)
        loss.backward()
        with torch.no_grad():
            for p in leaves:
                p -= lr * p.grad
                p.grad = None
        return loss

    return step


def torch_manual_step(params: dict[str, np.ndarray], batches: list[tuple[np.ndarray, np.ndarray]],
                      lr: float) -> Step:
    """In [33] as the lecture wrote it: torch ops, no autograd, the manual backward, p += -lr * grad.

    One change: the lecture's dC is a Python double loop over the batch (96 tiny torch calls at B=32),
    which would time the interpreter rather than the method; `index_add_` is the same scatter-add.
    """
    import torch
    import torch.nn.functional as F

    from model.mlp import BN_EPS, PARAM_NAMES

    C, W1, b1, W2, b2, bngain, bnbias = (torch.tensor(params[name]) for name in PARAM_NAMES)
    parameters = [C, W1, b1, W2, b2, bngain, bnbias]
    data = [(torch.from_numpy(Xb), torch.from_numpy(Yb)) for Xb, Yb in batches]
    n = batches[0][0].shape[0]
    rows = torch.arange(n)

    @torch.no_grad()
    def step(k: int):
        Xb, Yb = data[k % len(data)]
        # forward
        emb = C[Xb]  # (n, block_size, n_embd)
        embcat = emb.view(emb.shape[0], -1)  # (n, block_size*n_embd)
        hprebn = embcat @ W1 + b1  # (n, n_hidden)
        bnmean = hprebn.mean(0, keepdim=True)  # (1, n_hidden)
        bnvar = hprebn.var(0, keepdim=True, unbiased=True)  # (1, n_hidden)
        bnvar_inv = (bnvar + BN_EPS) ** -0.5  # (1, n_hidden)
        bnraw = (hprebn - bnmean) * bnvar_inv  # (n, n_hidden)
        hpreact = bngain * bnraw + bnbias  # (n, n_hidden)
        h = torch.tanh(hpreact)  # (n, n_hidden)
        logits = h @ W2 + b2  # (n, vocab)
        loss = F.cross_entropy(logits, Yb)  # ()
        # backward
        dlogits = F.softmax(logits, 1)  # (n, vocab)
        dlogits[rows, Yb] -= 1
        dlogits /= n
        dh = dlogits @ W2.T  # (n, n_hidden)
        dW2 = h.T @ dlogits  # (n_hidden, vocab)
        db2 = dlogits.sum(0)  # (vocab,)
        dhpreact = (1.0 - h**2) * dh  # (n, n_hidden)
        dbngain = (bnraw * dhpreact).sum(0, keepdim=True)  # (1, n_hidden)
        dbnbias = dhpreact.sum(0, keepdim=True)  # (1, n_hidden)
        dhprebn = bngain * bnvar_inv / n * (  # (n, n_hidden)
            n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0)
        )
        dW1 = embcat.T @ dhprebn  # (block_size*n_embd, n_hidden)
        db1 = dhprebn.sum(0)  # (n_hidden,)
        dembcat = dhprebn @ W1.T  # (n, block_size*n_embd)
        demb = dembcat.view(emb.shape)  # (n, block_size, n_embd)
        dC = torch.zeros_like(C).index_add_(0, Xb.view(-1), demb.view(-1, C.shape[1]))  # (vocab, n_embd)
        # update
        for p, grad in zip(parameters, [dC, dW1, db1, dW2, db2, dbngain, dbnbias]):
            p += -lr * grad
        return loss

    return step


FACTORIES: dict[str, Callable[..., Step]] = {
    "engine": engine_step, "manual": manual_step, "torch": torch_step, "torch-manual": torch_manual_step,
}


# ---------------------------------------------------------------------------------------------------------
# data


def training_examples(data: Path | None, block_size: int) -> tuple[np.ndarray, np.ndarray, int, str]:
    """(Xtr, Ytr, vocab_size, where they came from): the lecture's training split, or random stand-ins."""
    if data is None:
        rng = np.random.default_rng(0)
        X = rng.integers(0, 27, (182_625, block_size))
        return X, rng.integers(0, 27, X.shape[0]), 27, "synthetic: uniform random indices, vocab 27 (no names.txt)"
    from model.data import build_splits, load_names

    names = load_names(data)
    splits = build_splits(names.words, block_size)
    return splits.Xtr, splits.Ytr, splits.vocab.size, names.source


def make_batches(X: np.ndarray, Y: np.ndarray, batch_size: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(N_BATCHES):
        ix = rng.integers(0, X.shape[0], batch_size)
        out.append((np.ascontiguousarray(X[ix]), np.ascontiguousarray(Y[ix])))
    return out


# ---------------------------------------------------------------------------------------------------------
# timing


def _as_float(loss) -> float:
    return float(loss.item()) if hasattr(loss, "item") else float(loss)


def check_agreement(factories: dict[str, Callable[[], Step]], steps: int = 3) -> dict[str, list[float]]:
    """Run `steps` steps of a fresh copy of each backend and compare losses: they must train the same model.

    float32 throughout, so they agree to rounding (relative 1e-4), not exactly. Raises SystemExit on a
    disagreement: a benchmark of backends that compute different things would be meaningless.
    """
    losses = {}
    for name, make in factories.items():
        step = make()
        losses[name] = [_as_float(step(k)) for k in range(steps)]
    ref = losses.get("torch", next(iter(losses.values())))
    for name, got in losses.items():
        if not np.allclose(got, ref, rtol=1e-4, atol=1e-5):
            raise SystemExit(f"backends disagree: {name} losses {got} vs reference {ref}")
    return losses


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_window(step: Step, start: int, n: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds for steps start .. start+n-1 by `clock`, garbage from earlier windows collected first."""
    gc.collect()
    t0 = clock()
    for k in range(start, start + n):
        step(k)
    return clock() - t0


def bench_size(batch_size: int, n_hidden: int, backends: tuple[str, ...], X: np.ndarray, Y: np.ndarray,
               vocab_size: int, *, windows: int, window_s: float, warmup_s: float, clock: str = "wall",
               check: bool = True) -> dict[str, Any]:
    """Time every backend at (batch_size, n_hidden): warm up, size N per backend, then interleaved windows.

    Windows are sized by wall time; each is measured by `clock` ('wall' or 'cpu': CPU seconds of the
    whole process, which leaves out time the scheduler gave to other processes).
    """
    tick = CLOCKS[clock]
    from model.mlp import Config, init_params

    cfg = Config(batch_size=batch_size, n_hidden=n_hidden, dtype="float32")
    params = init_params(vocab_size, cfg, np.random.default_rng(cfg.seed))
    batches = make_batches(X, Y, batch_size, seed=1)
    factories = {name: (lambda f=FACTORIES[name]: f(params, batches, LR)) for name in backends}
    losses = check_agreement(factories) if check else {}

    steps = {name: make() for name, make in factories.items()}
    done = dict.fromkeys(backends, 0)
    per_step = {}
    for name, step in steps.items():  # warm-up, and a first estimate of the step time
        t, n = 0.0, 1
        while t < warmup_s or n < 4:
            t = time_window(step, done[name], n)  # wall time: it sizes the windows
            done[name] += n
            n *= 2
        per_step[name] = t / (n // 2)
    n_steps = {name: max(1, round(window_s / per_step[name])) for name in backends}

    samples: dict[str, list[float]] = {name: [] for name in backends}
    for w in range(windows):
        order = backends[w % len(backends):] + backends[:w % len(backends)]  # rotate who goes first
        for name in order:
            t = time_window(steps[name], done[name], n_steps[name], tick)
            done[name] += n_steps[name]
            samples[name].append(t / n_steps[name] * 1e6)

    result: dict[str, Any] = {"batch_size": batch_size, "n_hidden": n_hidden, "backends": {}}
    for name in backends:
        us = samples[name]
        result["backends"][name] = {
            "median_us": statistics.median(us), "min_us": min(us), "max_us": max(us),
            "steps_per_window": n_steps[name], "windows_us": us, "first_losses": losses.get(name),
        }
    if "torch" in backends:
        ref = result["backends"]["torch"]
        for name in backends:
            r = result["backends"][name]
            r["ratio_to_torch"] = r["median_us"] / ref["median_us"]
            r["ratio_to_torch_min"] = r["min_us"] / ref["min_us"]
    return result


def target_checks(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets that this run measured, each with two ratios and PASS/MISS on each.

    `ratio` is median / median. `paired` is the median over rounds of the two backends' windows of the
    same round (timed back to back), which cancels a slow drift of the machine's speed that can bias
    two medians differently on a shared VM.
    """
    checks = []
    for (B, H), name, ref, limit in TARGETS:
        for r in results:
            if (r["batch_size"], r["n_hidden"]) == (B, H) and name in r["backends"] and ref in r["backends"]:
                a, b = r["backends"][name], r["backends"][ref]
                ratio = a["median_us"] / b["median_us"]
                paired = statistics.median(x / y for x, y in zip(a["windows_us"], b["windows_us"], strict=True))
                checks.append({"batch_size": B, "n_hidden": H, "backend": name, "reference": ref, "limit": limit,
                               "ratio": ratio, "status": "PASS" if ratio <= limit else "MISS",
                               "paired": paired, "paired_status": "PASS" if paired <= limit else "MISS"})
    return checks


# ---------------------------------------------------------------------------------------------------------
# command line


def parse_size(text: str) -> tuple[int, int]:
    try:
        b, h = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r}: expected BATCHxHIDDEN, e.g. 32x200") from None
    if b < 2 or h < 1:
        raise argparse.ArgumentTypeError(f"size {text!r}: batch must be >= 2 (batchnorm) and hidden >= 1")
    return b, h


def print_table(r: dict[str, Any]) -> None:
    print(f"\nB={r['batch_size']} H={r['n_hidden']}")
    print(f"  {'backend':<13} {'median µs':>10} {'min µs':>9} {'max µs':>9} {'steps/win':>10} {'× torch':>8}")
    for name, b in r["backends"].items():
        ratio = f"{b['ratio_to_torch']:.2f}" if "ratio_to_torch" in b else "-"
        print(f"  {name:<13} {b['median_us']:>10.1f} {b['min_us']:>9.1f} {b['max_us']:>9.1f} "
              f"{b['steps_per_window']:>10} {ratio:>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time one training step of engine, manual, torch and torch-manual, interleaved in one process.")
    parser.add_argument("--sizes", nargs="+", type=parse_size, metavar="BxH",
                        help="batch size x hidden units, e.g. 32x200 2048x200 (default: 32x200 256x200 2048x200 "
                             "32x1000)")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS),
                        help="backends to time (default: all four; ratios need torch)")
    parser.add_argument("--quick", action="store_true", help="a short run: 3 windows of 0.1 s, short warm-up")
    parser.add_argument("--windows", type=int, help="timing windows per backend (default 60, --quick 3)")
    parser.add_argument("--window", type=float, help="seconds per window (default 0.05, --quick 0.1)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per backend (default 0.3, --quick 0.05)")
    parser.add_argument("--data", help="names file (default: $NINJAGRAD_NAMES, else ../shared/data/names.txt; "
                                       "random indices if neither exists)")
    parser.add_argument("--threads", type=int,
                        help="set torch's and OpenBLAS's thread counts to this (default: leave them as they are)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall: elapsed time (default); cpu: the process's CPU time, which leaves out time "
                             "other processes had the CPU — steadier on a busy machine, but it counts every "
                             "thread's spinning, so use it with --threads 1")
    parser.add_argument("--no-check", action="store_true", help="skip the check that all backends agree")
    parser.add_argument("--out", help="write the results as JSON here (directories are created)")
    args = parser.parse_args(argv)

    windows = args.windows or (3 if args.quick else DEFAULT_WINDOWS)
    window_s = args.window or (0.1 if args.quick else DEFAULT_WINDOW_S)
    warmup_s = args.warmup if args.warmup is not None else (0.05 if args.quick else 0.3)
    if windows < 1 or window_s <= 0 or warmup_s < 0:
        parser.error("--windows must be >= 1, --window > 0 and --warmup >= 0")
    sizes = args.sizes or list(DEFAULT_SIZES)
    backends = tuple(b for b in BACKENDS if b in args.backends)

    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.out:
        try:
            check_writable(args.out)  # now, not after minutes of timing
        except ValueError as e:
            parser.error(f"--out: {e}")
    try:
        import torch  # noqa: F401  (loaded before the environment is read, so its thread pool is reported)
    except ImportError:
        if any(b.startswith("torch") for b in backends):
            parser.error("torch is not installed (pip install -e '.[torch]'), or pass --backends engine manual")

    env = announce_environment(args.threads)
    X, Y, vocab_size, source = training_examples(find_names(args.data), block_size=3)
    print(source)
    print(f"{windows} windows x ~{window_s:g} s per backend per size, interleaved; {args.clock} clock; "
          f"float32; lr {LR}")

    results = []
    for B, H in sizes:
        r = bench_size(B, H, backends, X, Y, vocab_size, windows=windows, window_s=window_s, warmup_s=warmup_s,
                       clock=args.clock, check=not args.no_check)
        results.append(r)
        print_table(r)

    checks = target_checks(results)
    if checks:
        print("\ntargets (median / median; median of same-round pairs):")
    for c in checks:
        print(f"  {c['status']} {c['paired_status']}  {c['backend']:<6} <= {c['limit']:.2f} x {c['reference']:<6} "
              f"at B={c['batch_size']} H={c['n_hidden']}: {c['ratio']:.3f}x; paired {c['paired']:.3f}x")

    if args.out:
        out = write_json(args.out, {
            "benchmark": "step", "settings": {"windows": windows, "window_s": window_s, "warmup_s": warmup_s,
                                              "lr": LR, "dtype": "float32", "data": source, "clock": args.clock,
                                              "backends": list(backends), "quick": args.quick},
            "environment": env, "results": results, "targets": checks,
        })
        print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
