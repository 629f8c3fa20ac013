"""`backward()`'s contract: deep graphs, accumulation, seeds, freeing, in-place guards, grad mode, leaf rules.

Semantics follow torch: grads accumulate across calls, a non-scalar output needs `gradient=`, a graph is freed by
its first backward unless `retain_graph=True`, and an input modified in place after the graph was built makes
backward fail instead of returning a wrong gradient. The 100,000-op chains prove traversal is iterative.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import numpy as np
import pytest

import engine

ROOT = Path(__file__).resolve().parent.parent
DEPTH = 100_000




# ---- deep graphs --------------------------------------------------------------------------------


def test_deep_mul_chain_backprops_and_is_freed(refcount_only):
    """x * 1.0000001, 100,000 times: no RecursionError; d/dx0 = 1.0000001**100000 (float64, 1e-9 rel: 1e5 roundings
    of 1.1e-16 each); dropping the output frees every node by refcounting."""
    x0 = engine.tensor(1.0, dtype=engine.float64, requires_grad=True)
    x = x0
    for i in range(DEPTH):
        x = x * 1.0000001
        if i == DEPTH // 2:
            middle = weakref.ref(x)
    assert sys.getrecursionlimit() < DEPTH
    x.backward()
    assert x0.grad == pytest.approx(1.0000001**DEPTH, rel=1e-9)
    assert x.item() == pytest.approx(1.0000001**DEPTH, rel=1e-9)
    last = weakref.ref(x)
    del x
    assert middle() is None and last() is None


def test_deep_add_chain_deleted_without_backward_does_not_crash():
    """x + 1, 100,000 times, never backpropagated (every VJP closure still alive), then deleted: a subprocess,
    because deep deallocation that recursed in C would crash the interpreter, not raise."""
    code = textwrap.dedent(f"""
        import gc, weakref
        import engine
        gc.disable()
        x0 = engine.tensor([0.0, 1.0], requires_grad=True)
        x = x0
        for i in range({DEPTH}):
            x = x + 1
            if i == 10:
                early = weakref.ref(x)
        assert x.data.tolist() == [{DEPTH}.0, {DEPTH + 1}.0], x.data
        del x
        assert early() is None, "chain not freed by refcounting"
        y = x0
        for _ in range({DEPTH}):
            y = y + 1
        y.sum().backward()
        assert x0.grad.tolist() == [1.0, 1.0], x0.grad
        del y
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


# ---- accumulation and seeds ----------------------------------------------------------------------


def test_gradients_accumulate_across_backward_calls():
    """Two separate forward+backward passes add up, as in torch; `p.grad = None` resets."""
    w = engine.tensor([1.0, -2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * w).sum().backward()  # + 2w
    np.testing.assert_array_equal(w.grad, [3 + 2.0, 3 - 4.0])
    w.grad = None
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])


def test_non_scalar_backward_needs_gradient():
    x = engine.ones(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match=r"\(2, 3\).*not a scalar.*gradient="):
        (x * 2).backward()


def test_backward_with_gradient():
    """y = 3x, backward(gradient=r) gives 3r; the seed may be an array, a Tensor or a list."""
    r = np.array([[1.0, -2.0, 0.5], [4.0, 0.0, -1.0]])
    for seed in (r, engine.tensor(r), r.tolist()):
        x = engine.ones(2, 3, requires_grad=True)
        (x * 3).backward(gradient=seed)
        np.testing.assert_array_equal(x.grad, 3 * r)
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\) for an output of shape \(2, 3\)"):
        (x * 3).backward(np.ones(3))


def test_single_element_non_0d_output_needs_no_gradient():
    x = engine.tensor([[2.0]], requires_grad=True)
    (x * x).backward()
    np.testing.assert_array_equal(x.grad, [[4.0]])


def test_backward_twice_needs_retain_graph():
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    z = (x * x).sum()
    x.grad = None
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])  # 2 * 2x


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (engine.ones(2) * 2).sum().backward()


# ---- in-place modification of saved tensors -------------------------------------------------------


def test_modified_saved_input_makes_backward_fail():
    """w * x saves x; changing x under no_grad (+=, setitem, .data) must fail backward, not give a stale grad."""
    for modify in ("iadd", "setitem", "data", "mul_constant"):
        w = engine.tensor([1.0, 2.0], requires_grad=True)
        x = engine.Tensor([3.0, 4.0], requires_grad=modify != "mul_constant", name="x")
        y = (w * x).sum()
        with engine.no_grad():
            if modify in ("iadd", "mul_constant"):
                x += 1
            elif modify == "setitem":
                x[0] = 10.0
            else:
                x.data = np.array([5.0, 6.0], dtype=np.float32)
        with pytest.raises(RuntimeError, match=r"input of 'mul' \(x of shape \(2,\)\) was modified in place"):
            y.backward()


