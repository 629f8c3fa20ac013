"""Broadcasting, property-tested: every binary op over shapes hypothesis draws, both gradients against torch.

`mutually_broadcastable_shapes` draws pairs like (3, 1) and (2, 1, 4), including 0-d and size-1 axes; the engine
must give torch's output shape and values, and both inputs' gradients (summed back over the broadcast axes) must
match torch's in float64 to 1e-10 relative. Inputs are kept in each op's smooth domain.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import engine

TIGHT = {"rtol": 1e-10, "atol": 1e-12}  # float64 vs float64, same math, different summation order
SETTINGS = settings(max_examples=40, deadline=None)
PAIRS = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4)
SEEDS = st.integers(0, 2**32 - 1)


# each draw is a float64 ndarray, also for shape () (where NumPy's generators return a Python float,
# which would become a float32 tensor)
def normal(rng, shape):
    return np.asarray(rng.standard_normal(shape))


def positive(rng, shape):
    return np.asarray(rng.uniform(0.5, 2.0, shape))


def away_from_zero(rng, shape):
    x = normal(rng, shape)
    return np.asarray(np.sign(x) * (0.5 + np.abs(x)))


# op name -> (the op for either library, how to draw a, how to draw b)
BINARY = {
    "add": (operator.add, normal, normal),
    "sub": (operator.sub, normal, normal),
    "mul": (operator.mul, normal, normal),
    "div": (operator.truediv, normal, away_from_zero),
    "pow": (operator.pow, positive, normal),  # tensor exponent: positive bases so log(a) exists
    "maximum": (None, normal, normal),  # continuous draws: ties have probability zero
}


def apply(name, lib, a, b):
    fn = BINARY[name][0]
    return lib.maximum(a, b) if fn is None else fn(a, b)


def draw_inputs(name, shapes, seed):
    """Operands of the drawn broadcastable shapes (kept in the op's safe domain) and an output gradient."""
    _, draw_a, draw_b = BINARY[name]
    rng = np.random.default_rng(seed)
    (sa, sb), result = shapes.input_shapes, shapes.result_shape
    return draw_a(rng, sa), draw_b(rng, sb), normal(rng, result)


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(shapes=PAIRS, seed=SEEDS)
def test_binary_gradients_match_torch(torch, name, shapes, seed):
    """Output shape/values and both gradients equal torch's for any pair of broadcastable shapes."""
    a_np, b_np, r = draw_inputs(name, shapes, seed)
    (sa, sb), result = shapes.input_shapes, shapes.result_shape

    a, b = engine.tensor(a_np, requires_grad=True), engine.tensor(b_np, requires_grad=True)
    out = apply(name, engine, a, b)
    out.backward(r)
    ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    t_out = apply(name, torch, ta, tb)
    t_out.backward(torch.tensor(r))

    assert out.shape == tuple(t_out.shape) == result
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), **TIGHT)
    assert a.grad.shape == sa and b.grad.shape == sb
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), **TIGHT)
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), **TIGHT)


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(shapes=PAIRS, seed=SEEDS)
def test_binary_gradient_with_a_constant_operand(torch, name, shapes, seed):
    """Only one side requires grad (the other a constant tensor): its gradient still matches, the other stays None."""
    a_np, b_np, r = draw_inputs(name, shapes, seed)
    for grad_a in (True, False):
        a, b = engine.tensor(a_np, requires_grad=grad_a), engine.tensor(b_np, requires_grad=not grad_a)
        apply(name, engine, a, b).backward(r)
        ta, tb = torch.tensor(a_np, requires_grad=grad_a), torch.tensor(b_np, requires_grad=not grad_a)
        apply(name, torch, ta, tb).backward(torch.tensor(r))
        x, tx, const = (a, ta, b) if grad_a else (b, tb, a)
        assert const.grad is None
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), **TIGHT)


COMPARISONS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
               "gt": operator.gt, "ge": operator.ge}


@pytest.mark.parametrize("name", list(COMPARISONS))
@SETTINGS
@given(shapes=PAIRS, seed=SEEDS)
def test_comparisons_broadcast_like_torch(torch, name, shapes, seed):
    """Comparisons give torch's broadcast shape and values, as bool tensors with no grad (exact)."""
    rng = np.random.default_rng(seed)
    (sa, sb), result = shapes.input_shapes, shapes.result_shape
    # small integers as floats, so equal pairs actually occur
    a_np, b_np = rng.integers(-2, 3, sa).astype(np.float64), rng.integers(-2, 3, sb).astype(np.float64)
    a = engine.tensor(a_np, requires_grad=True)
    for got in (COMPARISONS[name](a, engine.tensor(b_np)), getattr(engine, name)(a, b_np)):
        want = COMPARISONS[name](torch.tensor(a_np), torch.tensor(b_np))
        assert got.shape == tuple(want.shape) == result
        assert got.dtype == np.bool_ and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), want.numpy())


MATMUL = mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=3, max_side=4)


@SETTINGS
@given(shapes=MATMUL, seed=SEEDS)
def test_matmul_gradients_match_torch(torch, shapes, seed):
    """a @ b for 1-D operands and broadcast batch dims, drawn from matmul's gufunc signature (n?,k),(k,m?)."""
    rng = np.random.default_rng(seed)
    (sa, sb), result = shapes.input_shapes, shapes.result_shape
    a_np, b_np, r = normal(rng, sa), normal(rng, sb), normal(rng, result)
    a, b = engine.tensor(a_np, requires_grad=True), engine.tensor(b_np, requires_grad=True)
    out = a @ b
    out.backward(r)
    ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    t_out = ta @ tb
    t_out.backward(torch.tensor(r))
    assert out.shape == tuple(t_out.shape) == result
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), **TIGHT)
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), **TIGHT)


@SETTINGS
@given(shapes=PAIRS)
def test_unbroadcast_sums_back_to_the_input_shape(shapes):
    """unbroadcast(ones(result), shape) is, at every entry, the number of result entries that entry was copied to."""
    result = shapes.result_shape
    for shape in shapes.input_shapes:
        g = engine.unbroadcast(np.ones(result), shape)
        assert g.shape == shape
        copies = int(np.prod(result)) // max(int(np.prod(shape)), 1)
        np.testing.assert_array_equal(g, np.full(shape, float(copies)))
