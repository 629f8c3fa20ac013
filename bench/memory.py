"""Does the engine leak? Resident memory after 1,000 engine training steps against after 20,000.

Each step builds a fresh graph (model.mlp.forward_train on engine tensors), backpropagates and updates
in place, so once the first steps have warmed NumPy's and Python's allocators the resident set should stay
flat: the target is RSS(20,000) within 5% of RSS(1,000). RSS is read from /proc/self/statm after
gc.collect() at every checkpoint; the live engine Tensor count is recorded too, so a leak of graphs shows
up as a growing count even when it is too small to move the RSS.

    python bench/memory.py --out bench/results/memory.json
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench._common import (  # noqa: E402
    environment,
    environment_summary,
    find_names,
    mib,
    peak_rss_bytes,
    rss_bytes,
    write_json,
)

TOLERANCE = 0.05  # RSS at the end may exceed RSS at the baseline by at most 5%


def live_tensors() -> int:
    """Engine Tensors the garbage collector can see (graphs that were not freed would pile up here)."""
    from engine import Tensor

    return sum(1 for o in gc.get_objects() if type(o) is Tensor)


def checkpoint(step: int, t0: float) -> dict[str, Any]:
    gc.collect()
    return {"step": step, "rss_mib": mib(rss_bytes()), "peak_rss_mib": mib(peak_rss_bytes()),
            "live_tensors": live_tensors(), "seconds": round(time.perf_counter() - t0, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Engine memory check: RSS after --baseline training steps vs after --steps (target: within 5%%).")
    parser.add_argument("--steps", type=int, default=20_000, help="total engine steps (default 20,000)")
    parser.add_argument("--baseline", type=int, default=1_000, help="step of the baseline reading (default 1,000)")
    parser.add_argument("--every", type=int, default=1_000, help="steps between readings (default 1,000)")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per step (default 32)")
    parser.add_argument("--hidden", type=int, default=200, help="hidden units (default 200)")
    parser.add_argument("--data", help="names file (default: $NINJAGRAD_NAMES, else ../shared/data/names.txt)")
    parser.add_argument("--out", help="write the readings as JSON here")
    args = parser.parse_args(argv)
    if not 1 <= args.baseline < args.steps or args.every < 1:
        parser.error("need 1 <= --baseline < --steps and --every >= 1")

    import engine
    import engine.functional as F
    from model.data import build_splits, load_names
    from model.mlp import Config, forward_train, init_params, to_backend

    env = environment()
    print(environment_summary(env))
    names = load_names(find_names(args.data))
    print(names.source)
    cfg = Config(batch_size=args.batch_size, n_hidden=args.hidden, steps=args.steps)
    splits = build_splits(names.words, cfg.block_size)
    Xtr, Ytr = splits.Xtr, splits.Ytr
    P = to_backend(init_params(splits.vocab.size, cfg, np.random.default_rng(cfg.seed)), engine)
    leaves = list(P.values())
    rng = np.random.default_rng([cfg.seed, 1])

    marks = sorted({args.baseline, args.steps, *range(args.every, args.steps + 1, args.every)})
    readings = []
    t0 = time.perf_counter()
    step = 0
    for mark in marks:
        while step < mark:
            ix = rng.integers(0, Xtr.shape[0], cfg.batch_size)
            loss = forward_train(engine, F, P, Xtr[ix], Ytr[ix])
            loss.backward()
            for p in leaves:
                p.data -= cfg.lr_at(step) * p.grad
                p.grad = None
            step += 1
        del loss
        readings.append(checkpoint(step, t0))
        r = readings[-1]
        print(f"  step {r['step']:>7,}: RSS {r['rss_mib']:8.1f} MiB, peak {r['peak_rss_mib']:8.1f} MiB, "
              f"{r['live_tensors']:>5} live tensors, {r['seconds']:6.1f} s", flush=True)

    base = next(r for r in readings if r["step"] == args.baseline)
    end = readings[-1]
    growth = end["rss_mib"] / base["rss_mib"] - 1
    status = "PASS" if growth <= TOLERANCE else "MISS"
    print(f"\n{status}  RSS after {end['step']:,} steps {end['rss_mib']} MiB vs {base['rss_mib']} MiB after "
          f"{base['step']:,}: {growth:+.2%} (target <= +{TOLERANCE:.0%}); peak {end['peak_rss_mib']} MiB vs "
          f"{base['peak_rss_mib']} MiB; live tensors {end['live_tensors']} vs {base['live_tensors']}")

    if args.out:
        out = write_json(args.out, {
            "benchmark": "memory", "backend": "engine", "config": cfg.to_dict(), "data": names.source,
            "baseline_step": args.baseline, "readings": readings, "rss_growth": growth, "tolerance": TOLERANCE,
            "status": status, "environment": env,
        })
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
