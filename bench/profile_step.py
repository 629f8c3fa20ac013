"""Where does one training step spend its time? Profiles of the engine and manual steps of bench/step.py.

`--tool ops` (engine only) times every op's forward and VJP and the engine's own bookkeeping (toposort,
`_fit`/unbroadcast per edge, `_accumulate`) by wrapping them for the run, and prints median µs per step
beside the uninstrumented step time; `--tool cprofile` and `--tool pyinstrument` (if installed: it is not a
project dependency) profile any backend's step as it is.

    python bench/profile_step.py --backend engine --tool ops --size 32x200
    python bench/profile_step.py --backend manual --tool pyinstrument
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench._common import find_names, set_threads  # noqa: E402
from bench.step import FACTORIES, LR, make_batches, parse_size, training_examples  # noqa: E402

# the Tensor methods model.mlp.forward_train calls on the engine (its functions are patched in instrumented_engine)
FORWARD_METHODS = ("__getitem__", "view")


@contextlib.contextmanager
def instrumented_engine(acc: dict[str, list[float]]) -> Iterator[None]:
    """Patch the engine for the duration: every forward op, VJP, toposort, _fit and _accumulate is timed."""
    import engine
    import engine.functional as F
    graph = importlib.import_module("engine.graph")  # the module, even if engine exports a name `graph`
    from engine import Tensor

    clock = time.perf_counter
    saved: list[tuple[object, str, object]] = []

    def patch(owner: object, name: str, new: object) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, new)

    def timed_vjp(vjp: Callable, label: str) -> Callable:
        def run(g):
            t0 = clock()
            out = vjp(g)
            acc[label].append(clock() - t0)
            return out
        return run

    def forward_op(fn: Callable, name: str) -> Callable:
        def run(*args, **kwargs):
            t0 = clock()
            out = fn(*args, **kwargs)
            dt = clock() - t0
            node = out.values if hasattr(out, "values") else out
            acc[f"fwd {name} {node.shape}"].append(dt)
            if getattr(node, "_vjp", None) is not None:
                node._vjp = timed_vjp(node._vjp, f"vjp {node.op} {node.shape}")
            return out
        return run

    def timed(fn: Callable, label: Callable[..., str]) -> Callable:
        def run(*args):
            t0 = clock()
            out = fn(*args)
            dt = clock() - t0
            acc[label(*args)].append(dt)
            return out
        return run

    try:
        for name in FORWARD_METHODS:
            patch(Tensor, name, forward_op(getattr(Tensor, name), name))
        for name in ("tanh", "addmm"):
            patch(engine, name, forward_op(getattr(engine, name), name))
        for name in ("batch_norm_train", "cross_entropy"):
            patch(F, name, forward_op(getattr(F, name), name))
        patch(graph, "toposort", timed(graph.toposort, lambda root: "toposort"))
        patch(Tensor, "_fit", timed(Tensor._fit, lambda self, g, op: f"fit {op} -> {self.shape} from {g.shape}"))
        patch(Tensor, "_accumulate", timed(Tensor._accumulate,
                                           lambda self, g: f"accumulate {'leaf' if self.is_leaf else 'node'}"))
        yield
    finally:
        for owner, name, old in reversed(saved):
            setattr(owner, name, old)


def per_step_table(acc: dict[str, list[float]], steps: int) -> list[tuple[float, int, str]]:
    """(median µs per step, calls per step, label): calls in one step are summed, then the median taken."""
    rows = []
    for label, times in acc.items():
        calls = len(times) // steps
        per_step = [sum(times[i * calls:(i + 1) * calls]) for i in range(steps)] if calls else times
        rows.append((statistics.median(per_step) * 1e6, calls, label))
    return sorted(rows, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Profile one training step of a backend of bench/step.py.")
    parser.add_argument("--backend", choices=tuple(FACTORIES), default="engine", help="default engine")
    parser.add_argument("--tool", choices=("ops", "cprofile", "pyinstrument"), default="ops",
                        help="ops: per-op table (engine only, default); cprofile; pyinstrument (if installed)")
    parser.add_argument("--size", type=parse_size, default=(32, 200), metavar="BxH", help="default 32x200")
    parser.add_argument("--steps", type=int, default=2000, help="profiled steps (default 2000)")
    parser.add_argument("--threads", type=int, help="set torch's and OpenBLAS's thread counts")
    parser.add_argument("--data", help="names file (default: $NINJAGRAD_NAMES, else ../shared/data/names.txt)")
    args = parser.parse_args(argv)
    if args.tool == "ops" and args.backend != "engine":
        parser.error("--tool ops instruments the engine; use cprofile or pyinstrument for other backends")
    if args.steps < 1:
        parser.error("--steps must be >= 1")

    if args.backend.startswith("torch"):
        import torch  # noqa: F401
    if args.threads:
        set_threads(args.threads)
    B, H = args.size
    X, Y, vocab_size, _ = training_examples(find_names(args.data), block_size=3)
    from model.mlp import Config, init_params

    cfg = Config(batch_size=B, n_hidden=H)
    params = init_params(vocab_size, cfg, np.random.default_rng(cfg.seed))
    step = FACTORIES[args.backend](params, make_batches(X, Y, B, seed=1), LR)
    for k in range(200):  # warm-up
        step(k)
    t0 = time.perf_counter()
    for k in range(args.steps):
        step(k)
    plain = (time.perf_counter() - t0) / args.steps * 1e6
    print(f"{args.backend} at B={B} H={H}: {plain:.1f} µs/step uninstrumented ({args.steps} steps)\n")

    if args.tool == "ops":
        acc: dict[str, list[float]] = collections.defaultdict(list)
        with instrumented_engine(acc):
            for k in range(args.steps):
                step(k)
        rows = per_step_table(acc, args.steps)
        print(f"{'µs/step':>8} {'calls':>5}  what (median over steps; instrumentation adds ~0.3 µs per entry)")
        for us, calls, label in rows:
            print(f"{us:8.1f} {calls:5d}  {label}")
        groups = collections.Counter()
        for us, _, label in rows:
            groups[label.split()[0]] += us
        print("\n" + ", ".join(f"{k} {v:.0f} µs" for k, v in groups.most_common()))
    elif args.tool == "cprofile":
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(lambda: [step(k) for k in range(args.steps)])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    else:
        try:
            from pyinstrument import Profiler
        except ImportError:
            parser.error("pyinstrument is not installed (pip install pyinstrument; it is not a project dependency)")
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for k in range(args.steps):
            step(k)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
