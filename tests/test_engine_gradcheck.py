"""The checker itself: `engine.gradcheck` must reject a wrong VJP, say where, and accept a right one.

Custom ops are built with the public `engine.make_op(data, parents, vjp, name)`. gradcheck contracts the output
with r = default_rng(seed).standard_normal(out.shape), so the expected analytical and numerical values at an entry
are known in closed form and the message can be checked number by number.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import engine


def square(x, factor: float = 1.0, wrong_where=None):
    """x**2 as a custom op; its VJP is multiplied by `factor` (everywhere, or only where `wrong_where(x)`)."""
    d = x.data

    # z = x**2; dz/dx = 2x  (times `factor`: the deliberate bug)
    def vjp(g):
        scale = np.where(wrong_where(d), factor, 1.0) if wrong_where else factor
        return (g * 2 * d * scale,)

    return engine.make_op(d * d, (x,), vjp, "square")


def scaled_product(a, b, factor_b: float = 1.0):
    """a * b as a custom op, with the gradient for b off by `factor_b`."""
    x, y = a.data, b.data

    # z = a b; dz/da = b, dz/db = a
    def vjp(g):
        return g * y, g * x * factor_b

    return engine.make_op(x * y, (a, b), vjp, "scaled_product")


def parse(message: str) -> dict:
    m = re.search(r"input (\d+) \(shape (\([^)]*\))\), index (\([^)]*\)): analytical (\S+) vs numerical (\S+)",
                  message)
    assert m, f"message does not name input, index and both values: {message}"
    return {"input": int(m[1]), "shape": m[2], "index": m[3], "analytical": float(m[4]), "numerical": float(m[5])}


def test_correct_custom_op_passes():
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]])
    assert engine.gradcheck(square, [x]) is True
    assert engine.gradcheck(scaled_product, [x, x[::-1] + 1.0]) is True


def test_wrong_vjp_raises_naming_input_index_and_both_values():
    """VJP off by 1.5: the first entry fails, analytical = 1.5 * 2x r, numerical = 2x r (to FD accuracy 1e-6)."""
    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]])
    with pytest.raises(engine.GradcheckError) as info:
        engine.gradcheck(lambda t: square(t, factor=1.5), [x])
    got = parse(str(info.value))
    r = np.random.default_rng(0).standard_normal(x.shape)
    true = 2 * x[0, 0] * r[0, 0]
    assert got["input"] == 0 and got["shape"] == "(2, 3)" and got["index"] == "(0, 0)"
    assert got["analytical"] == pytest.approx(1.5 * true, rel=1e-9)
    assert got["numerical"] == pytest.approx(true, rel=1e-6)
    assert isinstance(info.value, AssertionError)  # pytest reports it as a failed check


def test_wrong_entry_is_located():
    """Only entries with x > 1 get a wrong gradient: the first such entry in row-major order is (1, 0)."""
    x = np.array([[0.5, -1.0, 0.75], [1.5, 0.25, 3.0]])
    with pytest.raises(engine.GradcheckError) as info:
        engine.gradcheck(lambda t: square(t, factor=0.5, wrong_where=lambda d: d > 1), [x])
    got = parse(str(info.value))
    assert got["input"] == 0 and got["index"] == "(1, 0)"
    r = np.random.default_rng(0).standard_normal(x.shape)
    assert got["numerical"] == pytest.approx(2 * 1.5 * r[1, 0], rel=1e-6)
    assert got["analytical"] == pytest.approx(0.5 * 2 * 1.5 * r[1, 0], rel=1e-9)


def test_wrong_second_input_is_named():
    """The gradient for b is off by 2: gradcheck names input 1, not input 0."""
    a, b = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    with pytest.raises(engine.GradcheckError) as info:
        engine.gradcheck(lambda s, t: scaled_product(s, t, factor_b=2.0), [a, b])
    got = parse(str(info.value))
    assert got["input"] == 1 and got["index"] == "(0,)"
    assert got["analytical"] == pytest.approx(2 * got["numerical"], rel=1e-6)


def test_small_errors_are_caught():
    """A 1% error exceeds the default rtol 1e-3: gradcheck is not a 1e-2 sampler."""
    x = np.array([0.7, -1.3, 2.2])
    with pytest.raises(engine.GradcheckError):
        engine.gradcheck(lambda t: square(t, factor=1.01), [x])


def test_zero_d_input_index_is_empty():
    with pytest.raises(engine.GradcheckError, match=r"input 0 \(shape \(\)\), index \(\)"):
        engine.gradcheck(lambda t: square(t, factor=3.0), [np.array(1.25)])


def test_gradcheck_works_in_float64_and_skips_integer_inputs():
    """float32 inputs are promoted to float64 for the check; an int64 index input passes through untouched."""
    seen = []

    def fn(x, idx):
        seen.append((x.dtype, idx.dtype))
        return x[idx] * 2

    x = engine.tensor([1.0, 2.0, 3.0])  # float32
    assert engine.gradcheck(fn, [x, engine.tensor([2, 2, 0])])
    assert set(seen) == {(np.dtype(np.float64), np.dtype(np.int64))}
    assert x.dtype == np.float32 and x.grad is None  # the caller's tensor is not touched


def test_gradcheck_accepts_a_single_input_and_rejects_non_tensor_output():
    assert engine.gradcheck(lambda t: t.tanh(), np.array([0.3, -0.2]))
    with pytest.raises(TypeError, match="must return a Tensor"):
        engine.gradcheck(lambda t: t.data, [np.array([1.0])])


def test_make_op_records_the_graph_only_when_needed():
    """make_op links parents only if one requires grad and grad mode is on."""
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    y = square(x)
    assert y.requires_grad and y.parents == (x,) and y.op == "square"
    assert not square(engine.tensor([1.0])).requires_grad
    with engine.no_grad():
        z = square(x)
    assert not z.requires_grad and z.parents == ()


@pytest.mark.parametrize("vjp, got", [
    (lambda g, b: (g * b,), "it returned 1$"),  # b's gradient forgotten: b.grad would silently stay None
    (lambda g, b: g * b, "an object of type ndarray"),  # an array of 2 rows would zip as two gradients
    (lambda g, b: (g * b, g, g), "it returned 3$"),
])
def test_a_custom_vjp_must_return_one_gradient_per_parent(vjp, got):
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([3.0, 4.0], requires_grad=True)
    z = engine.make_op(a.data * b.data, (a, b), lambda g: vjp(g, b.data), "mul2")
    with pytest.raises(TypeError, match=f"VJP of 'mul2' must return a tuple of 2 gradients.*{got}"):
        z.sum().backward()
    assert a.grad is None and b.grad is None


def test_a_custom_vjp_of_the_wrong_shape_is_named():
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    z = engine.make_op(a.data * 2, (a,), lambda g: (np.ones(3),), "twice")
    with pytest.raises(RuntimeError, match=r"the VJP of 'twice' returned a gradient of shape \(3,\) for an input of "
                                           r"shape \(2,\)"):
        z.sum().backward()
