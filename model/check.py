"""The three-way gradient check: engine autograd · manual chain · PyTorch autograd.

One batch, one seeded initialisation, one forward definition (`model.mlp.forward_chunked`)
run on the engine and on torch; the manual chain gets the engine's forward intermediates.
Every one of the 26 named gradients is compared pairwise (exact, torch.allclose, maxdiff),
the fused manual forms of `dlogits` and `dhprebn` too, and float64 finite differences on the
parameters give an independent fourth oracle. The result is plain data for `viz` and JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import engine
import manual

from .mlp import INTERMEDIATES, PARAM_NAMES, Config, forward_chunked, init_params, to_backend
from .train import import_torch

# the rows, in the order the lecture's In [28] checks them
CHECKED = ("logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits", "logit_maxes", "logits",
           "h", "W2", "b2", "hpreact", "bngain", "bnraw", "bnbias", "bnvar_inv", "bnvar", "bndiff2", "bndiff",
           "bnmeani", "hprebn", "W1", "b1", "embcat", "emb", "C")
FUSED = ("logits", "hprebn")  # manual's fused forms (Exercises 2 and 3)
PAIRS = ("engine/torch", "manual/torch", "manual/engine")
ALIASES = {"bnstd_inv": "bnvar_inv"}  # the notebook's name for the lecture's bnvar_inv
RTOL, ATOL = 1e-5, 1e-8  # torch.allclose defaults
# In float64 the backends agree to ~1e-12 of a gradient's scale (9.1e-13 at worst, batch 2), so there a pair
# is approximate only within this fraction of the scale too: allclose alone let a 3e-6 relative error pass.
FLOAT64_AGREE = 1e-10
# In float32 two correct results can miss allclose of each other (torch's exp/tanh/sum kernels round
# differently from NumPy's). Such a miss is rounding when both sides are as accurate as the yardstick
# (torch's float32 gradient, else the engine's) against the float64 gradient: within ROUNDING_FACTOR times
# its error plus ROUNDING_ULPS of the scale (tests/accuracy.py's bound). A wrong derivative is off by about
# the scale itself, orders above; an ill-conditioned batch raises the yardstick's error and the bound with it.
ROUNDING_FACTOR, ROUNDING_ULPS = 4, 1e-6


def _torch_or_none():
    """PyTorch if it is installed (it is an optional extra), else None."""
    try:
        return import_torch()
    except ImportError:
        return None


@dataclass(frozen=True)
class Comparison:
    """How one gradient compares between two backends."""

    exact: bool  # same dtype, every entry equal
    approximate: bool  # torch.allclose: |a - b| <= 1e-8 + 1e-5 |b| everywhere (and, given, maxdiff <= within)
    maxdiff: float  # max |a - b|, 0 where both are the same infinity

    @staticmethod
    def of(a: np.ndarray, b: np.ndarray, within: float = math.inf) -> Comparison:
        if a.shape != b.shape:
            return Comparison(False, False, float("inf"))
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        with np.errstate(invalid="ignore"):
            diff = np.abs(a64 - b64)
        diff[a64 == b64] = 0  # inf - inf is NaN, yet two equal infinities agree (as torch.allclose says)
        maxdiff = float(diff.max()) if diff.size else 0.0
        close = bool(np.isclose(a64, b64, rtol=RTOL, atol=ATOL).all()) and maxdiff <= within
        return Comparison(a.dtype == b.dtype and bool(np.array_equal(a, b)), close, maxdiff)


@dataclass(frozen=True)
class Row:
    """One named tensor's gradient across the pairs of backends."""

    name: str
    shape: tuple
    scale: float  # max |gradient| of the reference, at least that of dlogits (some true gradients are 0)
    pairs: dict[str, Comparison]
    errors: dict[str, float] = field(default_factory=dict)  # float32 runs: each side's max |error| vs float64
    bound: float = 0.0  # the largest of those errors that is rounding (see ROUNDING_FACTOR)

    @property
    def exact(self) -> bool:
        return all(c.exact for c in self.pairs.values())

    @property
    def approximate(self) -> bool:
        return all(c.approximate for c in self.pairs.values())

    @property
    def maxdiff(self) -> float:
        """The worst pair's maxdiff; NaN if any pair's is (Python's max would drop a NaN that is not first)."""
        return float(np.max([c.maxdiff for c in self.pairs.values()]))

    def rounding_only(self, pair: str) -> bool:
        """Not allclose, yet both sides as accurate as the yardstick against float64: rounding, not a wrong formula.

        Always False in float64 runs (no `errors`): there the backends agree to ~1e-12 of scale.
        """
        c = self.pairs[pair]
        return not c.approximate and bool(self.errors) and all(self.errors[b] <= self.bound for b in pair.split("/"))


