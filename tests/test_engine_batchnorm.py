"""engine.functional.batch_norm_train: the lecture's fused batchnorm op against its step-by-step lines.

Oracles: the same math written as separate engine ops (float64, 1e-12), PyTorch on the lecture's lines
(float64, rel 1e-10), and float64 finite differences (engine.gradcheck, atol 1e-7 rtol 1e-5).
"""

from __future__ import annotations

import types

import numpy as np
import pytest

import engine
import engine.functional as F
from model.mlp import batchnorm_train


def _inputs(n=16, h=7, seed=0, gain_shape=None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h)) * 3 + 1
    gain = rng.standard_normal(gain_shape or (1, h)) * 0.1 + 1
    bias = rng.standard_normal(gain_shape or (1, h)) * 0.1
    return x, gain, bias


def _leaves(*arrays):
    return [engine.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("gain_shape", [None, (7,)])
def test_fused_op_equals_the_lecture_lines(gain_shape):
    x, gain, bias = _inputs(gain_shape=gain_shape)
    w = np.random.default_rng(1).standard_normal((16, 7))
    fused_in, lines_in = _leaves(x, gain, bias), _leaves(x, gain, bias)
    fused = F.batch_norm_train(*fused_in)
    lines = batchnorm_train(types.SimpleNamespace(), *lines_in)  # a namespace without the fused op
    assert fused.op == "batch_norm_train" and lines.op == "add"
    np.testing.assert_allclose(fused.data, lines.data, rtol=0, atol=1e-12)
    (fused * w).sum().backward()
    (lines * w).sum().backward()
    for a, b in zip(fused_in, lines_in):
        assert a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad, b.grad, rtol=0, atol=1e-12)


def test_fused_op_matches_torch_on_the_lecture_lines(torch):
    x, gain, bias = _inputs(n=32, h=200, seed=3)
    ours = _leaves(x, gain, bias)
    F.batch_norm_train(*ours).tanh().sum().backward()
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, gain, bias)]
    batchnorm_train(torch.nn.functional, *theirs).tanh().sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_fused_op_passes_gradcheck():
    x, gain, bias = _inputs(n=5, h=3, seed=2)
    assert engine.gradcheck(lambda a, g, b: F.batch_norm_train(a, g, b).tanh(), [x, gain, bias],
                            atol=1e-7, rtol=1e-5)


def test_float32_stays_float32():
    x, gain, bias = (a.astype(np.float32) for a in _inputs())
    ts = _leaves(x, gain, bias)
    out = F.batch_norm_train(*ts)
    out.sum().backward()
    assert out.dtype == np.float32 and all(t.grad.dtype == np.float32 for t in ts)


def test_clear_errors():
    x, gain, bias = _inputs(n=1)
    with pytest.raises(ValueError, match="at least 2 examples"):
        F.batch_norm_train(x, gain, bias)
    x, gain, bias = _inputs()
    with pytest.raises(ValueError, match=r"gain of shape \(1, 6\) for 7 features"):
        F.batch_norm_train(x, gain[:, :6], bias)
    with pytest.raises(ValueError, match=r"must be \(n, features\)"):
        F.batch_norm_train(x[None], gain, bias)
