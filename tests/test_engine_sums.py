"""engine.graph.add_reduce: NumPy's sum, but pairwise along long axes, so float32 batch sums stay accurate.

Oracles: the float64 sum (values to 1e-12 relative in float64; the float32 error bound below), NumPy's own
float32 sum (bitwise for at most PAIRWISE_ROWS rows, whose error the pairwise sum must beat on long axes),
and manual.batch_sum, which must give the same bits so manual and engine gradients stay exact.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine.graph import PAIRWISE_ROWS, add_reduce
from manual._common import batch_sum, batch_summer

EPS32 = float(np.finfo(np.float32).eps)


@st.composite
def arrays_and_axes(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=80))
    x = draw(hnp.arrays(np.float64, shape, elements=st.floats(-1e3, 1e3)))
    axes = draw(st.none() | st.lists(st.integers(0, len(shape) - 1), min_size=1, unique=True).map(sorted).map(tuple))
    return x, axes, draw(st.booleans())


@settings(max_examples=150, deadline=None)
@given(arrays_and_axes())
def test_add_reduce_is_numpys_sum(case):
    """Same shape as np.add.reduce for every axes/keepdims, same value to 1e-12 of sum |x| (float64)."""
    x, axes, keepdims = case
    want = np.add.reduce(x, axis=axes, keepdims=keepdims)
    got = add_reduce(x, axes, keepdims)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * max(np.abs(x).sum(), 1.0))


def _relative_error(x32: np.ndarray, got: np.ndarray) -> float:
    """max over columns of |got - exact| / sum |x| (the scale a sum's rounding error is measured against)."""
    exact = x32.astype(np.float64).sum(0)
    return float((np.abs(got - exact) / np.abs(x32).astype(np.float64).sum(0)).max())


@pytest.mark.parametrize("n", [1024, 2049])
def test_a_long_float32_batch_sum_beats_numpys_sequential_one(n):
    """At n >= 1024 NumPy's axis-0 float32 sum is off by several eps of sum |x|; pairwise stays within 2 eps."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((n, 200)) * 1e-3 + 2e-4).astype(np.float32)  # a drift, as gradients have
    sequential, pairwise = _relative_error(x, np.add.reduce(x, axis=0)), _relative_error(x, add_reduce(x, (0,)))
    assert pairwise < 2 * EPS32 < sequential
    assert pairwise < sequential / 3


@pytest.mark.parametrize("n", [2, 31, PAIRWISE_ROWS])
def test_a_short_batch_is_one_blas_product_within_the_sequential_bound(n):
    """No halving at <= PAIRWISE_ROWS rows: ones(1, n) @ x, as accurate as a sequential sum ((n-1) eps of sum |x|)."""
    x = np.random.default_rng(1).standard_normal((n, 7)).astype(np.float32)
    got = add_reduce(x, (0,))
    np.testing.assert_array_equal(got, (np.ones((1, n), np.float32) @ x)[0])
    assert _relative_error(x, got) <= max(n - 1, 1) * EPS32


def test_what_blas_cannot_sum_is_numpys_sum():
    """Integers, a strided (transposed) batch, and other axes are summed exactly as NumPy does."""
    x = np.random.default_rng(3).standard_normal((7, 5)).astype(np.float32)
    np.testing.assert_array_equal(add_reduce(x.T.copy().T, (0,)), np.add.reduce(x.T.copy().T, axis=0))
    np.testing.assert_array_equal(add_reduce(x, (1,)), np.add.reduce(x, axis=1))
    ints = np.arange(35).reshape(7, 5)
    np.testing.assert_array_equal(add_reduce(ints, (0,)), ints.sum(0))
    assert add_reduce(ints, (0,)).dtype == ints.dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [2, 6, 17, 32, 33, 64, 65, 1000, 1025])
@pytest.mark.parametrize("features", [1, 5, 200])
def test_manual_batch_sum_gives_the_engines_bits(n, features, dtype):
    x = np.random.default_rng(n).standard_normal((n, features)).astype(dtype)
    np.testing.assert_array_equal(batch_sum(x), add_reduce(x, (0,)))
    np.testing.assert_array_equal(batch_sum(x, keepdims=True), add_reduce(x, (0,), True))
    out = np.empty(features, dtype)
    assert batch_sum(x, out=out) is out
    np.testing.assert_array_equal(out, add_reduce(x, (0,)))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("n", [2, 31, 32, 33, 1025])
@pytest.mark.parametrize("weight", [1.0, 0.25, 1 / 3])
def test_batch_summer_is_batch_sum_bit_for_bit(n, dtype, weight):
    """The training step's sums (the BLAS product up to PAIRWISE_ROWS rows, batch_sum beyond) are batch_sum's."""
    x = np.random.default_rng(n).standard_normal((n, 7)).astype(dtype)
    sum_rows = batch_summer(n, np.dtype(dtype), weight)
    want = batch_sum(x, keepdims=True, weight=weight)
    np.testing.assert_array_equal(sum_rows(x), want)
    out = np.empty((1, 7), dtype)
    assert sum_rows(x, out=out) is out
    np.testing.assert_array_equal(out, want)
    assert out.dtype == dtype


def test_a_weighted_batch_sum_is_the_mean():
    x = np.random.default_rng(4).standard_normal((40, 3))
    np.testing.assert_allclose(batch_sum(x, keepdims=True, weight=1 / 40), x.mean(0, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(batch_sum(x.T.copy().T, weight=0.5), x.sum(0) / 2, rtol=1e-14)  # strided


def test_the_odd_row_is_counted_once():
    """An odd number of rows at each halving (65 -> 32 + the odd one): integers sum exactly."""
    x = np.arange(65 * 3).reshape(65, 3)
    np.testing.assert_array_equal(add_reduce(x, (0,)), x.sum(0))
    np.testing.assert_array_equal(add_reduce(x.reshape(5, 13, 3), (0, 1)), x.sum(0))


def test_zero_d_accepts_axis_zero_as_torch_does():
    assert add_reduce(np.array(3.0), (0,)) == 3.0


def test_backward_batch_sums_are_pairwise():
    """The gradient of a bias broadcast over 1024 float32 rows is summed pairwise (NumPy's sum: 7 eps off)."""
    rng = np.random.default_rng(2)
    g = (rng.standard_normal((1024, 27)) * 1e-3 + 1e-3).astype(np.float32)
    b = engine.zeros(27, requires_grad=True)
    (engine.zeros(1024, 27) + b).backward(engine.tensor(g))
    pairwise, sequential = _relative_error(g, np.asarray(b.grad)), _relative_error(g, np.add.reduce(g, axis=0))
    assert pairwise < 2 * EPS32 < sequential
