"""The Tensor API the lecture's code uses: `.data`, `.grad`, NumPy interop, properties, creation, in-place updates.

`import engine as torch` must run the lecture's lines unchanged, so each test here is a line or idiom from it:
`p.data += -lr * p.grad`, `(dt - t.grad).abs().max()`, `torch.Generator().manual_seed(2147483647)`, `x.max(1)`.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import engine
import engine.functional as F

# ---- .data and .grad -------------------------------------------------------------------------------


@pytest.mark.parametrize("grad_as", ["array", "tensor"])
def test_data_update_is_in_place(grad_as):
    """`p.data += -lr * grad` writes into the same buffer (views and .numpy() see it), grad an array or a Tensor."""
    p = engine.tensor([1.0, 2.0, 4.0], requires_grad=True)
    buffer, view = p.data, p.numpy()
    (p * p).sum().backward()  # grad 2p = [2, 4, 8]
    grad = p.grad if grad_as == "array" else engine.tensor(p.grad)
    p.data += -0.5 * grad
    assert p.data is buffer
    np.testing.assert_array_equal(view, [0.0, 0.0, 0.0])
    assert p.dtype == np.float32 and p.requires_grad and p.is_leaf


def test_data_assignment():
    """`p.data = array` keeps the tensor's dtype; a new shape replaces the buffer."""
    p = engine.ones(2, requires_grad=True)
    p.data = np.array([3.0, 4.0])  # float64 in, float32 kept
    assert p.dtype == np.float32
    np.testing.assert_array_equal(p.data, [3.0, 4.0])
    p.data = engine.zeros(3)
    assert p.shape == (3,)


def test_grad_is_settable():
    p = engine.ones(2, requires_grad=True)
    assert p.grad is None
    (p * 3).sum().backward()
    assert isinstance(p.grad, np.ndarray)
    p.grad = None
    assert p.grad is None
    p.grad = engine.tensor([1.0, 1.0])  # a Tensor is stored as its array
    assert isinstance(p.grad, np.ndarray)
    (p * 3).sum().backward()
    np.testing.assert_array_equal(p.grad, [4.0, 4.0])


def test_numpy_arrays_on_either_side():
    """The lecture's cmp(): `(dt - t.grad).abs().max()` and `t.grad - dt` are both Tensors."""
    t = engine.tensor([1.0, 2.0], requires_grad=True)
    (t * t).sum().backward()  # grad [2, 4]
    dt = engine.tensor([2.0, 3.5])
    left, right = (dt - t.grad).abs().max(), t.grad - dt
    assert isinstance(left, engine.Tensor) and isinstance(right, engine.Tensor)
    assert left.item() == 0.5
    np.testing.assert_array_equal(right.numpy(), [0.0, 0.5])
    for expr in (np.ones(2) + dt, np.ones(2) * dt, np.ones(2) / dt, np.ones(2) ** dt, np.ones((2, 2)) @ dt,
                 dt + np.ones(2), np.ones(2) > dt):
        assert isinstance(expr, engine.Tensor)
    assert engine.allclose(dt, t.grad + np.array([0.0, -0.5]))
    assert bool(engine.all(dt == np.array([2.0, 3.5])))


# ---- properties and conversions ------------------------------------------------------------------


def test_properties():
    x = engine.arange(6).view(2, 3).float()
    assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == np.float32 and x.dim() == 2
    assert x.nelement() == 6 and x.numel() == 6 and len(x) == 2 and x.size() == (2, 3) and x.size(1) == 3
    assert x.T.shape == (3, 2) and x.mT.shape == (3, 2)
    np.testing.assert_array_equal(x.T.numpy(), [[0, 3], [1, 4], [2, 5]])
    assert isinstance(x.numpy(), np.ndarray) and x.numpy() is x.data
    assert x[1, 2].item() == 5.0 and isinstance(x[1, 2].item(), float)
    assert isinstance(engine.tensor([3]).item(), int)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert [row.shape for row in x] == [(3,), (3,)]
    np.testing.assert_array_equal(np.asarray(x), x.data)


