"""The lecture's full training run (In [33]-[36]) on one backend: wall time, peak memory, final losses.

Trains with `model.train.train` (200,000 steps by default), which also calibrates batchnorm over the
training set (In [35]) and computes the train/val/test losses (In [36]). Prints them beside the targets
(train <= 2.08, test <= 2.12, and the manual backend's training loop under 60 s) and writes JSON.

    python bench/full_run.py --backend manual --out bench/results/full-manual.json
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench._common import (  # noqa: E402
    announce_environment,
    find_names,
    mib,
    peak_rss_bytes,
    rss_bytes,
    write_json,
)

TARGET_TRAIN = 2.08  # final train loss (the lecture prints 2.0714)
TARGET_TEST = 2.12  # final test loss (the lecture prints 2.1091)
TARGET_SECONDS = {"manual": 60.0, "engine": 120.0}  # a backend's 200,000-step training loop (issue 6)


def main(argv: list[str] | None = None) -> int:
    from model.train import BACKENDS

    parser = argparse.ArgumentParser(
        description="Run the full makemore training (default 200,000 steps) on one backend and report wall "
                    "time, peak RSS and the final train/val/test losses.")
    parser.add_argument("--backend", choices=BACKENDS, default="manual", help="gradient backend (default manual)")
    parser.add_argument("--steps", type=int, help="training steps (default: Config's 200,000)")
    parser.add_argument("--data", help="names file (default: $NINJAGRAD_NAMES, else ../shared/data/names.txt)")
    parser.add_argument("--threads", type=int,
                        help="set torch's and OpenBLAS's thread counts (default: leave them as they are)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    parser.add_argument("--log-every", type=int, default=10_000,
                        help="print the minibatch loss every this many steps, as the lecture (0: never)")
    parser.add_argument("--out", help="write the results as JSON here (default bench/results/full-BACKEND.json)")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be >= 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")

    from model.data import build_splits, load_names
    from model.mlp import Config
    from model.train import train

    if args.backend == "torch":
        import torch  # noqa: F401  (so the environment reports its threads)
    env = announce_environment(args.threads)

    t_start = time.perf_counter()
    names = load_names(find_names(args.data))
    print(names.source)
    cfg = Config() if args.steps is None else Config(steps=args.steps)
    splits = build_splits(names.words, cfg.block_size)
    rss_before = rss_bytes()

    # sample memory whenever train() logs: the peak of the training loop itself, before evaluation
    samples: list[dict[str, Any]] = []

    def log(line: str) -> None:
        samples.append({"step": int(line.split("/")[0]), "rss_mib": mib(rss_bytes()),
                        "peak_rss_mib": mib(peak_rss_bytes())})
        print(line, flush=True)

    print(f"training {cfg.steps:,} steps with the {args.backend} backend")
    result = train(splits, cfg, backend=args.backend, progress=args.progress, log_every=args.log_every,
                   print_fn=log)
    wall = time.perf_counter() - t_start
    gc.collect()
    losses = result.split_losses

    checks = [
        {"what": "train loss", "value": losses["train"], "limit": TARGET_TRAIN},
        {"what": "test loss", "value": losses["test"], "limit": TARGET_TEST},
    ]
    if args.backend in TARGET_SECONDS and cfg.steps == Config().steps:
        checks.append({"what": f"training seconds ({args.backend})", "value": result.seconds,
                       "limit": TARGET_SECONDS[args.backend]})
    for c in checks:
        c["status"] = "PASS" if c["value"] <= c["limit"] else "MISS"

    report = {
        "benchmark": "full_run", "backend": args.backend, "steps": cfg.steps, "config": cfg.to_dict(),
        "data": names.source,
        "train_seconds": result.seconds, "us_per_step": result.seconds_per_step * 1e6,
        "wall_seconds_total": wall,  # data loading, training, calibration and evaluation
        "rss_mib_before_training": mib(rss_before),
        "peak_rss_mib_training": max((s["peak_rss_mib"] for s in samples), default=None),
        "peak_rss_mib_total": mib(peak_rss_bytes()),  # includes the evaluation over the whole splits
        "rss_mib_end": mib(rss_bytes()),
        "rss_samples": samples,
        "split_losses": losses, "final_minibatch_loss": float(result.losses[-1]),
        "targets": checks, "environment": env,
    }

    print(f"\n{args.backend}: {cfg.steps:,} steps in {result.seconds:.1f} s "
          f"({result.seconds_per_step * 1e6:.1f} µs/step); {wall:.1f} s in all with data and evaluation")
    during = report["peak_rss_mib_training"]
    during = f"{during} MiB by the last logged training step; " if during is not None else ""
    print(f"peak RSS {report['peak_rss_mib_total']} MiB ({during}{report['rss_mib_before_training']} MiB before "
          "training)")
    print("losses: " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items()))
    for c in checks:
        print(f"  {c['status']}  {c['what']}: {c['value']:.4f} (target <= {c['limit']})")

    out = write_json(args.out or Path(__file__).resolve().parent / "results" / f"full-{args.backend}.json", report)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
