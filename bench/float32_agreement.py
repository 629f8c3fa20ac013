"""How often float32 gradients miss torch.allclose — PyTorch's own included — for random seeds.

For each seed: one batch, the chunked forward of In [27], and the 26 gradients from PyTorch (float32),
the engine (float32) and the exact reference (the engine in float64). Counts the seeds where some
gradient misses torch.allclose (rtol 1e-5, atol 1e-8) for each pair. It shows the float32 comparison
measures rounding: torch's float32 gradients miss the exact ones about as often as the engine's do.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

import engine
from model.data import build_splits, load_names
from model.mlp import INTERMEDIATES, PARAM_NAMES, Config, forward_chunked, init_params, to_backend


def gradients(ns, params: dict, Xb: np.ndarray, Yb: np.ndarray, torch) -> dict[str, np.ndarray]:
    P = to_backend(params, ns)
    index = torch.from_numpy if ns is torch else engine.tensor
    fwd = forward_chunked(ns, P, index(Xb), index(Yb))
    for t in fwd.values():
        t.retain_grad()
    fwd["loss"].backward()
    grads = {n: fwd[n].grad for n in INTERMEDIATES[:-1]} | {n: P[n].grad for n in PARAM_NAMES}
    return {k: v.numpy() if ns is torch else v for k, v in grads.items()}


def misses(a: dict, b: dict) -> list[str]:
    return [k for k in a if not np.allclose(a[k], b[k], rtol=1e-5, atol=1e-8)]


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds per size (default 20)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 200], help="n_hidden values (default 64 200)")
    parser.add_argument("--data", default=os.environ.get("NINJAGRAD_NAMES") or
                        str(Path(__file__).resolve().parents[2] / "shared" / "data" / "names.txt"))
    args = parser.parse_args()
    splits = build_splits(load_names(args.data).words)
    for hidden in args.hidden:
        counts = {"torch32 vs exact": 0, "engine32 vs exact": 0, "engine32 vs torch32": 0}
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            params = init_params(splits.vocab.size, Config(n_hidden=hidden, seed=seed), rng)
            ix = rng.integers(0, len(splits.Xtr), 32)
            Xb, Yb = splits.Xtr[ix], splits.Ytr[ix]
            t32, e32 = gradients(torch, params, Xb, Yb, torch), gradients(engine, params, Xb, Yb, torch)
            exact = gradients(engine, {k: v.astype(np.float64) for k, v in params.items()}, Xb, Yb, torch)
            counts["torch32 vs exact"] += bool(misses(t32, exact))
            counts["engine32 vs exact"] += bool(misses(e32, exact))
            counts["engine32 vs torch32"] += bool(misses(e32, t32))
        print(f"n_hidden {hidden}, batch 32: seeds (of {args.seeds}) where some gradient misses allclose: "
              + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
