"""Errors are for users: each names the op, the shapes or values involved, and what to do.

Every test asserts on the message text, not just the exception type, so a vaguer message fails.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import engine
import engine.functional as F


@pytest.mark.parametrize("op, name", [
    (lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"), (lambda a, b: a * b, "mul"),
    (lambda a, b: a / b, "div"), (lambda a, b: a**b, "pow"), (engine.maximum, "maximum"),
    (lambda a, b: a < b, "lt"), (lambda a, b: a == b, "eq"),
])
def test_binary_shape_mismatch_names_both_shapes(op, name):
    a, b = engine.ones(2, 3), engine.ones(4)
    with pytest.raises(ValueError, match=re.escape(f"{name}: shapes (2, 3) and (4,) cannot be broadcast together")):
        op(a, b)


def test_matmul_inner_dimension_message():
    with pytest.raises(ValueError) as info:
        engine.randn(32, 30) @ engine.randn(20, 200)
    assert str(info.value) == "matmul: (32, 30) @ (20, 200) — inner dimensions 30 and 20 differ"


def test_addmm_shape_errors():
    with pytest.raises(ValueError, match=re.escape("addmm: (32, 30) @ (20, 200) — inner dimensions 30 and 20 differ")):
        engine.addmm(engine.ones(200), engine.ones(32, 30), engine.ones(20, 200))
    with pytest.raises(ValueError, match=re.escape("addmm: mat1 and mat2 must be matrices, got shapes (3,) and (3, 2")):
        engine.addmm(engine.ones(2), engine.ones(3), engine.ones(3, 2))
    for shape in ((4,), (2, 1, 3), (4, 2), (2, 3)):
        with pytest.raises(ValueError, match=re.escape(f"addmm: input of shape {shape} cannot be broadcast to the "
                                                       "product's shape (4, 3)")):
            engine.addmm(engine.ones(*shape), engine.ones(4, 2), engine.ones(2, 3))


def test_matmul_other_shape_errors():
    with pytest.raises(ValueError, match=re.escape("matmul: (3,) @ (4,) — inner dimensions 3 and 4 differ")):
        engine.ones(3) @ engine.ones(4)
    with pytest.raises(ValueError, match=re.escape("matmul: (2, 3, 4) @ (5, 4, 2) — batch dimensions")):
        engine.ones(2, 3, 4) @ engine.ones(5, 4, 2)
    with pytest.raises(ValueError, match=r"at least 1 dimension.*\(\) @ \(3,\)"):
        engine.tensor(2.0) @ engine.ones(3)


@pytest.mark.parametrize("call, op", [
    (lambda x: x.sum(2), "sum"), (lambda x: x.mean(-3), "mean"), (lambda x: x.var((0, 5)), "var"),
    (lambda x: x.std(9), "std"), (lambda x: x.max(2), "max"), (lambda x: x.min(-3), "min"),
    (lambda x: x.transpose(0, 2), "transpose"), (lambda x: x.permute(0, 2), "permute"),
    (lambda x: x.squeeze(4), "squeeze"), (lambda x: F.softmax(x, dim=2), "softmax"),
    (lambda x: engine.cat([x, x], dim=2), "cat"),
])
def test_dim_out_of_range(call, op):
    x = engine.ones(2, 3)
    with pytest.raises(IndexError, match=rf"{op}: dim -?\d is out of range for a tensor of 2 dims \(valid: -2\.\.1\)"):
        call(x)


def test_unsqueeze_and_stack_dim_out_of_range():
    with pytest.raises(IndexError, match=r"unsqueeze: dim 3 is out of range.*\(valid: -3\.\.2\)"):
        engine.ones(2, 3).unsqueeze(3)
    with pytest.raises(IndexError, match="stack: dim -4 is out of range for tensors of 2 dims"):
        engine.stack([engine.ones(2, 3)] * 2, dim=-4)


@pytest.mark.parametrize("call", [lambda x: x.sum((1, -1)), lambda x: x.mean((0, 0)), lambda x: x.var((-2, 0))])
def test_duplicate_dims(call):
    with pytest.raises(ValueError, match="names the same axis twice"):
        call(engine.ones(2, 3))


def test_non_integer_dim():
    with pytest.raises(TypeError, match=r"sum: dim must be an int or a tuple of ints, got \(0, 1\.5\)"):
        engine.ones(2, 3).sum((0, 1.5))
    with pytest.raises(TypeError, match="max: dim must be a single int"):
        engine.ones(2, 3).max((0, 1))


def test_permute_must_be_a_permutation():
    with pytest.raises(ValueError, match=r"permute: \(0, 0\) is not a permutation of the 2 dims"):
        engine.ones(2, 3).permute(0, 0)


def test_view_with_the_wrong_number_of_elements():
    message = "view: cannot reshape a tensor of shape (2, 3) (6 elements) into (4, -1)"
    with pytest.raises(ValueError, match=re.escape(message)):
        engine.ones(2, 3).view(4, -1)


def test_cat_and_stack_shape_mismatch():
    with pytest.raises(ValueError, match=re.escape("cat: shapes [(2, 3), (2, 4)] differ outside dim 0")):
        engine.cat([engine.ones(2, 3), engine.ones(2, 4)])
    with pytest.raises(ValueError, match=re.escape("stack: all tensors need the same shape, got [(2, 3), (3, 2)]")):
        engine.stack([engine.ones(2, 3), engine.ones(3, 2)])
    with pytest.raises(ValueError, match="cat: expected a non-empty sequence"):
        engine.cat([])


@pytest.mark.parametrize("index", [engine.tensor([0.0, 1.0]), np.array([0.5]), [0.0, 1.0]])
def test_float_index_tensors_are_rejected(index):
    with pytest.raises(IndexError, match=r"index arrays must be integer or bool, got float\d\d \(convert with \.long"):
        engine.ones(3, 2, requires_grad=True)[index]


def test_other_bad_indices():
    with pytest.raises(IndexError, match=r"only integers, slices, None.*got str 'a'"):
        engine.ones(3)["a"]
    with pytest.raises(IndexError, match=r"index into a tensor of shape \(3, 2\): .*out of bounds"):
        engine.ones(3, 2)[engine.tensor([0, 3])]
    with pytest.raises(TypeError, match=r"only 0-d integer tensors can be used as an index, not float32 \(\)"):
        [1, 2, 3][engine.tensor(1.0)]


def test_item_on_a_multi_element_tensor():
    with pytest.raises(ValueError, match=re.escape("item(): a tensor of shape (2, 3) has 6 elements, not 1")):
        engine.ones(2, 3).item()
    with pytest.raises(ValueError, match=r"truth value of a tensor of shape \(2,\) is ambiguous"):
        bool(engine.ones(2))


def test_cross_entropy_target_errors():
    logits = engine.randn(3, 4)
    with pytest.raises(IndexError, match="cross_entropy: target class 4 is out of range for 4 classes"):
        F.cross_entropy(logits, engine.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match="cross_entropy: target class -1 is out of range for 4 classes"):
        F.cross_entropy(logits, engine.tensor([0, -1, 1]))
    with pytest.raises(TypeError, match="cross_entropy: target must hold integer class indices, got float32"):
        F.cross_entropy(logits, engine.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"target of shape \(2,\) for logits of 3 rows; expected \(3,\)"):
        F.cross_entropy(logits, engine.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"logits must be \(N, C\), got shape \(4,\)"):
        F.cross_entropy(engine.randn(4), engine.tensor([0]))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.cross_entropy(logits, engine.tensor([0, 1, 2]), reduction="avg")


def test_var_with_too_few_elements_for_the_correction():
    with pytest.raises(ValueError, match=r"var: 1 element\(s\) along dim 0 with correction=1 .* n - correction = 0"):
        engine.ones(1, 3).var(0)
    with pytest.raises(ValueError, match=r"std: 2 element\(s\) along dim None with correction=2"):
        engine.ones(2).std(correction=2)
    assert engine.ones(1, 3).var(0, unbiased=False).shape == (3,)  # the fix the message suggests works


def test_softmax_needs_dim():
    with pytest.raises(TypeError, match="softmax: pass dim= explicitly"):
        F.softmax(engine.ones(2, 3))


def test_one_hot_errors():
    with pytest.raises(TypeError, match="one_hot: expects an integer tensor, got float32"):
        F.one_hot(engine.tensor([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match=r"one_hot: class values must lie in \[0, 3\), got 0\.\.3"):
        F.one_hot(engine.tensor([0, 3]), 3)


def test_grad_and_gradient_shape_checks():
    x = engine.ones(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match=r"grad: shape \(3,\) does not match the tensor's shape \(2, 3\)"):
        x.grad = np.ones(3)


def test_creation_errors():
    with pytest.raises(ValueError, match=r"zeros: sizes must be non-negative integers, got \(2, -1\)"):
        engine.zeros(2, -1)
    with pytest.raises(ValueError, match="randint: need low < high, got low=5, high=5"):
        engine.randint(5, 5, (3,))
    with pytest.raises(TypeError, match="unknown dtype 'float99'"):
        engine.zeros(2, dtype="float99")
    ragged = "tensor(): nested sequences of unequal lengths in [[1.0, 2.0], [3.0]]"
    with pytest.raises(ValueError, match=re.escape(ragged)):
        engine.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match=r"tensor\(\): cannot make a tensor from list \[None\]"):
        engine.tensor([None])


def test_in_place_shape_mismatch_names_both():
    x = engine.ones(2, 3)
    with pytest.raises(ValueError, match=r"\+=: float32 \(2, 3\) with float32 \(4,\)"):
        x += engine.ones(4)
    with pytest.raises(ValueError, match=r"setitem on a tensor of shape \(2, 3\)"):
        x[0] = np.ones(4)


def test_max_keepdim_without_dim_is_an_error():
    with pytest.raises(TypeError, match="max: keepdim needs a dim"):
        engine.randn(2, 3).max(keepdim=True)


def test_integers_past_int64_and_none_values_are_refused():
    with pytest.raises(OverflowError, match="does not fit in int64"):
        engine.tensor(2**63)  # NumPy would wrap it to -2**63 through uint64
    with pytest.raises(OverflowError, match="does not fit in int64"):
        engine.tensor([1, 2**70])
    x = engine.zeros(3)
    with pytest.raises(TypeError, match="cannot assign None"):
        x[0] = None  # NumPy would write NaN


@pytest.mark.parametrize("call, message", [
    (lambda x: x.sum(1.0), "sum: dim must be an int or a tuple of ints, got 1.0"),
    (lambda x: x.all(1.5), "all: dim must be an int or a tuple of ints, got 1.5"),
    (lambda x: x.transpose(0.0, 1), "transpose: dim must be an int, got 0.0"),
    (lambda x: x.permute(1, 0.0), "permute: dim must be an int, got 0.0"),
    (lambda x: x.flatten(0.5), "flatten: dim must be an int, got 0.5"),
    (lambda x: x.argmax("1"), "argmax: dim must be an int, got '1'"),
    (lambda x: engine.cat([x, x], 0.5), "cat: dim must be an int, got 0.5"),
    (lambda x: x.unsqueeze(1.0), "unsqueeze: dim must be an int, got 1.0"),
    (lambda x: engine.stack([x, x], 1.0), "stack: dim must be an int, got 1.0"),
    (lambda x: F.softmax(x, dim=1.0), "softmax: dim must be an int, got 1.0"),
])
def test_a_dim_of_the_wrong_type_is_named(call, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        call(engine.ones(2, 3))


@pytest.mark.parametrize("op", ["all", "any"])
def test_all_and_any_check_their_dims(op):
    x = engine.tensor([[True, False], [True, True]])
    assert getattr(x, op)(1).tolist() == getattr(np, op)(x.data, axis=1).tolist()
    assert getattr(x, op)((0, -1)).item() is getattr(np, op)(x.data).item()
    with pytest.raises(IndexError, match=rf"{op}: dim 2 is out of range for a tensor of 2 dims"):
        getattr(x, op)(2)


@pytest.mark.parametrize("op", [engine.cat, engine.stack])
def test_cat_and_stack_refuse_a_single_tensor(op):
    """Iterating a tensor yields its rows, so cat(x) would silently join x's rows: torch refuses, and so do we."""
    with pytest.raises(TypeError, match=rf"{op.__name__}: expected a list or tuple of tensors, got a single Tensor"):
        op(engine.ones(2, 3))


