"""How often float32 gradients miss torch.allclose — PyTorch's own included — for random seeds.

For each seed and size: one batch, the chunked forward of In [27], and the 26 gradients from PyTorch
(float32), the engine (float32) and the exact reference (the engine in float64). Counts the seeds where
some gradient misses torch.allclose (rtol 1e-5, atol 1e-8) for each pair, and for "ideal vs torch32":
the exact gradients rounded to float32, the best any float32 implementation could return, against
torch's. Where even those miss, the float32 comparison measures rounding, not calculus.

    python bench/float32_agreement.py --seeds 20 --batch 2 32 1024 --hidden 64 200
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import engine  # noqa: E402
from bench._common import find_names  # noqa: E402
from model.check import autograd_gradients  # noqa: E402
from model.data import build_splits, load_names  # noqa: E402
from model.mlp import Config, init_params  # noqa: E402

PAIRS = ("torch32 vs exact", "ideal vs torch32", "engine32 vs exact", "engine32 vs torch32")


def misses(a: dict, b: dict) -> list[str]:
    """The names whose gradients miss torch.allclose(a, b)."""
    return [k for k in a if not np.allclose(a[k], b[k], rtol=1e-5, atol=1e-8)]


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds per size (default 20)")
    parser.add_argument("--batch", type=int, nargs="+", default=[32], help="batch sizes (default 32)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 200], help="n_hidden values (default 64 200)")
    parser.add_argument("--data", type=Path, default=None,
                        help="names file (default: $NINJAGRAD_NAMES, else ../shared/data/names.txt)")
    args = parser.parse_args()
    data = find_names(args.data)
    if data is None:
        parser.error("no names.txt found: pass --data or set NINJAGRAD_NAMES")
    splits = build_splits(load_names(data).words)
    print(f"seeds (of {args.seeds}) where some gradient misses torch.allclose; in brackets the rows that miss")
    for batch in args.batch:
        for hidden in args.hidden:
            seeds, rows = Counter(), {pair: Counter() for pair in PAIRS}
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                params = init_params(splits.vocab.size, Config(n_hidden=hidden, seed=seed), rng)
                ix = rng.integers(0, len(splits.Xtr), batch)
                Xb, Yb = splits.Xtr[ix], splits.Ytr[ix]
                t32 = autograd_gradients(torch, params, Xb, Yb)[1]
                e32 = autograd_gradients(engine, params, Xb, Yb)[1]
                exact = autograd_gradients(engine, {k: v.astype(np.float64) for k, v in params.items()}, Xb, Yb)[1]
                ideal = {k: v.astype(np.float32) for k, v in exact.items()}
                for pair, (a, b) in zip(PAIRS, ((t32, exact), (ideal, t32), (e32, exact), (e32, t32))):
                    missed = misses(a, b)
                    seeds[pair] += bool(missed)
                    rows[pair].update(missed)
            print(f"batch {batch}, n_hidden {hidden}:")
            for pair in PAIRS:
                named = ", ".join(f"{k} {v}" for k, v in rows[pair].most_common(4))
                print(f"  {pair:20s} {seeds[pair]:3d}" + (f"  [{named}]" if named else ""))


if __name__ == "__main__":
    main()
