"""Indexing against torch on random keys: ints (negative too), slices, None, ..., index lists, tensors and
NumPy arrays, masks.

NumPy and torch disagree when integers and index arrays mix (torch applies the integers first), so random
keys mixing them are where a wrong axis order would show. Values and float64 gradients must match torch
exactly (indexing moves numbers; the gradient only adds them), and what torch refuses the engine refuses.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine


@st.composite
def shape_and_key(draw):
    shape = tuple(draw(st.lists(st.integers(2, 4), min_size=1, max_size=3)))
    parts, dim = [], 0
    ellipsis = False
    for _ in range(draw(st.integers(1, len(shape) + 1))):
        kind = draw(st.sampled_from(["int", "slice", "none", "list", "tensor2d", "array2d", "mask", "ellipsis"]))
        if kind == "none":
            parts.append(None)
            continue
        if kind == "ellipsis":
            if not ellipsis:
                ellipsis = True
                parts.append(Ellipsis)
            continue
        if dim >= len(shape):
            break
        n = shape[dim]
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-n, n))
            stop = draw(st.none() | st.integers(-n, n))
            parts.append(slice(start, stop, draw(st.none() | st.integers(1, 2))))
        elif kind == "list":
            parts.append(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4)))
        elif kind in ("tensor2d", "array2d"):
            parts.append((kind[:-2], draw(st.lists(st.lists(st.integers(-n, n - 1), min_size=2, max_size=2),
                                                  min_size=1, max_size=2))))
        else:
            parts.append(("mask", draw(st.lists(st.booleans(), min_size=n, max_size=n))))
        dim += 1
    return shape, tuple(parts)


def _key(parts, lib):
    out = []
    for p in parts:
        if isinstance(p, tuple) and p[0] == "tensor":
            out.append(lib.tensor(p[1]))
        elif isinstance(p, tuple) and p[0] == "array":  # a NumPy index array: the engine takes it as it is
            out.append(np.array(p[1]) if lib is engine else lib.tensor(p[1]))
        elif isinstance(p, tuple) and p[0] == "mask":
            out.append(lib.tensor(p[1]))
        else:
            out.append(p)
    return tuple(out)


@settings(max_examples=300, deadline=None)
@given(shape_and_key())
def test_random_keys_index_and_backprop_as_torch(torch, case):
    shape, parts = case
    data = np.random.default_rng(0).standard_normal(shape)
    t = torch.tensor(data, requires_grad=True)
    try:
        want = t[_key(parts, torch)]
    except (IndexError, RuntimeError, ValueError, TypeError):
        with pytest.raises((IndexError, ValueError, TypeError, RuntimeError)):
            engine.tensor(data)[_key(parts, engine)]
        return
    e = engine.tensor(data, requires_grad=True)
    got = e[_key(parts, engine)]
    assert got.shape == tuple(want.shape), (parts, got.shape, tuple(want.shape))
    np.testing.assert_array_equal(got.data, want.detach().numpy())
    r = np.random.default_rng(1).standard_normal(tuple(want.shape))
    (want * torch.tensor(r)).sum().backward()
    (got * engine.tensor(r)).sum().backward()
    np.testing.assert_allclose(e.grad, t.grad.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("mask", [[True, True], [False, True], [False, False]])
def test_an_ellipsis_standing_for_no_axes_keeps_index_arrays_adjacent_as_torch(torch, mask):
    """x[:, mask, ..., [0]] on 3 axes: the Ellipsis covers nothing, so (as in torch) the mask's and [0]'s
    axis stays in place; NumPy alone would move it to the front. Read, gradient and write all agree."""
    data = np.arange(8.0).reshape(2, 2, 2)
    t = torch.tensor(data, requires_grad=True)
    e = engine.tensor(data, requires_grad=True)
    want = t[:, torch.tensor(mask), ..., [0]]
    got = e[:, engine.tensor(mask), ..., [0]]
    assert got.shape == tuple(want.shape)
    np.testing.assert_array_equal(got.data, want.detach().numpy())
    r = np.arange(want.numel(), dtype=np.float64).reshape(tuple(want.shape)) + 1
    (want * torch.tensor(r)).sum().backward()
    (got * engine.tensor(r)).sum().backward()
    np.testing.assert_array_equal(e.grad, t.grad.numpy())
    tw, ew = torch.tensor(data), engine.tensor(data)
    tw[:, torch.tensor(mask), ..., [0]] = torch.tensor(r)
    ew[:, engine.tensor(mask), ..., [0]] = engine.tensor(r)
    np.testing.assert_array_equal(ew.data, tw.numpy())
