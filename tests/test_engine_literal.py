"""Small cases worked out by hand, with the literal answers written in the test.

The third oracle beside torch and finite differences: broadcasting sums, fan-out accumulation, repeated indices,
keepdim and negative dims, 0-d tensors, the documented tie rules, and the traversal order. Values here are exact in
binary floating point (small integers, halves, quarters), so they are compared exactly unless a tolerance is given.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine
import engine.functional as F


def test_broadcast_add_grads_are_the_copy_counts():
    """(3,1) + (1,4) → (3,4): each entry of a is copied 4 times, of b 3 times, so grads are all 4s and all 3s."""
    a = engine.zeros(3, 1, requires_grad=True)
    b = engine.zeros(1, 4, requires_grad=True)
    c = a + b
    assert c.shape == (3, 4)
    c.sum().backward()
    np.testing.assert_array_equal(a.grad, [[4.0], [4.0], [4.0]])
    np.testing.assert_array_equal(b.grad, [[3.0, 3.0, 3.0, 3.0]])


def test_broadcast_adds_leading_axes():
    """(4,) + (2,3,4): the bias is copied to 6 rows, so its grad is all 6s."""
    b = engine.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    (engine.ones(2, 3, 4) * b).sum().backward()
    np.testing.assert_array_equal(b.grad, [6.0, 6.0, 6.0, 6.0])


def test_a_plus_a_is_2():
    """Both edges of a + a reach the same leaf: the grad is 2 (not 1 from overwriting, not 4 from aliasing)."""
    a = engine.tensor([3.0, -1.0], requires_grad=True)
    (a + a).sum().backward()
    np.testing.assert_array_equal(a.grad, [2.0, 2.0])


def test_a_times_a_is_2a():
    a = engine.tensor([3.0, -1.0, 0.5], requires_grad=True)
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad, [6.0, -2.0, 1.0])


def test_fan_out_through_two_paths():
    """y = a*b + a: dy/da = b + 1, dy/db = a."""
    a = engine.tensor(2.0, requires_grad=True)
    b = engine.tensor(-3.0, requires_grad=True)
    y = a * b + a
    y.backward()
    assert y.item() == -4.0
    assert a.grad == -2.0 and b.grad == 2.0


def test_leaf_grad_is_not_aliased_with_the_graph():
    """The leaf's .grad is its own array: editing it does not change another leaf's grad (c = a + b shares g)."""
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([1.0, 2.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad[0] = 100.0
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_repeated_index_accumulates():
    """x[[0,0,1]] uses x[0] twice, x[1] once, x[2] never: grad [2, 1, 0]."""
    x = engine.tensor([5.0, 6.0, 7.0], requires_grad=True)
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 1.0, 0.0])


def test_repeated_rows_of_an_embedding_table_accumulate():
    """C[X] with X = [[0, 2], [2, 2]]: row 0 used once, row 2 three times, row 1 never."""
    C = engine.ones(3, 2, requires_grad=True)
    C[engine.tensor([[0, 2], [2, 2]])].sum().backward()
    np.testing.assert_array_equal(C.grad, [[1.0, 1.0], [0.0, 0.0], [3.0, 3.0]])


@pytest.mark.parametrize("rows", [4, 2000])  # a one-hot product, and np.add.at past 1024 rows
@pytest.mark.parametrize("index", [engine.tensor, np.array], ids=["tensor", "ndarray"])
def test_repeated_and_negative_rows_of_a_table_accumulate(rows, index):
    """C[X] with X = [[0, 2], [2, -1]]: row 0 once, row 2 twice, the last row once (as -1), the others never."""
    C = engine.ones(rows, 2, requires_grad=True)
    emb = C[index([[0, 2], [2, -1]])]
    assert [type(p) for p in emb._parents] == [engine.Tensor] * (2 if index is engine.tensor else 1)
    emb.sum().backward()
    expected = np.zeros((rows, 2))
    expected[[0, 2, -1]] = [[1.0, 1.0], [2.0, 2.0], [1.0, 1.0]]
    np.testing.assert_array_equal(C.grad, expected)


def test_range_and_target_index_picks_one_per_row():
    """x[range(3), y] (the lecture's logprobs[range(n), Yb]): gradient 1 at (i, y_i), 0 elsewhere."""
    x = engine.zeros(3, 4, requires_grad=True)
    x[range(3), engine.tensor([3, 0, 3])].sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 0, 1]])


def test_one_tuple_index():
    """x[(idx,)] is x[idx]: grad [[1,1],[0,0],[2,2]] for idx [2, 0, 2]."""
    x = engine.zeros(3, 2, requires_grad=True)
    x[(np.array([2, 0, 2]),)].sum().backward()
    np.testing.assert_array_equal(x.grad, [[1, 1], [0, 0], [2, 2]])