@dataclass(frozen=True)
class FiniteDifference:
    """d loss along a random unit direction v of one parameter: <grad, v> against (L(p+hv) - L(p-hv)) / 2h."""

    name: str
    analytical: float
    numerical: float

    @property
    def ok(self) -> bool:
        return abs(self.analytical - self.numerical) <= 1e-6 * max(abs(self.numerical), abs(self.analytical)) + 1e-9


@dataclass
class CheckResult:
    """All rows of the check; `ok` when every pair agrees approximately and finite differences agree."""

    config: dict
    backends: tuple[str, ...]
    rows: list[Row]
    fused: list[Row]
    finite_differences: list[FiniteDifference]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.approximate for r in self.rows + self.fused) and all(f.ok for f in self.finite_differences)

    @property
    def rounding_only(self) -> bool:
        """Every disagreement is float rounding (see Row.rounding_only), none a wrong derivative."""
        return all(r.approximate or all(c.approximate or r.rounding_only(p) for p, c in r.pairs.items())
                   for r in self.rows + self.fused) and all(f.ok for f in self.finite_differences)

    def failures(self) -> list[str]:
        bad = [f"{r.name}: {p}" for r in self.rows + self.fused for p, c in r.pairs.items() if not c.approximate]
        return bad + [f"{f.name}: finite differences" for f in self.finite_differences if not f.ok]

    def row(self, name: str) -> Row:
        """The row of `name`; the notebook's `bnstd_inv` finds the lecture's `bnvar_inv`."""
        name = ALIASES.get(name, name)
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"check: no row named {name!r}; the rows are {', '.join(r.name for r in self.rows)}")

    def verdicts(self) -> dict[str, dict]:
        """{name: {exact, approximate, maxdiff, rounding}} — what `viz.draw(check=...)` colours by.

        A tensor's verdict covers every pair of its row, of its fused row (logits, hprebn) and its finite
        difference (parameters): a failure the table shows is never drawn as agreement. `rounding` marks a
        tensor whose every miss is float rounding (Row.rounding_only), not a wrong derivative.
        """
        fused = {r.name: r for r in self.fused}
        fd_bad = {f.name for f in self.finite_differences if not f.ok}
        out = {}
        for r in self.rows:
            pairs = [(row, p, c) for row in (r, fused.get(r.name)) if row is not None for p, c in row.pairs.items()]
            approximate = all(c.approximate for _, _, c in pairs) and r.name not in fd_bad
            out[r.name] = {"exact": all(c.exact for _, _, c in pairs) and r.name not in fd_bad,
                           "approximate": approximate,
                           "maxdiff": float(np.max([c.maxdiff for _, _, c in pairs])),
                           "rounding": not approximate and r.name not in fd_bad
                           and all(c.approximate or row.rounding_only(p) for row, p, c in pairs)}
        return out

    def to_dict(self) -> dict:
        return {
            "config": self.config, "backends": list(self.backends), "ok": self.ok,
            "rows": [_row_dict(r) for r in self.rows], "fused": [_row_dict(r) for r in self.fused],
            "finite_differences": [{**asdict(f), "ok": f.ok} for f in self.finite_differences],
            "notes": self.notes,
        }

    def to_json(self) -> str:
        """`to_dict()` as strict JSON: a NaN or infinite number (a broken backward's maxdiff) is the string
        "nan", "inf" or "-inf", since JSON has no such numbers."""
        return json.dumps(_finite_json(self.to_dict()), indent=2, allow_nan=False)

    def table(self) -> str:
        """The terminal table: one line per tensor, like the notebook's `cmp`, one column per pair."""
        pairs = [p for p in PAIRS if any(p in r.pairs for r in self.rows)]
        lines = [f"{'tensor':17s} {'shape':>11s}  " + "  ".join(f"{p:25s}" for p in pairs)]
        for r in self.rows + self.fused:
            cells = []
            for p in pairs:
                c = r.pairs.get(p)
                verdict = ("—" if c is None else "exact" if c.exact else "approx" if c.approximate
                           else "differs*" if r.rounding_only(p) else "DIFFERS")
                cells.append(f"{verdict:8s} maxdiff {c.maxdiff:<8.2g}" if c else f"{verdict:25s}")
            name = f"{r.name} (fused)" if r in self.fused else r.name
            lines.append(f"{name:17s} {str(r.shape):>11s}  " + "  ".join(f"{c:25s}" for c in cells))
        if self.finite_differences:
            fd = ", ".join(f"{f.name} {'ok' if f.ok else 'BAD'}" for f in self.finite_differences)
            lines.append(f"finite differences (float64, random direction per parameter): {fd}")
        if any(r.rounding_only(p) for r in self.rows + self.fused for p in r.pairs):
            lines.append(f"* not allclose, but both gradients are within {ROUNDING_FACTOR}x the yardstick's float32 "
                         f"error against float64 (+{ROUNDING_ULPS:g} of scale): float32 rounding (torch and NumPy "
                         "round exp/tanh/sums differently), not a wrong derivative")
        lines += self.notes
        n_exact = sum(r.exact for r in self.rows)
        if self.ok:
            verdict = "all gradients agree"
        elif self.rounding_only:
            verdict = f"no wrong derivative; {len(self.failures())} pairs miss allclose by float rounding only (*)"
        else:
            verdict = "DISAGREEMENT: " + "; ".join(self.failures())
        lines.append(f"{verdict} ({n_exact}/{len(self.rows)} rows exact across all pairs, "
                     f"{self.config['dtype']}, batch {self.config['batch_size']}, n_hidden {self.config['n_hidden']})")
        return "\n".join(lines)