def test_zero_dim_tensors_in_shape_ops():
    """cat needs a dim to join along; a 0-d tensor's transpose(0, -1) is itself (torch allows it)."""
    s = engine.tensor(2.0, requires_grad=True)
    with pytest.raises(ValueError, match="cat: 0-d tensors have no dim to concatenate along; use stack"):
        engine.cat([s, s])
    t = s.transpose(0, -1)
    assert t.shape == () and t.item() == 2.0
    (t * 3).backward()
    assert s.grad == 3.0
    with pytest.raises(ValueError, match=re.escape("permute: (0,) is not a permutation of the 0 dims")):
        s.permute(0)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_of_nothing_is_a_clear_error(op):
    with pytest.raises(ValueError, match=re.escape(f"{op}: an empty tensor of shape (0,) has no extreme")):
        getattr(engine.zeros(0), op)()
    with pytest.raises(ValueError, match=re.escape(f"{op}: an empty tensor of shape (0, 3) has no extreme to point "
                                                   "at along dim 0")):
        getattr(engine.zeros(0, 3), op)(0)
    assert getattr(engine.zeros(0, 3), op)(1).shape == (0,)  # a non-empty dim of an empty tensor: nothing to do


@pytest.mark.parametrize("op", [F.softmax, F.log_softmax])
def test_softmax_along_an_empty_dim_is_empty(op):
    x = engine.zeros(0, 3, requires_grad=True)
    with np.errstate(all="raise"):  # no spurious warning either
        out = op(x, dim=0)
    assert out.shape == (0, 3)
    out.sum().backward()
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("make", [
    lambda: engine.tensor([1, 2]) ** engine.tensor([-1, 2]),
    lambda: engine.tensor([2]) ** -1,
    lambda: engine.tensor([2], dtype=engine.uint8) ** np.int64(-2),
])
def test_integers_to_negative_integer_powers_are_refused_as_in_torch(make):
    with pytest.raises(ValueError, match="pow: integers to negative integer powers are not allowed.*x.float"):
        make()
    assert (engine.tensor([2.0]) ** -1).item() == 0.5  # a float base is fine


def test_grad_must_be_floating_point():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="grad: must be floating point, like the tensor's float32; got int64"):
        x.grad = np.zeros(2, np.int64)
    x.grad = np.zeros(2)  # float64 for a float32 tensor: kept in the tensor's dtype, as torch's grads are
    assert x.grad.dtype == np.float32
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_arange_with_a_zero_step():
    with pytest.raises(ValueError, match="arange: step must be non-zero, got 0"):
        engine.arange(0, 1, 0)
    assert engine.arange(3, 0, -1).tolist() == [3, 2, 1]