def test_modification_after_backward_is_fine():
    """The optimizer step after backward touches parameters the (freed) graph no longer needs."""
    w = engine.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with engine.no_grad():
        w -= 0.5 * engine.tensor(w.grad)
    np.testing.assert_array_equal(w.data, [0.0, 0.0])
    w.grad = None
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])


# ---- grad mode ------------------------------------------------------------------------------------


def test_no_grad_context_manager():
    w = engine.ones(2, requires_grad=True)
    assert engine.is_grad_enabled()
    with engine.no_grad():
        assert not engine.is_grad_enabled()
        y = w * 2
        with engine.no_grad():
            pass
        assert not engine.is_grad_enabled()  # the inner block restores the outer state
    assert engine.is_grad_enabled()
    assert not y.requires_grad and y.parents == () and y.op == "mul"
    assert (w * 2).requires_grad


def test_no_grad_restores_after_an_exception():
    with pytest.raises(KeyError), engine.no_grad():
        raise KeyError("boom")
    assert engine.is_grad_enabled()


def test_no_grad_as_decorator():
    """Both `@engine.no_grad()` (the lecture's spelling) and bare `@engine.no_grad`, as torch allows."""
    w = engine.ones(2, requires_grad=True)

    @engine.no_grad()
    def evaluate(t):
        """doc"""
        return t * 2, engine.is_grad_enabled()

    @engine.no_grad
    def evaluate_bare(t):
        return t * 2, engine.is_grad_enabled()

    for fn in (evaluate, evaluate_bare):
        y, enabled = fn(w)
        assert not enabled and not y.requires_grad
        assert engine.is_grad_enabled()
    assert evaluate.__doc__ == "doc"


# ---- leaves and requires_grad --------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: engine.tensor([1, 2], requires_grad=True),
    lambda: engine.zeros(2, dtype=engine.int64, requires_grad=True),
    lambda: engine.tensor([True]).requires_grad_(),
    lambda: engine.arange(3, requires_grad=True),
])
def test_requires_grad_on_an_integer_tensor_raises(make):
    with pytest.raises(TypeError, match=r"only floating-point tensors can require gradients.*\.float\(\)"):
        make()


def test_requires_grad_on_a_non_leaf_raises():
    x = engine.ones(2, requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf
    with pytest.raises(RuntimeError, match=r"leaf.*'mul'.*detach"):
        y.requires_grad = False
    d = y.detach()
    d.requires_grad = True  # a detached copy is a leaf
    assert d.is_leaf and d.requires_grad


def test_integer_index_input_gets_no_gradient():
    x = engine.ones(3, requires_grad=True)
    idx = engine.tensor([0, 2])
    x[idx].sum().backward()
    assert idx.grad is None
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 1.0])


def test_interior_tensors_keep_their_grad():
    """Every tensor in the graph keeps its grad (retain_grad() is accepted and changes nothing)."""
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad, [6.0, 12.0])
    np.testing.assert_array_equal(x.grad, [18.0, 36.0])


def test_interior_grads_are_writable_and_not_shared():
    """Interior grads are the user's arrays, like torch's: writable (not a read-only broadcast view of the
    output's gradient) and not the same buffer as another node's grad (a + b hands both parents one g)."""
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    a, b = x * 2, x * 3
    e = (a + b).exp()  # e.grad comes from sum's broadcast; a.grad and b.grad from add's (g, g)
    e.sum().backward()
    for t in (a, b, e):
        assert t.grad.flags.writeable
    assert not np.shares_memory(a.grad, b.grad)
    expected_b = b.grad.copy()
    a.grad[0] = 0.0
    e.grad *= 2
    np.testing.assert_array_equal(b.grad, expected_b)


def test_in_place_write_through_a_detached_alias_is_caught():
    """detach() shares data and the version counter (as torch does), so a write through it cannot
    silently corrupt a backward that still needs the original."""
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    loss = (y.view(3) * y.view(3)).sum()
    d = y.detach()
    d += 1  # allowed: d does not require grad
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_in_place_write_to_the_base_of_a_view_is_caught():
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.exp()  # exp's VJP reads its output
    loss = y[1:].sum()
    with engine.no_grad():
        y[0] = 5.0
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_a_copy_made_by_advanced_indexing_is_not_an_alias():
    x = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    picked = y[[0, 2]]
    loss = (y * y).sum()
    with engine.no_grad():
        picked += 1  # a copy: writing it cannot change y
    loss.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0, 6.0])
