"""The three-way check result, as `viz.draw(check=...)` reads it.

A check is plain data: name -> verdict, a verdict holding `exact` (all three pairs of gradients equal),
`approximate` (all pairs allclose), `maxdiff` (the worst max-abs difference: a float >= 0, or NaN when
a difference is NaN, which can only be a mismatch and is drawn as "WRONG maxdiff nan") and, optionally,
`rounding` (not allclose, but judged float rounding rather than a wrong derivative). `as_verdicts` accepts
that mapping, an object with a `.verdicts()` method returning it, or an iterable of rows (dicts or
objects) that carry `name` beside the three fields; `status` turns a verdict into a colour class.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Status = Literal["exact", "approximate", "rounding", "mismatch"]

# The lecture prints `bnvar_inv` in its comparisons but names the forward tensor `bnstd_inv` in places;
# either name matches a tensor called by the other.
ALIASES: Mapping[str, str] = {"bnvar_inv": "bnstd_inv", "bnstd_inv": "bnvar_inv"}


@dataclass(frozen=True)
class Verdict:
    """One row of the check: exact (all pairs equal), approximate (all pairs allclose), worst maxdiff."""

    exact: bool
    approximate: bool
    maxdiff: float | None = None
    rounding: bool = False  # not allclose, but the check judged the difference float rounding

    @property
    def status(self) -> Status:
        """'exact', 'approximate' (allclose but not equal), 'rounding' (not allclose, but float
        rounding as the check judged it) or 'mismatch' (some pair not allclose: a wrong derivative)."""
        if self.exact:
            return "exact"
        if self.approximate:
            return "approximate"
        return "rounding" if self.rounding else "mismatch"


def _field(row: Any, key: str, default: Any = None) -> Any:
    if isinstance(row, Mapping):
        return row.get(key, default)
    return getattr(row, key, default)


def _flag(name: str, key: str, value: Any) -> bool:
    """A verdict's yes/no field: a bool (Python's or NumPy's), never a string or array that bool() would accept."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise TypeError(f"check: {key!r} of the verdict for {name!r} must be True or False, got "
                    f"{type(value).__name__} {value!r:.40}")


def _verdict(name: str, row: Any) -> Verdict:
    if isinstance(row, Verdict):
        return row
    exact = _field(row, "exact")
    if exact is None:
        raise TypeError(f"check: the verdict for {name!r} has no 'exact' field (got {type(row).__name__} {row!r:.80})")
    exact = _flag(name, "exact", exact)
    approximate = _field(row, "approximate")
    approximate = exact if approximate is None else _flag(name, "approximate", approximate)
    if exact and not approximate:
        raise ValueError(f"check: the verdict for {name!r} says exact but not approximate; equal gradients are "
                         "also allclose")
    maxdiff = _field(row, "maxdiff")
    if maxdiff is not None:
        maxdiff = _maxdiff(name, maxdiff)
    rounding = _flag(name, "rounding", _field(row, "rounding", False))
    if maxdiff is not None and math.isnan(maxdiff) and (approximate or rounding):
        raise ValueError(f"check: the verdict for {name!r} has maxdiff NaN (the gradients disagree) but says "
                         f"{'approximate' if approximate else 'rounding'}")
    return Verdict(exact, approximate, maxdiff, rounding)


def _maxdiff(name: str, value: Any) -> float:
    """A verdict's maxdiff as a float: a number >= 0 (inf included), or NaN (a NaN difference)."""
    try:
        number = float(value)  # also unwraps 0-d tensors and arrays
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range
        number = None
    if number is None or isinstance(value, bool | np.bool_ | str | bytes):
        raise TypeError(f"check: 'maxdiff' of the verdict for {name!r} must be a number, got "
                        f"{type(value).__name__} {value!r:.40}")
    if number < 0:
        raise ValueError(f"check: 'maxdiff' of the verdict for {name!r} is {number}; a maximum absolute "
                         "difference is never negative")
    return number


def as_verdicts(check: Any) -> dict[str, Verdict]:
    """Normalise a check result to {name: Verdict}.

    Accepts {name: {"exact": bool, "approximate": bool, "maxdiff": float}} (values may also be objects
    with those attributes), an object whose `.verdicts()` returns such a mapping, or an iterable of
    rows, each a dict or object with `name`, `exact`, `approximate`, `maxdiff`, and optionally
    `rounding`. A missing `approximate` follows `exact`; a missing `maxdiff` is None.
    """
    if hasattr(check, "verdicts") and callable(check.verdicts):
        check = check.verdicts()
    if isinstance(check, Mapping):
        return {str(name): _verdict(str(name), row) for name, row in check.items()}
    if isinstance(check, Iterable) and not isinstance(check, str | bytes):
        out: dict[str, Verdict] = {}
        for row in check:
            name = _field(row, "name")
            if name is None:
                raise TypeError(f"check: a row has no 'name' field: {row!r:.80}")
            out[str(name)] = _verdict(str(name), row)
        return out
    raise TypeError(
        f"check: expected a mapping name -> verdict, an object with .verdicts(), or an iterable of rows, "
        f"got {type(check).__name__}"
    )


def lookup(verdicts: Mapping[str, Verdict], names: Iterable[str]) -> tuple[Verdict | None, list[str]]:
    """The worst verdict among `names` (each tried as is, then via ALIASES, then without a leading 'd'),
    and the check names that matched."""
    matched: list[str] = []
    for name in names:
        alias = ALIASES.get(name)
        keys = (name, alias, "d" + name, "d" + alias) if alias else (name, "d" + name)
        for key in keys:
            if key in verdicts and key not in matched:
                matched.append(key)
    if not matched:
        return None, matched
    rank = {"exact": 0, "approximate": 1, "rounding": 2, "mismatch": 3}
    worst = max((verdicts[k] for k in matched), key=lambda v: (rank[v.status], v.maxdiff or 0.0))
    maxdiffs = [verdicts[k].maxdiff for k in matched if verdicts[k].maxdiff is not None]
    maxdiff = float(np.max(maxdiffs)) if maxdiffs else None  # NaN if any is (Python's max may drop it)
    return Verdict(worst.exact, worst.approximate, maxdiff, worst.rounding), matched