def test_keepdim_and_negative_dims():
    """x = [[1,2,3],[4,5,6]]: sum(-1, keepdim) = [[6],[15]]; mean(-2) = [2.5, 3.5, 4.5] with grad 1/2 each."""
    x = engine.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    s = x.sum(-1, keepdim=True)
    assert s.shape == (2, 1)
    np.testing.assert_array_equal(s.data, [[6.0], [15.0]])
    assert x.sum(dim=-1, keepdims=True).shape == (2, 1)
    assert x.sum((-1, -2)).shape == ()
    m = x.mean(-2)
    np.testing.assert_array_equal(m.data, [2.5, 3.5, 4.5])
    m.sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 0.5))
    mx = x.max(-1, keepdim=True)
    assert mx.values.shape == mx.indices.shape == (2, 1)
    np.testing.assert_array_equal(mx.indices.numpy(), [[2], [2]])


def test_var_and_std_by_hand():
    """[1,2,3,4]: mean 2.5, squared deviations sum 5: var 5/3 (Bessel), 5/4 (biased); dvar/dx = 2(x - m)/(n - 1)."""
    x = engine.tensor([1.0, 2.0, 3.0, 4.0], dtype=engine.float64, requires_grad=True)
    assert x.var().item() == pytest.approx(5 / 3, rel=1e-15)
    assert x.var(unbiased=False).item() == 1.25
    assert x.var(correction=0).item() == 1.25
    assert x.std(correction=0).item() == pytest.approx(math.sqrt(1.25), rel=1e-15)
    x.var().backward()
    np.testing.assert_allclose(x.grad, [-1.0, -1 / 3, 1 / 3, 1.0], rtol=1e-15)


def test_zero_d_tensors():
    """engine.tensor(2.0) is 0-d float32: ops keep it 0-d, backward starts from it, it formats like a float."""
    t = engine.tensor(2.0, requires_grad=True)
    assert t.shape == () and t.ndim == 0 and t.dtype == np.float32 and t.item() == 2.0
    assert f"{t:.2f}" == "2.00"
    y = t * t + 3 * t  # 10; dy/dt = 2t + 3 = 7
    assert y.shape == () and y.item() == 10.0
    assert f"{y:.1f}" == "10.0"
    y.backward()
    assert t.grad.shape == () and t.grad.dtype == np.float32 and t.grad == 7.0
    z = (t.exp() + t.tanh() - t.relu()).log()  # 0-d through unary ops, gradient checked below by formula
    t.grad = None
    z.backward()
    e, th = math.exp(2.0), math.tanh(2.0)
    assert t.grad.item() == pytest.approx((e + 1 - th * th - 1) / (e + th - 2), rel=1e-6)  # float32
    assert engine.tensor(3.0).sum().shape == () and engine.tensor(3.0).sum(0).shape == ()
    assert float(engine.tensor(0.25)) == 0.25 and int(engine.tensor(7)) == 7


def test_zero_d_broadcasts_against_a_matrix():
    """A 0-d scale times a (2,3) matrix: its grad is the sum of the matrix (21)."""
    s = engine.tensor(2.0, requires_grad=True)
    (s * engine.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    assert s.grad.shape == () and s.grad == 21.0


def test_max_ties_follow_torch():
    """max(dim) routes the gradient to the returned index, the first of equal maxima; max() splits it evenly."""
    x = engine.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    r = x.max(1)
    np.testing.assert_array_equal(r.indices.numpy(), [1, 0])
    np.testing.assert_array_equal(r.values.data, [3.0, 2.0])
    r.values.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])
    x.grad = None
    x.max().backward()  # over all: both 3s, half each
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    x.min(0).values.sum().backward()  # column minima 1, 2, 0 at rows 0, 1, 1
    np.testing.assert_array_equal(x.grad, [[1, 0, 0], [0, 1, 1]])


def test_maximum_splits_a_tie_as_torch():
    """maximum(a, b): where a == b each operand gets half the gradient (torch's rule)."""
    a = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = engine.tensor([2.0, 2.0, 1.0], requires_grad=True)
    engine.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0, 0.5, 1])
    np.testing.assert_array_equal(b.grad, [1, 0.5, 0])
    c = engine.tensor([[0.0], [1.0]], requires_grad=True)  # broadcast against a (3,): ties at 2.0 only
    engine.maximum(c, engine.tensor([0.0, 1.0, 2.0])).sum().backward()
    np.testing.assert_array_equal(c.grad, [[0.5], [1.5]])


