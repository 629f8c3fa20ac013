"""The lecture's full training run (In [33]-[36]) on one backend or several: wall time, peak memory, losses.

Trains with `model.train.train` (200,000 steps by default), which also calibrates batchnorm over the
training set (In [35]) and computes the train/val/test losses (In [36]). Prints them beside the targets
(train <= 2.08, test <= 2.12, and the manual and engine training loops under 60 s and 120 s) and writes JSON.

    python bench/full_run.py --backend manual --out bench/results/full-manual.json

Given several backends it trains them in one process with `model.train.train_side_by_side`, taking turns
every --turn-steps steps, and reports each one's training time as a ratio to torch's (or to the first
backend's): a comparison that holds on a machine whose speed wanders, as separate runs' do not.

    python bench/full_run.py --backend manual engine torch --threads 1
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
        description="Run the full makemore training (default 200,000 steps) on one backend or several side by "
                    "side, and report training time, peak RSS and the final train/val/test losses.")
    parser.add_argument("--backend", nargs="+", choices=BACKENDS, default=["manual"],
                        help="gradient backend(s) (default manual); several train side by side in turns")
    parser.add_argument("--steps", type=int, help="training steps (default: Config's 200,000)")
    parser.add_argument("--turn-steps", type=int,
                        help="with several backends, the steps each runs before the next takes its turn (default 1000)")
    parser.add_argument("--data", help="names file (default: $NINJAGRAD_NAMES, else ../shared/data/names.txt)")
    parser.add_argument("--threads", type=int,
                        help="set torch's and OpenBLAS's thread counts (default: leave them as they are)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar (one backend only)")
    parser.add_argument("--log-every", type=int, default=10_000,
                        help="print the minibatch loss every this many steps, as the lecture (0: never)")
    parser.add_argument("--out", help="write the results as JSON here (default bench/results/full-BACKEND.json, "
                                      "BACKEND the names joined by '-')")
    args = parser.parse_args(argv)
    backends = args.backend
    if len(set(backends)) != len(backends):
        parser.error(f"--backend lists a backend twice: {' '.join(backends)}")
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be >= 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.log_every < 0:
        parser.error("--log-every must be >= 0")
    if args.turn_steps is not None and (len(backends) == 1 or args.turn_steps < 1):
        parser.error("--turn-steps needs several backends and must be >= 1")
    if args.progress and len(backends) > 1:
        parser.error("--progress draws one backend's bar; with several, the log lines show the progress")

    from model.data import build_splits, load_names
    from model.files import check_writable
    from model.mlp import Config
    from model.train import import_torch, train, train_side_by_side

    out = Path(args.out or Path(__file__).resolve().parent / "results" / f"full-{'-'.join(backends)}.json")
    try:
        check_writable(out)  # now, not after minutes of training
    except ValueError as e:
        parser.error(f"--out: {e}")
    if "torch" in backends:
        try:
            import_torch()  # now, so the environment reports its threads
        except ImportError as e:
            parser.error(str(e))
    env = announce_environment(args.threads)

    t_start = time.perf_counter()
    names = load_names(find_names(args.data))
    print(names.source)
    cfg = Config() if args.steps is None else Config(steps=args.steps)
    splits = build_splits(names.words, cfg.block_size)
    rss_before = rss_bytes()

    # sample memory whenever training logs: the peak of the training loop itself, before evaluation
    samples: list[dict[str, Any]] = []

    def log(line: str) -> None:
        samples.append({"step": int(line.split("/")[0]), "rss_mib": mib(rss_bytes()),
                        "peak_rss_mib": mib(peak_rss_bytes())})
        print(line, flush=True)

    turn_steps = (args.turn_steps or 1_000) if len(backends) > 1 else None
    if len(backends) == 1:
        print(f"training {cfg.steps:,} steps with the {backends[0]} backend")
        results = {backends[0]: train(splits, cfg, backend=backends[0], progress=args.progress,
                                      log_every=args.log_every, print_fn=log)}
    else:
        print(f"training {cfg.steps:,} steps with each of {', '.join(backends)}, taking turns every "
              f"{turn_steps:,} steps")
        results = train_side_by_side(splits, cfg, backends, turn_steps=turn_steps, log_every=args.log_every,
                                     print_fn=log)
    wall = time.perf_counter() - t_start
    gc.collect()

    reference = None if len(backends) == 1 else "torch" if "torch" in backends else backends[0]
    checks = []
    for name, result in results.items():
        checks += [
            {"backend": name, "what": "train loss", "value": result.split_losses["train"], "limit": TARGET_TRAIN},
            {"backend": name, "what": "test loss", "value": result.split_losses["test"], "limit": TARGET_TEST},
        ]
        if name in TARGET_SECONDS and cfg.steps == Config().steps:
            checks.append({"backend": name, "what": "training seconds", "value": result.seconds,
                           "limit": TARGET_SECONDS[name]})
    for c in checks:
        c["status"] = "PASS" if c["value"] <= c["limit"] else "MISS"

    report = {
        "benchmark": "full_run", "backends": backends, "steps": cfg.steps, "config": cfg.to_dict(),
        "data": names.source, "turn_steps": turn_steps, "reference": reference,
        "results": {name: {
            "train_seconds": r.seconds, "us_per_step": r.seconds_per_step * 1e6,
            "ratio_to_reference": None if reference is None else r.seconds / results[reference].seconds,
            "split_losses": r.split_losses, "final_minibatch_loss": float(r.losses[-1]),
        } for name, r in results.items()},
        "wall_seconds_total": wall,  # data loading, training, calibration and evaluation
        "rss_mib_before_training": mib(rss_before),
        "peak_rss_mib_training": max((s["peak_rss_mib"] for s in samples), default=None),
        "peak_rss_mib_total": mib(peak_rss_bytes()),  # includes the evaluation over the whole splits
        "rss_mib_end": mib(rss_bytes()),
        "rss_samples": samples,
        "targets": checks, "environment": env,
    }

    print()
    for name, r in results.items():
        ratio = "" if reference is None else f"; {r.seconds / results[reference].seconds:.3f} x {reference}"
        print(f"{name}: {cfg.steps:,} steps in {r.seconds:.1f} s ({r.seconds_per_step * 1e6:.1f} µs/step{ratio}); "
              "losses " + ", ".join(f"{k} {v:.4f}" for k, v in r.split_losses.items()))
    print(f"{wall:.1f} s in all with data and evaluation")
    during = report["peak_rss_mib_training"]
    during = f"{during} MiB by the last logged training step; " if during is not None else ""
    print(f"peak RSS {report['peak_rss_mib_total']} MiB ({during}{report['rss_mib_before_training']} MiB before "
          "training)")
    for c in checks:
        print(f"  {c['status']}  {c['backend']} {c['what']}: {c['value']:.4f} (target <= {c['limit']})")

    print(f"wrote {write_json(out, report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