def test_repr_shows_values_op_and_flags():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x + 1) == "tensor([2., 3.], grad_fn=<add>)"
    assert "grad_fn=<tanh>" in repr(x.tanh()) and "grad_fn=<matmul>" in repr(x @ x)
    assert repr(engine.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(engine.tensor(2.5, dtype=engine.float64)) == "tensor(2.5000, dtype=float64)"
    assert str(engine.tensor(0.5)) == "tensor(0.5000)"
    with engine.no_grad():
        assert "grad_fn" not in repr(x * 2)


def test_detach_clone_retain_grad():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.data is x.data  # shares storage, as torch
    c = x.clone()
    assert c.requires_grad and c.op == "clone" and c.data is not x.data
    c.retain_grad()
    (c * 2).sum().backward()
    np.testing.assert_array_equal(c.grad, [2.0, 2.0])
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_requires_grad_flag_and_method():
    x = engine.zeros(2)
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad = False
    assert not x.requires_grad


# ---- creation and randomness ----------------------------------------------------------------------


def test_creation_functions():
    np.testing.assert_array_equal(engine.zeros(2, 3).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(engine.ones((2, 3)).numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(engine.full((2,), 1.5).numpy(), [1.5, 1.5])
    like = engine.ones(2, 3, dtype=engine.float64)
    assert engine.zeros_like(like).shape == (2, 3) and engine.ones_like(like).dtype == np.float64
    np.testing.assert_array_equal(engine.arange(5).numpy(), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(engine.arange(1, 7, 2).numpy(), [1, 3, 5])
    assert engine.randn(3, 4).shape == (3, 4) and engine.randn((3, 4)).shape == (3, 4)
    assert engine.zeros(2, requires_grad=True).requires_grad
    t = engine.tensor([[1, 2], [3, 4]])
    assert t.shape == (2, 2) and engine.tensor(t).data is not t.data  # tensor() copies


def test_generator_is_reproducible():
    """Same seed, same numbers; a different seed, different numbers; randint bounds and shapes as asked."""
    def draw(seed):
        g = engine.Generator().manual_seed(seed)
        return (engine.randn(3, 4, generator=g).numpy(), engine.randint(0, 27, (5,), generator=g).numpy(),
                engine.randint(10, (2, 2), generator=g).numpy(), engine.rand(3, generator=g).numpy())

    first, again, other = draw(2147483647), draw(2147483647), draw(1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert first[1].shape == (5,) and first[1].min() >= 0 and first[1].max() < 27
    assert first[2].shape == (2, 2) and first[2].max() < 10
    assert first[3].min() >= 0 and first[3].max() < 1
    assert engine.Generator().manual_seed(5).initial_seed() == 5


def test_global_manual_seed():
    engine.manual_seed(42)
    a = engine.randn(4).numpy()
    engine.manual_seed(42)
    np.testing.assert_array_equal(engine.randn(4).numpy(), a)
    g = engine.manual_seed(43)
    assert g is engine.default_generator and g.initial_seed() == 43


# ---- comparisons, all/allclose, max(dim) -----------------------------------------------------------


def test_comparisons_are_bool_without_grad():
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for c in (x > 1.5, x >= 2, x < 2, x <= 1, x == 2.0, x != 2.0, engine.gt(x, 2)):
        assert c.dtype == np.bool_ and not c.requires_grad and c.parents == ()
    np.testing.assert_array_equal((x > 1.5).numpy(), [False, True, True])
    np.testing.assert_array_equal((x == 2.0).numpy(), [False, True, False])
    assert {x: 1}[x] == 1  # elementwise __eq__, yet still hashable


def test_all_any_allclose():
    assert bool(engine.all(engine.tensor([True, True]))) and not bool(engine.all(engine.tensor([True, False])))
    assert bool(engine.any(engine.tensor([False, True])))
    a = engine.tensor([1.0, 2.0])
    assert engine.allclose(a, a + 1e-7) and not engine.allclose(a, a + 1e-3)
    assert engine.allclose(a, np.array([1.0, 2.0]), rtol=0, atol=0)
    assert engine.all(a.argmax() == 1)


def test_max_dim_returns_values_and_indices():
    x = engine.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], requires_grad=True)
    r = x.max(1)
    values, indices = r  # unpacks like torch.return_types.max
    assert values is r.values and indices is r.indices and r[0] is r.values
    np.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    assert indices.dtype == np.int64 and not indices.requires_grad
    (values * engine.tensor([10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 10, 0], [100, 0, 0]])
    assert engine.max(x).item() == 7.0 and engine.min(x, 1).indices.tolist() == [0, 1]
    assert x.argmax(1).tolist() == [1, 0] and x.argmin().item() == 4


# ---- in-place updates -----------------------------------------------------------------------------


def test_in_place_ops_on_plain_tensors():
    x = engine.tensor([1.0, 2.0])
    buf = x.data
    x += 1
    x -= engine.tensor([0.5, 0.5])
    x *= 2
    x /= np.array([3.0, 1.0])
    assert x.data is buf
    np.testing.assert_allclose(x.numpy(), [1.0, 5.0], rtol=1e-7)
    x[0] = 10.0
    x[engine.tensor([1])] = engine.tensor([20.0])
    np.testing.assert_array_equal(x.numpy(), [10.0, 20.0])
    assert x.zero_() is x and x.tolist() == [0.0, 0.0] and x.fill_(3.0).tolist() == [3.0, 3.0]


def test_in_place_ops_under_no_grad_on_parameters():
    p = engine.ones(3, requires_grad=True)
    with engine.no_grad():
        p += 1
        p *= engine.tensor([1.0, 2.0, 3.0])
        p[0] = -1.0
        p -= 1
        p /= 2
    np.testing.assert_array_equal(p.numpy(), [-1.0, 1.5, 2.5])
    assert p.requires_grad and p.is_leaf


@pytest.mark.parametrize("modify", [
    lambda t: t.__iadd__(1), lambda t: t.__isub__(1), lambda t: t.__imul__(2), lambda t: t.__itruediv__(2),
    lambda t: t.__setitem__(0, 5.0), lambda t: t.zero_(), lambda t: t.fill_(1.0),
])
def test_in_place_on_a_tensor_the_graph_needs_raises(modify):
    leaf = engine.ones(3, requires_grad=True)
    interior = leaf * 2
    for t, made in ((leaf, "a leaf that requires grad"), (interior, "made by 'mul'")):
        with pytest.raises(RuntimeError, match=rf"in-place change of a tensor the graph needs \({made}\).*no_grad"):
            modify(t)
    np.testing.assert_array_equal(leaf.numpy(), [1.0, 1.0, 1.0])


def test_setitem_with_a_value_that_requires_grad_raises():
    x = engine.zeros(3)
    with pytest.raises(RuntimeError, match="the value requires grad.*cat, stack, where"):
        x[0] = engine.tensor(1.0, requires_grad=True)


def test_cross_entropy_is_reachable_as_torch_nn_functional():
    """`import engine as torch; torch.nn.functional.cross_entropy` — the lecture's F."""
    assert engine.nn.functional.cross_entropy is F.cross_entropy
    logits = engine.tensor([[0.0, 0.0]])
    assert engine.nn.functional.cross_entropy(logits, engine.tensor([1])).item() == pytest.approx(np.log(2), rel=1e-6)


def test_to_accepts_torchs_forms_and_the_cpu():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    assert x.to("cpu") is x and x.to("cpu", engine.float64).dtype == engine.float64
    assert x.to(dtype=engine.float64).dtype == engine.float64 and x.half().dtype == engine.float16
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        x.to("cuda")
    (x.half() * 2).sum().backward()  # the gradient comes back in x's dtype
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 2.0]


def test_randint_with_only_high_and_a_size_keyword():
    assert engine.randint(5, size=(3,)).shape == (3,)
    assert int(engine.randint(1, size=(4,)).max()) == 0


# ---- NumPy interop, dtypes by name, grad mode per thread (found by an audit of the API) ----------------------


def test_numpy_copies_when_asked_and_shares_otherwise():
    """np.array and np.copy ask __array__ for a copy and trust they got one: sharing let a write zero a leaf."""
    w = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (w * w).sum()
    np.copy(w)[:] = 0
    np.array(w)[:] = 0
    np.array(w, dtype=np.float64)[:] = 0
    y.backward()
    np.testing.assert_array_equal(w.data, [1, 2, 3])
    np.testing.assert_array_equal(w.grad, [2, 4, 6])
    assert np.asarray(w) is w.data and w.numpy() is w.data  # no copy asked: the documented shared array
    with pytest.raises(ValueError, match="float32 tensor cannot be viewed as float64 without a copy"):
        np.asarray(w, dtype=np.float64, copy=False)


@pytest.mark.parametrize("value", [None, 5.0, [1.0, 2.0, 3.0]])
def test_data_takes_only_arrays_and_tensors(value):
    p = engine.zeros(3, requires_grad=True)
    with pytest.raises(TypeError, match="data: assign a Tensor or a NumPy array, got"):
        p.data = value
    assert p.shape == (3,)


def test_arange_with_an_integer_dtype_needs_integer_arguments():
    """NumPy sizes such a range by the float step but steps by its integer part: ten zeros for a step of 0.1."""
    for step in (0.1, 1.5):
        with pytest.raises(ValueError, match=rf"arange: an integer dtype \(int64\) needs integer .* got 0, 5, {step}"):
            engine.arange(0, 5, step, dtype=engine.int64)
    assert engine.arange(0, 5, 2, dtype=engine.int32).tolist() == [0, 2, 4]


@pytest.mark.parametrize("name, dtype", [("float", np.float32), ("double", np.float64), ("half", np.float16),
                                         ("int", np.int32), ("long", np.int64), ("float64", np.float64)])
def test_dtype_names_mean_what_they_mean_in_torch(name, dtype):
    """NumPy reads "float" as float64 and "int" as int64; engine.float and .float() are float32, as in torch."""
    assert engine.tensor([1.0], dtype=name).dtype == dtype
    assert engine.ones(2).to(name).dtype == dtype


@pytest.mark.parametrize("name", ["object", "str", "datetime64"])
def test_non_numeric_dtypes_are_refused(name):
    with pytest.raises(TypeError, match="is not numeric"):
        engine.ones(2).to(name)
    with pytest.raises(TypeError, match="is not numeric"):
        engine.zeros(2, dtype=name)


def test_in_looks_for_an_equal_element():
    t = engine.tensor([[1, 2], [3, 4]])
    assert 2 in t and 5 not in t and engine.tensor(4) in t


def test_requires_grad_on_a_non_leaf_that_already_requires_it_is_a_no_op():
    y = engine.ones(2, requires_grad=True) * 2
    assert y.requires_grad_() is y and y.requires_grad
    with pytest.raises(RuntimeError, match="requires_grad can only be set on leaf tensors"):
        y.requires_grad_(False)


def test_no_grad_in_one_thread_leaves_the_others_alone():
    """Grad mode is per thread, as torch's: a worker inside no_grad neither disables nor, on leaving, re-enables
    another thread's; two overlapping no_grad blocks in two threads leave both on afterwards."""
    inside, checked, seen = threading.Event(), threading.Event(), {}

    def worker():
        with engine.no_grad():
            seen["worker"] = engine.is_grad_enabled()
            inside.set()
            checked.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(10)
    seen["main"] = engine.is_grad_enabled()
    w = engine.ones(2, requires_grad=True)
    seen["recorded"] = (w * 3).requires_grad
    with engine.no_grad():
        checked.set()
        thread.join(10)
    assert seen == {"worker": False, "main": True, "recorded": True}
    assert engine.is_grad_enabled()


def test_no_grad_on_a_generator_function_covers_every_resumption():
    @engine.no_grad()
    def evaluate(n):
        for i in range(n):
            got = yield engine.is_grad_enabled(), i
            if got is not None:
                yield "sent", got
        return "done"

    gen = evaluate(3)
    assert next(gen) == (False, 0)
    assert engine.is_grad_enabled()  # on again between resumptions
    assert gen.send("x") == ("sent", "x")
    assert next(gen) == (False, 1)
    with pytest.raises(ValueError, match="from outside"):
        gen.throw(ValueError("from outside"))
    assert list(evaluate(2)) == [(False, 0), (False, 1)]
    closing = evaluate(5)
    next(closing)
    closing.close()
    assert engine.is_grad_enabled()