def test_relu_and_abs_have_zero_gradient_at_zero():
    """Documented: relu'(0) = 0 and |x|'(0) = sign(0) = 0, as in torch."""
    x = engine.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    (x.relu() + x.abs()).sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 2.0])  # relu' [0,0,1] + sign [-1,0,1]


def test_pow_zero_has_zero_gradient_even_at_zero():
    """x**0 = 1 everywhere, so its gradient is 0, also at x = 0 (0 * 0**-1 would be nan), as torch."""
    x = engine.tensor([0.0, 2.0], requires_grad=True)
    y = x**0
    np.testing.assert_array_equal(y.data, [1.0, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_tensor_exponent_zero_has_zero_gradient_even_at_zero():
    """a**b with b == 0 at a == 0: da = b a**(b-1) is taken as 0 and db = z log a as 0 (torch does both)."""
    a = engine.tensor([0.0, 2.0], requires_grad=True)
    b = engine.tensor([0.0, 0.0], requires_grad=True)
    (a**b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])
    np.testing.assert_array_equal(b.grad, [0.0, np.log(np.float32(2.0))])


def test_matmul_by_hand():
    """[[1,2]] @ [[3],[4]] = [[11]]; da = b^T = [[3, 4]], db = a^T = [[1],[2]]; 1-D @ 1-D is a dot product."""
    a = engine.tensor([[1.0, 2.0]], requires_grad=True)
    b = engine.tensor([[3.0], [4.0]], requires_grad=True)
    (a @ b).backward(np.ones((1, 1)))
    np.testing.assert_array_equal(a.grad, [[3.0, 4.0]])
    np.testing.assert_array_equal(b.grad, [[1.0], [2.0]])
    u = engine.tensor([1.0, 2.0], requires_grad=True)
    v = engine.tensor([3.0, 4.0], requires_grad=True)
    d = u @ v
    assert d.shape == () and d.item() == 11.0
    d.backward()
    np.testing.assert_array_equal(u.grad, [3.0, 4.0])
    np.testing.assert_array_equal(v.grad, [1.0, 2.0])


def test_addmm_by_hand():
    """[10, 20] + [[1, 2]] @ [[3, 0], [4, 1]] = [[21, 22]]; the row input's grad sums g over the batch."""
    b = engine.tensor([10.0, 20.0], requires_grad=True)
    m1 = engine.tensor([[1.0, 2.0], [0.0, 1.0]], requires_grad=True)
    m2 = engine.tensor([[3.0, 0.0], [4.0, 1.0]], requires_grad=True)
    out = engine.addmm(b, m1, m2)
    np.testing.assert_array_equal(out.data, [[21.0, 22.0], [14.0, 21.0]])
    assert out.op == "addmm" and out.parents == (b, m1, m2)
    out.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(b.grad, [2.0, 2.0])
    np.testing.assert_array_equal(m1.grad, [[3.0, 5.0], [3.0, 5.0]])  # g @ m2^T
    np.testing.assert_array_equal(m2.grad, [[1.0, 1.0], [3.0, 3.0]])  # m1^T @ g


@pytest.mark.parametrize("rows", [1, 3, 40])  # 40: past PAIRWISE_ROWS, so the batch sum halves first
@pytest.mark.parametrize("bias_shape", [(5,), (1, 5)])
@pytest.mark.parametrize("beta", [1, 0.5])
def test_addmm_sums_a_bias_rows_grad_as_an_add_would(rows, bias_shape, beta):
    """addmm sums the gradient of a (p,) or (1, p) input itself: b's shape, and exactly the bits of beta b + m1 @ m2."""
    rng = np.random.default_rng(rows)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (bias_shape, (rows, 4), (4, 5), (rows, 5))]
    grads = []
    for fused in (True, False):
        b, m1, m2 = (engine.tensor(a, requires_grad=True) for a in arrays[:3])
        out = engine.addmm(b, m1, m2, beta=beta) if fused else b * beta + m1 @ m2
        out.backward(arrays[3])
        assert b.grad.shape == bias_shape
        grads.append(b.grad)
    np.testing.assert_array_equal(grads[0], grads[1])  # exact: the same sums in the same order


def test_addmm_with_beta_zero_ignores_the_input_even_nan():
    """torch.addmm's rule: beta = 0 means the input is not read, so its NaNs do not reach the output."""
    b = engine.tensor([np.nan, np.inf], requires_grad=True)
    identity = engine.tensor([[1.0, 0.0], [0.0, 1.0]])
    out = engine.addmm(b, identity, engine.tensor([[1.0, 2.0], [3.0, 4.0]]), beta=0, alpha=0.5)
    np.testing.assert_array_equal(out.data, [[0.5, 1.0], [1.5, 2.0]])
    out.sum().backward()
    np.testing.assert_array_equal(b.grad, [0.0, 0.0])