def _finite_json(data: Any) -> Any:
    """`data` (dicts, lists, numbers, ...) with every non-finite float replaced by str(x): 'nan', 'inf', '-inf'."""
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {k: _finite_json(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite_json(v) for v in data]
    return data


def _row_dict(r: Row) -> dict:
    return {"name": r.name, "shape": list(r.shape), "scale": r.scale, "exact": r.exact,
            "approximate": r.approximate, "maxdiff": r.maxdiff, "pairs": {k: asdict(v) for k, v in r.pairs.items()}}


def autograd_gradients(ns, params: dict, Xb: np.ndarray, Yb: np.ndarray) -> tuple[dict, dict[str, np.ndarray]]:
    """The chunked forward and its backward on `ns` (engine or torch) from NumPy parameters.

    Returns the forward tensors by name and the gradients of all 26 checked tensors as NumPy arrays.
    """
    P = to_backend(params, ns)
    fwd = forward_chunked(ns, P, ns.as_tensor(Xb), ns.as_tensor(Yb))
    for t in fwd.values():
        t.retain_grad()
    fwd["loss"].backward()
    grads = {**{n: fwd[n].grad for n in INTERMEDIATES[:-1]}, **{n: P[n].grad for n in PARAM_NAMES}}
    return fwd, {n: np.asarray(g) for n, g in grads.items()}


def _loss64(params: dict, Xb: np.ndarray, Yb: np.ndarray) -> float:
    with engine.no_grad():
        P = to_backend(params, engine, requires_grad=False)
        return forward_chunked(engine, P, engine.tensor(Xb), engine.tensor(Yb))["loss"].item()


def finite_differences(params: dict, Xb: np.ndarray, Yb: np.ndarray, rng: np.random.Generator,
                       backward: Callable = manual.backward_chain, h: float = 1e-5) -> list[FiniteDifference]:
    """Central differences of the float64 loss along one random unit direction per parameter."""
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    fwd, _ = autograd_gradients(engine, p64, Xb, Yb)
    grads = _gradients(backward, {k: v.data for k, v in fwd.items()}, p64, Xb, Yb,
                       {name: p64[name].shape for name in PARAM_NAMES})
    out = []
    for name in PARAM_NAMES:
        v = rng.standard_normal(p64[name].shape)
        v /= np.linalg.norm(v)
        plus, minus = dict(p64), dict(p64)
        plus[name], minus[name] = p64[name] + h * v, p64[name] - h * v
        numerical = (_loss64(plus, Xb, Yb) - _loss64(minus, Xb, Yb)) / (2 * h)
        out.append(FiniteDifference(name, float(np.sum(grads[name] * v)), float(numerical)))
    return out


def _gradients(backward: Callable, fwd: dict, params: dict, Xb: np.ndarray, Yb: np.ndarray,
               shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """{name: backward's 'd' + name} for every name in `shapes`; ValueError for a missing or misshapen one."""
    who = f"check: backward={getattr(backward, '__name__', backward)}"
    grads = backward(fwd, params, Xb, Yb)
    if not isinstance(grads, Mapping):
        raise TypeError(f"{who} must return a dict of gradients {{'d' + name: array}}, got {type(grads).__name__}")
    out = {}
    for name, shape in shapes.items():
        if "d" + name not in grads:
            raise ValueError(f"{who} returned no 'd{name}'; it must return the gradient of every checked tensor")
        out[name] = np.asarray(grads["d" + name])
        if out[name].shape != shape:
            raise ValueError(f"{who} returned d{name} of shape {out[name].shape}; {name} has shape {shape}")
    return out


def run_check(X: np.ndarray, Y: np.ndarray, vocab_size: int, cfg: Config, *,
              backward: Callable = manual.backward_chain, with_torch: bool = True,
              with_finite_differences: bool = True) -> CheckResult:
    """Differentiate one batch of (X, Y) three ways and compare every gradient.

    `cfg` gives batch_size, n_embd, n_hidden, block_size, seed and dtype. `backward` is the manual
    chain (swap in a broken one to see the check fail); it must return an array of each checked tensor's
    shape under 'd' + its name (ValueError naming the tensor otherwise). Without torch the engine/manual
    pair remains and a note says so.
    """
    rng = np.random.default_rng(cfg.seed)
    X, Y = np.asarray(X), np.asarray(Y)
    if X.ndim != 2 or X.shape[1] != cfg.block_size or X.shape[0] == 0:
        raise ValueError(f"check: X has shape {X.shape}, expected (N, block_size={cfg.block_size}) with N >= 1")
    if Y.shape != X.shape[:1]:
        raise ValueError(f"check: Y has shape {Y.shape}, expected ({X.shape[0]},): one target per row of X")
    params = init_params(vocab_size, cfg, rng)
    ix = rng.integers(0, X.shape[0], cfg.batch_size)
    Xb, Yb = X[ix], Y[ix]
    config = {**cfg.to_dict(), "vocab_size": vocab_size}
    notes = []

    fwd, engine_grads = autograd_gradients(engine, params, Xb, Yb)
    got = {"engine": engine_grads}
    got["manual"] = _gradients(backward, {n: t.data for n, t in fwd.items()}, params, Xb, Yb,
                               {n: engine_grads[n].shape for n in CHECKED})
    fused = manual.backward_fused({n: t.data for n, t in fwd.items()}, params, Xb, Yb)

    torch = _torch_or_none() if with_torch else None
    if torch is not None:
        got["torch"] = autograd_gradients(torch, params, Xb, Yb)[1]
    elif with_torch:
        notes.append("note: PyTorch is not installed, so only manual/engine is compared "
                     "(pip install 'ninjagrad[torch]' for the third opinion)")
    backends = tuple(b for b in ("engine", "manual", "torch") if b in got)
    pairs = [p for p in PAIRS if all(b in got for b in p.split("/"))]

    floor = float(np.abs(got["engine"]["logits"]).max())
    float64 = cfg.dtype == "float64"  # strict agreement, and no miss put down to rounding
    yardstick = "torch" if torch is not None else "engine"
    exact = {} if float64 else autograd_gradients(  # float32 runs: the float64 gradients rounding is measured from
        torch if torch is not None else engine, {k: v.astype(np.float64) for k, v in params.items()}, Xb, Yb)[1]

    def row(name: str, grads: dict[str, np.ndarray], pair_names) -> Row:
        ref = grads.get("torch", grads["engine"])
        scale = max(float(np.abs(ref).max()), floor)
        within = FLOAT64_AGREE * scale if float64 else math.inf
        comparisons = {p: Comparison.of(grads[p.split("/")[0]], grads[p.split("/")[1]], within) for p in pair_names}
        if float64:
            return Row(name, tuple(ref.shape), scale, comparisons)
        errors = {b: float(np.abs(g.astype(np.float64) - exact[name]).max(initial=0.0)) for b, g in grads.items()}
        bound = ROUNDING_FACTOR * errors[yardstick] + ROUNDING_ULPS * scale
        return Row(name, tuple(ref.shape), scale, comparisons, errors, bound)

    rows = [row(n, {b: got[b][n] for b in backends}, pairs) for n in CHECKED]
    fused_pairs = [p for p in pairs if p.startswith("manual/")]
    fused_rows = [row(n, {**{b: got[b][n] for b in backends}, "manual": fused["d" + n]}, fused_pairs)
                  for n in FUSED]
    fd = finite_differences(params, Xb, Yb, rng, backward) if with_finite_differences else []
    return CheckResult(config, backends, rows, fused_rows, fd, notes)
