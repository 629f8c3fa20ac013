"""engine.optim.SGD: torch.optim.SGD's plain update (p -= lr * grad), step by step against torch and by hand.

Oracles: torch.optim.SGD on the same float32 problem (parameters within 1e-6 after three steps: only the
backward's rounding differs), literal updates on small cases (exact: the numbers are binary fractions),
and the errors a wrong use must raise.
"""

from __future__ import annotations

import numpy as np
import pytest

import engine


def test_step_is_p_minus_lr_times_grad_and_skips_a_none_grad():
    w = engine.tensor([1.0, 2.0], requires_grad=True)
    unused = engine.tensor([5.0], requires_grad=True)
    opt = engine.optim.SGD([w, unused], lr=0.25)
    (w * w).sum().backward()  # grad 2w = [2, 4]
    opt.step()
    np.testing.assert_array_equal(w.data, [0.5, 1.0])
    np.testing.assert_array_equal(unused.data, [5.0])  # grad None: skipped, as torch does
    assert w.dtype == np.float32 and w.is_leaf
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])  # step leaves the gradient alone


def test_zero_grad_sets_none_by_default_or_zeros_in_place():
    w = engine.tensor([1.0, 2.0], requires_grad=True)
    opt = engine.optim.SGD([w], lr=0.1)
    (w * 3).sum().backward()
    held = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is held
    np.testing.assert_array_equal(held, [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None
    opt.zero_grad(set_to_none=False)  # no grad to zero: stays None, as in torch
    assert w.grad is None


def test_zero_grad_in_place_never_writes_an_array_another_tensor_shares():
    """backward may hand one array to several tensors (the add below gives a and b the same g)."""
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([3.0, 4.0], requires_grad=True)
    (a + b).backward(engine.tensor([1.0, 1.0]))
    engine.optim.SGD([a], lr=0.1).zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad, [0.0, 0.0])
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_lr_is_read_from_param_groups_at_every_step():
    w = engine.tensor([0.0], requires_grad=True)
    opt = engine.optim.SGD([w], lr=1.0)
    for lr in (1.0, 0.5):
        opt.param_groups[0]["lr"] = lr
        w.grad = np.array([1.0], np.float32)
        opt.step()
    np.testing.assert_array_equal(w.data, [-1.5])


def test_a_numpy_float64_lr_keeps_float32_parameters_float32_and_rounded_as_float32():
    w = engine.tensor([1.0, 1.0], requires_grad=True)
    g = np.array([0.1, 0.3], np.float32)
    w.grad = g
    engine.optim.SGD([w], lr=np.float64(0.1)).step()
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w.data, np.float32(1) - np.float32(0.1) * g)


def test_a_graph_built_before_the_step_refuses_to_backprop():
    """step changes the parameters in place, so gradients through a graph that read them would be stale."""
    w = engine.tensor([1.0, 2.0], requires_grad=True)
    opt = engine.optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    stale = (w * w).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place"):
        stale.backward()


def test_matches_torch_sgd_over_three_steps(torch):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)]
    x = rng.standard_normal((5, 4)).astype(np.float32)
    results = []
    for ns in (engine, torch):
        w, b = (ns.tensor(a.copy(), requires_grad=True) for a in arrays)
        opt = ns.optim.SGD([w, b], lr=0.1)
        for _ in range(3):
            loss = (ns.tanh(ns.tensor(x) @ w + b) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        results.append([np.array(w.detach().numpy() if ns is torch else w.data) for w in (w, b)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("params", "lr", "error", "match"), [
    (lambda: engine.ones(2, requires_grad=True), 0.1, TypeError, "iterable of tensors"),
    (lambda: [], 0.1, ValueError, "empty"),
    (lambda: [np.ones(2)], 0.1, TypeError, "parameter 0 is a ndarray"),
    (lambda: [engine.ones(2, requires_grad=True) * 2], 0.1, ValueError, "made by 'mul'.*leaf"),
    (lambda: [engine.ones(2, requires_grad=True)] * 2, 0.1, ValueError, "more than once"),
    (lambda: [engine.ones(2, requires_grad=True)], -0.1, ValueError, "lr must be a non-negative number"),
    (lambda: [engine.ones(2, requires_grad=True)], "0.1", ValueError, "lr must be a non-negative number"),
    (lambda: [engine.ones(2, requires_grad=True)], float("nan"), ValueError, "lr must be a non-negative number"),
    (lambda: [engine.ones(2, requires_grad=True)], True, ValueError, "lr must be a non-negative number"),
])
def test_errors_name_the_problem(params, lr, error, match):
    with pytest.raises(error, match=match):
        engine.optim.SGD(params(), lr)


def test_a_read_only_parameter_is_refused_up_front():
    frozen = np.ones(2, np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="parameter 0 wraps a read-only array"):
        engine.optim.SGD([engine.as_tensor(frozen)], lr=0.1)