def test_cross_entropy_by_hand():
    """Zero logits over 3 classes: loss log 3 per row; dlogits = (1/3 - one_hot(y)) / N."""
    logits = engine.zeros(2, 3, dtype=engine.float64, requires_grad=True)
    loss = F.cross_entropy(logits, engine.tensor([0, 2]))
    assert loss.item() == pytest.approx(math.log(3), rel=1e-15)
    loss.backward()
    np.testing.assert_allclose(logits.grad, [[-1 / 3, 1 / 6, 1 / 6], [1 / 6, 1 / 6, -1 / 3]], rtol=1e-15)
    assert F.cross_entropy(logits, engine.tensor([0, 2]), reduction="sum").item() == pytest.approx(2 * math.log(3))
    np.testing.assert_allclose(F.cross_entropy(logits, engine.tensor([0, 2]), reduction="none").data,
                               [math.log(3)] * 2, rtol=1e-15)


def test_softmax_by_hand():
    """softmax([0, ln 3]) = [1/4, 3/4]; log_softmax = [ln 1/4, ln 3/4]; a row of a softmax sums to 1."""
    x = engine.tensor([[0.0, math.log(3)]], dtype=engine.float64)
    np.testing.assert_allclose(F.softmax(x, dim=1).data, [[0.25, 0.75]], rtol=1e-15)
    np.testing.assert_allclose(F.log_softmax(x, dim=-1).data, [[math.log(0.25), math.log(0.75)]], rtol=1e-15)


def test_unbroadcast_by_hand():
    """Summing a (2,3,4) gradient of ones down to (3,1): each entry collects 2*4 = 8."""
    np.testing.assert_array_equal(engine.unbroadcast(np.ones((2, 3, 4)), (3, 1)), np.full((3, 1), 8.0))
    np.testing.assert_array_equal(engine.unbroadcast(np.ones((2, 3)), ()), 6.0)
    g = np.arange(6.0).reshape(2, 3)
    assert engine.unbroadcast(g, (2, 3)) is g  # nothing to sum: the same array


def test_toposort_order_is_parents_first_and_deterministic():
    """d = a*b + a: the order is a, b, a*b, d — parents in tuple order, every node after its parents."""
    a = engine.tensor(1.0, requires_grad=True)
    b = engine.tensor(2.0, requires_grad=True)
    c = a * b
    d = c + a
    assert [id(n) for n in engine.toposort(d)] == [id(a), id(b), id(c), id(d)]
    assert d.parents == (c, a) and c.op == "mul" and d.op == "add" and a.op == ""


def test_integers_index_before_index_arrays_as_in_torch():
    """x[0, :, [0, 1, 2]] selects x[0] first: NumPy alone would put the list's axis first (a transpose)."""
    x = engine.tensor(np.arange(18.0).reshape(2, 3, 3), requires_grad=True)
    np.testing.assert_array_equal(x[0, :, [0, 1, 2]].data, np.arange(9.0).reshape(3, 3))
    assert x[0, :, [0, 1]].shape == (3, 2)
    x[0, :, [2, 2]].sum().backward()  # column 2 of x[0], twice
    np.testing.assert_array_equal(x.grad[0], [[0, 0, 2]] * 3)
    np.testing.assert_array_equal(x.grad[1], np.zeros((3, 3)))
    y = engine.zeros(2, 3, 3)
    y[0, :, [0, 1, 2]] = engine.tensor(np.arange(9.0).reshape(3, 3))
    np.testing.assert_array_equal(y.data[0], np.arange(9.0).reshape(3, 3))


def test_one_element_is_a_view_and_a_copy_is_not():
    a = engine.tensor([1.0, 2.0, 3.0])
    b = a[1]
    b += 10
    np.testing.assert_array_equal(a.data, [1.0, 12.0, 3.0])  # as torch: a[1] is a 0-d view
    with pytest.raises(RuntimeError, match="use .reshape"):
        engine.randn(3, 4).T.view(-1)  # torch refuses too: a transpose is not in row-major order
    c = engine.randn(3, 4).T.reshape(-1)  # a copy, so writing to it is allowed and touches nothing
    c += 1


