"""`engine.Value`, micrograd's scalar, against torch float64 on micrograd's own classic expressions.

With only + - * / ** (and relu) both sides perform the same IEEE operations in the same order, so values and
gradients must be exactly equal; with tanh/exp/log the libm implementations may differ by an ulp, so ≤1e-15 relative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine
from engine import Value

LIBM = 1e-15  # relative: one or two ulps of float64 (2.2e-16) from a different tanh/exp/log


def readme_example(V):
    """micrograd's README example (also its test_more_ops)."""
    a = V(-4.0)
    b = V(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return (a, b), g


def sanity_check(V):
    """micrograd's test_sanity_check."""
    x = V(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    return (x,), y


def neuron_tanh(V):
    """The lecture's neuron (micrograd video): o = tanh(x1 w1 + x2 w2 + b)."""
    x1, x2, w1, w2, b = V(2.0), V(0.0), V(-3.0), V(1.0), V(6.8813735870195432)
    n = x1 * w1 + x2 * w2 + b
    return (x1, x2, w1, w2, b), n.tanh()


def neuron_exp(V):
    """The same neuron with tanh spelled out: (e^{2n} - 1) / (e^{2n} + 1)."""
    x1, x2, w1, w2, b = V(2.0), V(0.0), V(-3.0), V(1.0), V(6.8813735870195432)
    n = x1 * w1 + x2 * w2 + b
    e = (2 * n).exp()
    return (x1, x2, w1, w2, b), (e - 1) / (e + 1)


def log_expression(V):
    a, b = V(1.7), V(0.3)
    c = (a * b + 2).log() * a - (b**2 + 1).log() / b + (a - b).exp().tanh()
    return (a, b), c


def torch_value(torch):
    return lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True)


def run_both(torch, expression):
    leaves, out = expression(Value)
    out.backward()
    t_leaves, t_out = expression(torch_value(torch))
    t_out.backward()
    return leaves, out, t_leaves, t_out


@pytest.mark.parametrize("expression", [readme_example, sanity_check], ids=lambda f: f.__name__)
def test_arithmetic_expressions_equal_torch_exactly(torch, expression):
    leaves, out, t_leaves, t_out = run_both(torch, expression)
    assert out.data == t_out.item()
    for v, t in zip(leaves, t_leaves):
        assert v.grad == t.grad.item()


def test_readme_printed_values():
    """micrograd's README prints g = 24.7041, a.grad = 138.8338, b.grad = 645.5773."""
    (a, b), g = readme_example(Value)
    g.backward()
    assert (f"{g.data:.4f}", f"{a.grad:.4f}", f"{b.grad:.4f}") == ("24.7041", "138.8338", "645.5773")


@pytest.mark.parametrize("expression", [neuron_tanh, neuron_exp, log_expression], ids=lambda f: f.__name__)
def test_transcendental_expressions_match_torch(torch, expression):
    leaves, out, t_leaves, t_out = run_both(torch, expression)
    assert out.data == pytest.approx(t_out.item(), rel=LIBM, abs=0)
    for v, t in zip(leaves, t_leaves):
        assert v.grad == pytest.approx(t.grad.item(), rel=LIBM, abs=1e-300)


def test_neuron_by_hand():
    """The lecture's numbers: o = 0.7071 (tanh of 0.8814), do/dn = 1 - o^2 = 0.5, dw1 = x1 * 0.5 = 1.0."""
    (x1, x2, w1, w2, b), o = neuron_tanh(Value)
    o.backward()
    assert o.data == pytest.approx(math.sqrt(0.5), rel=1e-15)
    assert w1.grad == pytest.approx(1.0, rel=1e-15) and x1.grad == pytest.approx(-1.5, rel=1e-15)
    assert w2.grad == 0.0 and x2.grad == pytest.approx(0.5, rel=1e-15) and b.grad == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize("build, value, grad", [
    (lambda v: v + 2, 5.0, 1.0), (lambda v: 2 + v, 5.0, 1.0),
    (lambda v: v - 2, 1.0, 1.0), (lambda v: 2 - v, -1.0, -1.0),
    (lambda v: v * 2, 6.0, 2.0), (lambda v: 2 * v, 6.0, 2.0),
    (lambda v: v / 2, 1.5, 0.5), (lambda v: 6 / v, 2.0, -6 / 9),
    (lambda v: v**2, 9.0, 6.0), (lambda v: v**-1, 1 / 3, -1 / 9), (lambda v: 2**v, 8.0, 8 * math.log(2)),
    (lambda v: -v, -3.0, -1.0), (lambda v: v.relu(), 3.0, 1.0), (lambda v: (v - 5).relu(), 0.0, 0.0),
    (lambda v: v.exp(), math.exp(3), math.exp(3)), (lambda v: v.log(), math.log(3), 1 / 3),
    (lambda v: v.tanh(), math.tanh(3), 1 - math.tanh(3) ** 2),
])
def test_each_op_with_numbers_on_either_side(build, value, grad):
    """Value(3.0) through one op: the value and derivative, by hand (1e-15 relative for the libm ones)."""
    v = Value(3.0)
    out = build(v)
    out.backward()
    assert out.data == pytest.approx(value, rel=1e-15, abs=0)
    assert v.grad == pytest.approx(grad, rel=1e-15, abs=0)


def test_value_state_and_repr():
    v = Value(2)
    assert isinstance(v.data, float) and v.data == 2.0 and v.grad == 0.0
    assert repr(v) == "Value(data=2.0, grad=0.0)"
    w = v * 3 + 1
    w.backward()
    assert repr(v) == "Value(data=2.0, grad=3.0)"
    assert w.op == "+" and w.parents[0].op == "*" and w.parents[0].parents[0] is v
    named = Value(1.0, label="x")
    assert named.label == named.name == "x"


def test_value_grads_accumulate_and_fan_out():
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0
    (a * a).backward()
    assert a.grad == 2.0 + 6.0


def test_value_no_grad_builds_no_graph():
    with engine.no_grad():
        w = Value(2.0) * 3
    assert w.parents == () and w.data == 6.0


def test_value_errors():
    with pytest.raises(TypeError, match="only int/float exponents"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match=r"Value.log: log of -1.0 is undefined"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="base must be a positive number"):
        (-2) ** Value(0.5)
    with pytest.raises(TypeError, match="cannot combine a Value with str"):
        Value(1.0) + "a"


def test_deep_value_chain_backprops():
    """100,000 ops without RecursionError; d/dx of x*1.0000001 repeated is 1.0000001**100000 (1e-9 rel)."""
    x0 = Value(1.0)
    x = x0
    for _ in range(100_000):
        x = x * 1.0000001
    x.backward()
    assert x0.grad == pytest.approx(1.0000001**100_000, rel=1e-9)
    y = x0
    for _ in range(100_000):
        y = y + 1
    x0.grad = 0.0
    y.backward()
    assert y.data == 100_001.0 and x0.grad == 1.0


def test_value_division_by_zero_says_division():
    for a, b in ((Value(1.0), Value(0.0)), (Value(1.0), 0), (2, Value(0.0))):
        with pytest.raises(ZeroDivisionError, match=r"Value division by zero: \S+ / 0\.0"):
            a / b


@pytest.mark.parametrize("number", [np.int64(3), np.float32(3.0), np.uint8(3)])
def test_numpy_scalars_combine_with_values_like_python_numbers(number):
    v = Value(2.0)
    z = v * number + number - v**number
    z.backward()
    assert z.data == 2 * 3 + 3 - 8 and v.grad == 3 - 3 * 4
