"""Gradients where memory layout or a non-finite number could make them silently wrong, against torch float64.

A transposed tensor is Fortran-ordered, so writing through `reshape(-1)` of it writes into a copy; an inf in an
upstream gradient turns a one-hot product's 0 * inf into NaN in rows that were never picked.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine
import engine.functional as F
from manual.embedding import embedding_backward

LOGITS = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])  # (2, 3): its transpose is 3 examples of 2 classes


def _leaf(torch, data):
    return torch.tensor(data, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("layout", ["transpose", "permute", "computed-then-transposed"])
def test_cross_entropy_of_a_transposed_input_matches_torch(torch, layout, reduction):
    """The fused backward subtracts the one-hot at flat positions: it must land in dlogits, whatever x's layout."""
    target = [0, 1, 0]
    w = engine.tensor(LOGITS, dtype=engine.float64, requires_grad=True)
    tw = _leaf(torch, LOGITS)
    make = {
        "transpose": lambda x, ns: x.T,
        "permute": lambda x, ns: x.permute(1, 0),
        "computed-then-transposed": lambda x, ns: (x * 2).T,
    }[layout]
    loss = F.cross_entropy(make(w, engine), engine.tensor(target), reduction=reduction)
    tloss = torch.nn.functional.cross_entropy(make(tw, torch), torch.tensor(target), reduction=reduction)
    np.testing.assert_allclose(loss.data, tloss.detach().numpy(), rtol=1e-12)
    loss.sum().backward()
    tloss.sum().backward()
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("transposed", [False, True])
def test_extreme_over_everything_splits_its_gradient_between_nans_as_torch(torch, op, transposed):
    data = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, -1.0]])
    x, tx = engine.tensor(data, dtype=engine.float64, requires_grad=True), _leaf(torch, data)
    view = (lambda t: t.T) if transposed else (lambda t: t)
    z, tz = getattr(view(x), op)(), getattr(view(tx), op)()
    assert math.isnan(z.item()) and math.isnan(tz.item())
    z.backward()
    tz.backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())
    np.testing.assert_array_equal(x.grad, [[0, 0.5], [0, 0.5], [0, 0]])


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_row_gather_backward_keeps_unpicked_rows_zero_under_a_non_finite_gradient(torch, bad):
    """C[idx] over a small table (the one-hot product path): rows idx never picks get exactly 0, as in torch."""
    table = np.arange(8.0).reshape(4, 2)
    idx = np.array([[0, 2], [2, 0]])
    seed = np.ones((2, 2, 2))
    seed[0, 0, 0] = bad
    c, tc = engine.tensor(table, dtype=engine.float64, requires_grad=True), _leaf(torch, table)
    c[engine.tensor(idx)].backward(seed)
    tc[torch.tensor(idx)].backward(torch.tensor(seed))
    np.testing.assert_array_equal(c.grad, tc.grad.numpy())
    np.testing.assert_array_equal(c.grad[[1, 3]], 0)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_manual_embedding_backward_keeps_unpicked_rows_zero_under_a_non_finite_gradient(bad):
    demb = np.ones((2, 2, 3), np.float32)
    demb[1, 0, 2] = bad
    Xb = np.array([[0, 1], [1, 1]])
    expected = np.zeros((5, 3), np.float32)
    np.add.at(expected, Xb.reshape(-1), demb.reshape(4, 3))
    dC = embedding_backward(demb, Xb, 5)
    np.testing.assert_array_equal(dC, expected)
    np.testing.assert_array_equal(dC[2:], 0)


@pytest.mark.parametrize("a, b", [(0.0, -1.0), (0.0, -2.5), (0.0, 0.0), (0.0, 2.0), (2.0, -1.0)])
def test_pow_exponent_gradient_at_base_zero_matches_torch(torch, a, b):
    """dz/db = a**b log a: torch zeroes it where a == 0 and b >= 0 only; a negative b keeps -inf (or NaN)."""
    x, y = (engine.tensor([v], dtype=engine.float64, requires_grad=True) for v in (a, b))
    tx, ty = _leaf(torch, [a]), _leaf(torch, [b])
    with np.errstate(divide="ignore", invalid="ignore"):
        (x**y).sum().backward()
    (tx**ty).sum().backward()
    np.testing.assert_array_equal(y.grad, ty.grad.numpy())
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())


@pytest.mark.parametrize("a, expected", [(float("nan"), float("nan")), (709.0, math.exp(709.0)), (709.9, math.inf),
                                         (1e6, math.inf), (-1e6, 0.0)])
def test_value_exp_at_the_edges_of_float_range(a, expected):
    v = engine.Value(a)
    z = v.exp()
    z.backward()
    np.testing.assert_array_equal([z.data, v.grad], [expected, expected])  # dz/da = z