def test_integer_sums_are_int64_and_do_not_overflow():
    """torch sums integers in int64; 33 rows of int8 100s are 3300, pairwise or not."""
    s = engine.tensor(np.full((33, 1), 100, np.int8)).sum(0)
    assert s.dtype == engine.int64 and s.tolist() == [3300]
    assert engine.tensor(np.array([200, 100], np.uint8)).sum().item() == 300


def test_std_of_a_constant_has_zero_gradient():
    """d std / dx is (x - mean) / ((n-1) std): 0/0 where std = 0; torch (and we) give 0, not NaN."""
    x = engine.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]], dtype=engine.float64, requires_grad=True)
    x.std(1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0, 0], [-0.5, 0, 0.5]])


def test_backward_copies_the_gradient_it_is_given():
    w = engine.tensor([1.0, 1.0, 1.0], requires_grad=True)
    r = np.array([1.0, 2.0, 3.0], np.float32)
    (w + 0).backward(r)
    r[:] = 0
    np.testing.assert_array_equal(w.grad, [1.0, 2.0, 3.0])


def test_an_empty_dim_tuple_reduces_everything_as_in_torch():
    x = engine.tensor(np.arange(6.0).reshape(2, 3))
    assert x.sum(dim=()).item() == 15.0 and x.mean(dim=[]).item() == 2.5
    assert x.var(dim=()).item() == pytest.approx(3.5)


def test_max_of_a_0d_tensor_along_dim_0():
    z = engine.tensor(3.0, requires_grad=True)
    m = z.max(dim=0)
    assert m.values.item() == 3.0 and m.indices.item() == 0
    m.values.backward()
    assert z.grad == 1.0
    m.values.data += 1  # its own memory, not z's
    assert z.item() == 3.0


def test_gradients_accumulate_into_grad_in_place_as_torch():
    """A reference to .grad sees the next backward's sum; an array assigned to two grads is not shared."""
    w = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (w * 3).sum().backward()
    ref = w.grad
    (w * w).sum().backward()
    np.testing.assert_array_equal(ref, [5.0, 7.0, 9.0])  # 3 + 2w, in the same array
    a, b = engine.tensor([1.0, 1.0], requires_grad=True), engine.tensor([1.0, 1.0], requires_grad=True)
    shared = np.zeros(2, np.float32)
    a.grad = shared
    b.grad = shared
    (a + 2 * b).sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 1.0])
    np.testing.assert_array_equal(b.grad, [2.0, 2.0])
    np.testing.assert_array_equal(shared, [0.0, 0.0])


def test_relu_zero_and_sigmoid_at_the_extremes():
    """relu(-inf) = 0 (not -inf * 0 = NaN); zero_ clears NaN and inf; sigmoid keeps its tails."""
    np.testing.assert_array_equal(engine.tensor([-np.inf, 2.0]).relu().data, [0.0, 2.0])
    np.testing.assert_array_equal(engine.tensor([np.nan, np.inf, 1.0]).zero_().data, [0.0, 0.0, 0.0])
    x = engine.tensor([-50.0, 30.0], dtype=engine.float64, requires_grad=True)
    s = x.sigmoid()
    s.sum().backward()
    np.testing.assert_allclose(s.data[0], np.exp(-50.0) / (1 + np.exp(-50.0)), rtol=1e-14)  # was 0
    np.testing.assert_allclose(x.grad[1], np.exp(-30.0) / (1 + np.exp(-30.0)) ** 2, rtol=1e-12)  # z(1-z) cancels
    assert engine.tensor([-20.0]).sigmoid().item() > 0  # float32 too


def test_where_notices_its_condition_changing():
    w = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    cond = w.detach() > 1.5
    y = engine.where(cond, w, engine.zeros(3))
    cond.fill_(True)
    with pytest.raises(RuntimeError, match="an input of 'where'.*was modified in place"):
        y.sum().backward()


def test_in_place_dtype_errors_keep_numpys_message():
    a = engine.tensor([3, 4])
    with pytest.raises(TypeError, match=r"/=: int64 \(2,\) with int 2: Cannot cast ufunc 'divide' output"):
        a /= 2
    with pytest.raises(ValueError, match="fill_: the value must be a number or a 0-d tensor"):
        engine.zeros(3).fill_(engine.tensor([2.5]))


def test_value_powers_at_zero_and_of_negatives():
    for p, slope in ((0, 0.0), (0.5, float("inf")), (1, 1.0), (2, 0.0)):
        v = engine.Value(0.0)
        (v**p).backward()
        assert v.grad == slope, p
    with pytest.raises(ValueError, match="negative base .* fractional power"):
        engine.Value(-2.0) ** 0.5
    assert engine.Value(1000.0).exp().data == float("inf")
    assert np.isnan(engine.Value(float("nan")).relu().data)
