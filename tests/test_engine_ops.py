"""Every differentiable op's gradient, checked against PyTorch and against float64 finite differences.

A case is one function written once for both libraries, `fn(ns, *xs)`, where `ns.lib` is `engine` or `torch` and
`ns.F` its functional module, plus generators for its float64 inputs. Each case runs three times:
engine vs torch in float64 (tight), engine vs torch in float32 (loose, and the grads must stay float32), and
`engine.gradcheck` (central differences, float64). The output is contracted with a random cotangent, not summed,
so every entry of the Jacobian-vector product is compared.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest

import engine
import engine.functional as EF

# float64 against float64: the same math in a different order; a few ulps of a few-term sum.
TIGHT = {"rtol": 1e-10, "atol": 1e-12}
# float32 against float32: a few ulps (eps = 1.2e-7) of sums of up to ~30 terms, as torch.allclose would judge.
LOOSE = {"rtol": 1e-5, "atol": 1e-5}
# engine.gradcheck: central differences with step 1e-6 in float64 are good to ~1e-9 here; a wrong VJP is off by O(1).
FD = {"eps": 1e-6, "atol": 1e-7, "rtol": 1e-5}

# `arr` is how a NumPy operand enters: the engine takes arrays as they are, torch needs them wrapped
ENGINE = SimpleNamespace(lib=engine, F=EF, arr=lambda a: a)


# ---- input generators ----------------------------------------------------------------------


def normal(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.standard_normal(shape)


def positive(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    """Uniform in [0.5, 2]: a domain for log, sqrt, x**-0.5 and tensor exponents."""
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def off_kink(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    """|x| >= 0.1, so relu/abs are differentiable and x ± eps never crosses 0."""
    def make(rng):
        x = rng.standard_normal(shape)
        return np.sign(x) * (0.1 + np.abs(x))

    return make


@dataclass(frozen=True)
class Case:
    id: str
    fn: Callable
    inputs: tuple
    fd: bool = True  # False where the op rounds through float32, so finite differences are meaningless

    def arrays(self) -> list[np.ndarray]:
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        return [make(rng) for make in self.inputs]


MASK = np.array([[True, False, True, True, False], [False, False, True, False, True],
                 [True, True, False, False, False], [False, True, True, True, True]])

CASES = [
    # ---- binary: + - * / ** (scalar and tensor exponent), numbers and arrays on either side, @, maximum
    Case("add", lambda ns, a, b: a + b, (normal(3, 4), normal(3, 4))),
    Case("add-broadcast", lambda ns, a, b: a + b, (normal(3, 1), normal(1, 4))),
    Case("add-number", lambda ns, a: 2.5 + a + 1, (normal(3, 4),)),
    Case("sub", lambda ns, a, b: a - b, (normal(2, 3, 4), normal(4))),
    Case("sub-number-left", lambda ns, a: 3.0 - a, (normal(3, 4),)),
    Case("mul", lambda ns, a, b: a * b, (normal(3, 4), normal(3, 1))),
    Case("mul-self", lambda ns, a: a * a, (normal(3, 4),)),
    Case("mul-number", lambda ns, a: 0.5 * a * 3, (normal(3, 4),)),
    Case("div", lambda ns, a, b: a / b, (normal(3, 4), positive(4))),
    Case("div-negative-denominator", lambda ns, a, b: a / (-b), (normal(2, 3), positive(2, 1))),
    Case("div-number-left", lambda ns, a: 2.0 / a, (positive(3, 4),)),
    Case("div-number-right", lambda ns, a: a / 3.0, (normal(3, 4),)),
    Case("pow-2", lambda ns, a: a**2, (normal(3, 4),)),
    Case("pow-3", lambda ns, a: a**3, (normal(3, 4),)),
    Case("pow-minus-1", lambda ns, a: a**-1, (positive(3, 4),)),
    Case("pow-half", lambda ns, a: a**0.5, (positive(3, 4),)),
    Case("pow-minus-half", lambda ns, a: a**-0.5, (positive(3, 4),)),
    Case("pow-2.5", lambda ns, a: a**2.5, (positive(3, 4),)),
    Case("pow-tensor-exponent", lambda ns, a, b: a**b, (positive(3, 4), normal(3, 4))),
    Case("pow-tensor-exponent-broadcast", lambda ns, a, b: a**b, (positive(3, 1), normal(4))),
    Case("pow-number-base", lambda ns, b: 2.0**b, (normal(3, 4),)),
    Case("array-operands", lambda ns, a: ns.arr(np.linspace(-1, 1, 4, dtype=np.float32)) * a
         - ns.arr(np.ones((3, 4), np.float32)) + a / ns.arr(np.full(4, 2.0, np.float32)), (normal(3, 4),)),
    Case("matmul-2d", lambda ns, a, b: a @ b, (normal(3, 4), normal(4, 5))),
    Case("matmul-batched", lambda ns, a, b: a @ b, (normal(2, 3, 4), normal(2, 4, 5))),
    Case("matmul-batched-2d", lambda ns, a, b: a @ b, (normal(2, 3, 4), normal(4, 5))),
    Case("matmul-broadcast-batch", lambda ns, a, b: a @ b, (normal(2, 1, 3, 4), normal(3, 4, 2))),
    Case("matmul-1d-left", lambda ns, a, b: a @ b, (normal(4), normal(4, 5))),
    Case("matmul-1d-right", lambda ns, a, b: a @ b, (normal(3, 4), normal(4))),
    Case("matmul-1d-1d", lambda ns, a, b: a @ b, (normal(4), normal(4))),
    Case("matmul-1d-batched", lambda ns, a, b: a @ b, (normal(4), normal(2, 4, 3))),
    Case("matmul-batched-1d", lambda ns, a, b: a @ b, (normal(2, 3, 4), normal(4))),
    Case("matmul-method", lambda ns, a, b: a.matmul(b), (normal(3, 4), normal(4, 2))),
    Case("maximum", lambda ns, a, b: ns.lib.maximum(a, b), (normal(3, 4), normal(3, 4))),
    Case("maximum-broadcast", lambda ns, a, b: ns.lib.maximum(a, b), (normal(3, 1), normal(4))),
    Case("where", lambda ns, a, b: ns.lib.where(ns.lib.tensor(MASK[:3, :4]), a, b), (normal(3, 4), normal(1, 4))),
    # ---- unary
    Case("exp", lambda ns, a: a.exp(), (normal(3, 4),)),
    Case("exp-function", lambda ns, a: ns.lib.exp(a), (normal(3, 4),)),
    Case("log", lambda ns, a: a.log(), (positive(3, 4),)),
    Case("log10", lambda ns, a: a.log10(), (positive(3, 4),)),
    Case("tanh", lambda ns, a: a.tanh(), (normal(3, 4),)),
    Case("tanh-functional", lambda ns, a: ns.F.tanh(a), (normal(3, 4),)),
    Case("relu", lambda ns, a: a.relu(), (off_kink(3, 4),)),
    Case("sigmoid", lambda ns, a: a.sigmoid(), (normal(3, 4),)),
    Case("sqrt", lambda ns, a: a.sqrt(), (positive(3, 4),)),
    Case("abs", lambda ns, a: a.abs(), (off_kink(3, 4),)),
    Case("abs-builtin", lambda ns, a: abs(a), (off_kink(3, 4),)),
    Case("neg", lambda ns, a: -a, (normal(3, 4),)),
    Case("neg-method", lambda ns, a: a.neg(), (normal(3, 4),)),
    # ---- reductions: over all, int dim, tuple, negative, keepdim and keepdims
    Case("sum-all", lambda ns, a: a.sum(), (normal(3, 4),)),
    Case("sum-dim", lambda ns, a: a.sum(0), (normal(3, 4),)),
    Case("sum-negative-dim", lambda ns, a: a.sum(-1), (normal(2, 3, 4),)),
    Case("sum-tuple", lambda ns, a: a.sum((0, 2)), (normal(2, 3, 4),)),
    Case("sum-tuple-negative-keepdim", lambda ns, a: a.sum((-1, 0), keepdim=True), (normal(2, 3, 4),)),
    Case("sum-keepdims", lambda ns, a: a.sum(1, keepdims=True), (normal(3, 4),)),
    Case("sum-function", lambda ns, a: ns.lib.sum(a, dim=1), (normal(3, 4),)),
    Case("mean-all", lambda ns, a: a.mean(), (normal(3, 4),)),
    Case("mean-dim-keepdim", lambda ns, a: a.mean(1, keepdim=True), (normal(3, 4),)),
    Case("mean-tuple", lambda ns, a: a.mean(dim=(0, -1)), (normal(2, 3, 4),)),
    Case("mean-negative-keepdims", lambda ns, a: a.mean(-2, keepdims=True), (normal(2, 3, 4),)),
    Case("var-all", lambda ns, a: a.var(), (normal(3, 4),)),
    Case("var-dim", lambda ns, a: a.var(0), (normal(3, 4),)),
    Case("var-biased", lambda ns, a: a.var(1, unbiased=False), (normal(3, 4),)),
    Case("var-correction", lambda ns, a: a.var(-1, correction=0, keepdim=True), (normal(3, 4),)),
    Case("var-correction-2", lambda ns, a: a.var((0, 2), correction=2), (normal(2, 3, 4),)),
    Case("var-keepdims", lambda ns, a: a.var(0, keepdims=True), (normal(5, 2),)),
    Case("std-all", lambda ns, a: a.std(), (normal(3, 4),)),
    Case("std-dim", lambda ns, a: a.std(1), (normal(3, 4),)),
    Case("std-biased-keepdim", lambda ns, a: a.std(-1, unbiased=False, keepdim=True), (normal(3, 4),)),
    Case("std-correction-tuple", lambda ns, a: a.std((0, 1), correction=0), (normal(2, 3, 4),)),
    Case("max-all", lambda ns, a: a.max(), (normal(3, 4),)),
    Case("max-dim", lambda ns, a: a.max(1).values, (normal(3, 4),)),
    Case("max-negative-keepdim", lambda ns, a: a.max(-1, keepdim=True).values, (normal(2, 3, 4),)),
    Case("max-keepdims", lambda ns, a: a.max(0, keepdims=True)[0], (normal(3, 4),)),
    Case("max-function", lambda ns, a: ns.lib.max(a, 0).values, (normal(3, 4),)),
    Case("min-all", lambda ns, a: a.min(), (normal(3, 4),)),
    Case("min-dim", lambda ns, a: a.min(0).values, (normal(3, 4),)),
    Case("min-negative-keepdim", lambda ns, a: a.min(-2, keepdim=True).values, (normal(2, 3, 4),)),
    # ---- shape
    Case("view-minus-1", lambda ns, a: a.view(-1), (normal(3, 4),)),
    Case("view", lambda ns, a: a.view(2, 6) * ns.lib.tensor([0.0, 1, 2, 3, 4, 5]), (normal(3, 4),)),
    Case("reshape-minus-1", lambda ns, a: a.reshape(4, -1), (normal(2, 3, 4),)),
    Case("reshape-tuple", lambda ns, a: a.reshape((6, 2)), (normal(3, 4),)),
    Case("transpose", lambda ns, a: a.transpose(0, 1), (normal(3, 4),)),
    Case("transpose-negative", lambda ns, a: a.transpose(-1, -3), (normal(2, 3, 4),)),
    Case("transpose-function", lambda ns, a: ns.lib.transpose(a, 1, 2), (normal(2, 3, 4),)),
    Case("permute", lambda ns, a: a.permute(2, 0, 1), (normal(2, 3, 4),)),
    Case("permute-tuple", lambda ns, a: a.permute((1, 2, 0)), (normal(2, 3, 4),)),
    Case("squeeze-all", lambda ns, a: a.squeeze(), (normal(3, 1, 4, 1),)),
    Case("squeeze-dim", lambda ns, a: a.squeeze(1), (normal(3, 1, 4, 1),)),
    Case("squeeze-negative", lambda ns, a: a.squeeze(-1), (normal(3, 1, 4, 1),)),
    Case("unsqueeze", lambda ns, a: a.unsqueeze(0), (normal(3, 4),)),
    Case("unsqueeze-negative", lambda ns, a: a.unsqueeze(-1) * ns.lib.tensor([1.0, 2.0]), (normal(3, 4),)),
    Case("flatten", lambda ns, a: a.flatten(), (normal(2, 3, 4),)),
    Case("flatten-start", lambda ns, a: a.flatten(1), (normal(2, 3, 4),)),
    Case("flatten-range", lambda ns, a: a.flatten(0, 1), (normal(2, 3, 4),)),
    Case("T", lambda ns, a: a.T, (normal(3, 4),)),
    Case("T-matmul", lambda ns, a, b: a.T @ b, (normal(4, 3), normal(4, 2))),
    Case("cat", lambda ns, a, b: ns.lib.cat([a, b]), (normal(2, 4), normal(3, 4))),
    Case("cat-dim-1", lambda ns, a, b, c: ns.lib.cat([a, b, c], dim=1), (normal(3, 1), normal(3, 4), normal(3, 2))),
    Case("cat-negative", lambda ns, a, b: ns.lib.cat((a, b), -1), (normal(2, 3, 1), normal(2, 3, 2))),
    Case("cat-same-tensor", lambda ns, a: ns.lib.cat([a, a * 2, a]), (normal(2, 3),)),
    Case("stack", lambda ns, a, b, c: ns.lib.stack([a, b, c]), (normal(3, 4), normal(3, 4), normal(3, 4))),
    Case("stack-negative", lambda ns, a, b: ns.lib.stack((a, b), dim=-1), (normal(3, 4), normal(3, 4))),
    Case("stack-dim-1", lambda ns, a, b: ns.lib.stack([a, b], 1), (normal(3, 4), normal(3, 4))),
    # ---- indexing
    Case("addmm", lambda ns, b, m1, m2: ns.lib.addmm(b, m1, m2), (normal(5), normal(3, 4), normal(4, 5))),
    Case("addmm-full-input", lambda ns, b, m1, m2: ns.lib.addmm(b, m1, m2), (normal(3, 5), normal(3, 4), normal(4, 5))),
    Case("addmm-column-input", lambda ns, b, m1, m2: b.addmm(m1, m2), (normal(3, 1), normal(3, 4), normal(4, 5))),
    Case("addmm-alpha-beta", lambda ns, b, m1, m2: ns.lib.addmm(b, m1, m2, beta=0.5, alpha=-2.0),
         (normal(1, 5), normal(3, 4), normal(4, 5))),
    Case("addmm-beta-zero", lambda ns, b, m1, m2: ns.lib.addmm(b, m1, m2, beta=0, alpha=3),
         (normal(5), normal(3, 4), normal(4, 5))),
    Case("index-int", lambda ns, a: a[1], (normal(4, 5),)),
    Case("index-negative-int", lambda ns, a: a[-1, 2], (normal(4, 5),)),
    Case("index-slice", lambda ns, a: a[1:3], (normal(4, 5),)),
    Case("index-step-slice", lambda ns, a: a[::2, 1:-1], (normal(4, 5),)),
    Case("index-none", lambda ns, a: a[:, None, 1], (normal(4, 5),)),
    Case("index-ellipsis", lambda ns, a: a[..., 0], (normal(2, 3, 4),)),
    Case("index-tensor", lambda ns, a: a[ns.lib.tensor([3, 0, 2])], (normal(4, 5),)),
    Case("index-tensor-repeated", lambda ns, a: a[ns.lib.tensor([0, 0, 1, 0])], (normal(4, 5),)),
    Case("index-2d-tensor-embedding", lambda ns, a: a[ns.lib.tensor([[0, 2, 2], [3, 0, 2]])], (normal(4, 5),)),
    Case("index-tensor-negative", lambda ns, a: a[ns.lib.tensor([-1, 3, 0, -4])], (normal(4, 5),)),
    Case("index-2d-tensor-negative", lambda ns, a: a[ns.lib.tensor([[-1, 2], [3, -2]])], (normal(4, 5),)),
    Case("index-list-1d-negative", lambda ns, a: a[[-1, 2, -1]], (normal(3),)),
    Case("index-array", lambda ns, a: a[np.array([3, 3, 1])], (normal(4, 5),)),
    Case("index-list", lambda ns, a: a[[0, 0, 1]], (normal(4, 5),)),
    Case("index-list-1d", lambda ns, a: a[[2, 2, 2, 0]], (normal(3),)),
    Case("index-range-tensor", lambda ns, a: a[range(4), ns.lib.tensor([1, 0, 4, 1])], (normal(4, 5),)),
    Case("index-tensor-pairs-repeated",
         lambda ns, a: a[ns.lib.tensor([0, 0, 1, 0]), ns.lib.tensor([2, 2, 3, 2])], (normal(4, 5),)),
    Case("index-tensor-slice", lambda ns, a: a[ns.lib.tensor([2, 2]), 1:4], (normal(4, 5),)),
    Case("index-slice-tensor", lambda ns, a: a[:, ns.lib.tensor([4, 0, 4])], (normal(4, 5),)),
    Case("index-bool-mask", lambda ns, a: a[ns.lib.tensor(MASK)], (normal(4, 5),)),
    Case("index-bool-rows", lambda ns, a: a[ns.lib.tensor([True, False, True, True])], (normal(4, 5),)),
    Case("index-0d-tensor", lambda ns, a: a[ns.lib.tensor(2)], (normal(4, 5),)),
    # ---- functional, casts, clone
    Case("cross_entropy-mean", lambda ns, a: ns.F.cross_entropy(a, ns.lib.tensor([1, 0, 4, 1])), (normal(4, 5),)),
    Case("cross_entropy-sum",
         lambda ns, a: ns.F.cross_entropy(a, ns.lib.tensor([1, 0, 4, 4]), reduction="sum"), (normal(4, 5),)),
    Case("cross_entropy-none",
         lambda ns, a: ns.F.cross_entropy(a, ns.lib.tensor([3, 3, 0, 2]), reduction="none"), (normal(4, 5),)),
    Case("cross_entropy-large-logits",
         lambda ns, a: ns.F.cross_entropy(a * 100, ns.lib.tensor([1, 0, 4, 1])), (normal(4, 5),)),
    Case("softmax", lambda ns, a: ns.F.softmax(a, dim=1), (normal(4, 5),)),
    Case("softmax-dim-0", lambda ns, a: ns.F.softmax(a, dim=0), (normal(4, 5),)),
    Case("softmax-negative", lambda ns, a: ns.F.softmax(a, dim=-1), (normal(2, 3, 4),)),
    Case("log_softmax", lambda ns, a: ns.F.log_softmax(a, dim=1), (normal(4, 5),)),
    Case("log_softmax-negative", lambda ns, a: ns.F.log_softmax(a, dim=-2), (normal(2, 3, 4),)),
    Case("clone", lambda ns, a: a.clone() * a, (normal(3, 4),)),
    Case("clone-function", lambda ns, a: ns.lib.clone(a) + 1, (normal(3, 4),)),
    Case("to-float32-and-back", lambda ns, a: a.to(ns.lib.float32).to(ns.lib.float64) * 3, (normal(3, 4),), fd=False),
    Case("float-double", lambda ns, a: a.float().double() * a, (normal(3, 4),), fd=False),
    Case("to-same-dtype", lambda ns, a: a.to(a.dtype) * 2, (normal(3, 4),)),
    # ---- a composite: the makemore MLP's forward, end to end
    Case("mlp", lambda ns, C, W1, b1, W2, b2: ns.F.cross_entropy(
        (ns.F.tanh(C[ns.lib.tensor([[0, 2], [3, 3], [1, 0]])].view(3, -1) @ W1 + b1) @ W2 + b2),
        ns.lib.tensor([2, 0, 2])), (normal(4, 2), normal(4, 5), normal(5), normal(5, 3), normal(3))),
    Case("batchnorm", lambda ns, h, g, b: g * (h - h.mean(0, keepdim=True)) / (h.var(0, keepdim=True) + 1e-5) ** 0.5
         + b, (normal(6, 4), normal(1, 4), normal(1, 4))),
]


@pytest.fixture(scope="module")
def torch_ns(torch):
    return SimpleNamespace(lib=torch, F=torch.nn.functional, arr=torch.from_numpy)


def run_engine(case: Case, arrays: list[np.ndarray], cotangent_seed: int = 1):
    xs = [engine.tensor(a, requires_grad=True) for a in arrays]
    out = case.fn(ENGINE, *xs)
    r = np.random.default_rng(cotangent_seed).standard_normal(out.shape).astype(out.dtype)
    out.backward(r)
    return out, r, xs


def run_torch(torch, torch_ns, case: Case, arrays: list[np.ndarray], r: np.ndarray):
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = case.fn(torch_ns, *xs)
    out.backward(torch.tensor(r))
    return out, xs


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_float64_matches_torch(case, torch, torch_ns):
    """Forward values and every input's gradient agree with torch autograd to 1e-10 (relative)."""
    arrays = case.arrays()
    out, r, xs = run_engine(case, arrays)
    t_out, t_xs = run_torch(torch, torch_ns, case, arrays, r)
    assert out.shape == tuple(t_out.shape)
    assert str(out.dtype) == str(t_out.dtype).removeprefix("torch.") == "float64"
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), **TIGHT)
    for i, (x, tx) in enumerate(zip(xs, t_xs)):
        assert x.grad is not None, f"input {i} got no gradient"
        assert x.grad.dtype == np.float64 and x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), **TIGHT, err_msg=f"input {i}")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_float32_matches_torch(case, torch, torch_ns):
    """The same in float32: values within torch.allclose-style tolerances, every grad float32."""
    arrays = [a.astype(np.float32) for a in case.arrays()]
    out, r, xs = run_engine(case, arrays)
    t_out, t_xs = run_torch(torch, torch_ns, case, arrays, r)
    assert str(out.dtype) == str(t_out.dtype).removeprefix("torch.")  # float32, except where the case casts
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), **LOOSE)
    for i, (x, tx) in enumerate(zip(xs, t_xs)):
        assert x.grad.dtype == np.float32, f"input {i}: grad is {x.grad.dtype}"
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), **LOOSE, err_msg=f"input {i}")


@pytest.mark.parametrize("case", [c for c in CASES if c.fd], ids=lambda c: c.id)
def test_gradcheck(case):
    """Every entry of every input against central differences in float64 (engine.gradcheck raises otherwise)."""
    assert engine.gradcheck(lambda *xs: case.fn(ENGINE, *xs), case.arrays(), **FD)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_max_min_indices_match_torch(torch, dim):
    """`max(dim)`/`min(dim)` return torch's indices (int64), and they are the entries the gradient reaches."""
    a = np.random.default_rng(7).standard_normal((4, 5))
    for op in ("max", "min"):
        x = engine.tensor(a, requires_grad=True)
        got = getattr(x, op)(dim)
        want = getattr(torch.tensor(a), op)(dim)
        assert got.indices.dtype == np.int64
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        np.testing.assert_array_equal(got.values.data, want.values.numpy())
        got.values.sum().backward()
        expected = np.zeros_like(a)
        np.put_along_axis(expected, np.expand_dims(want.indices.numpy(), dim), 1.0, dim)
        np.testing.assert_array_equal(x.grad, expected)


def test_one_hot_matches_torch(torch):
    """one_hot: int64 rows with a single 1 (exact), with and without num_classes."""
    y = [0, 2, 1, 2]
    for kwargs in ({}, {"num_classes": 5}):
        got = EF.one_hot(engine.tensor(y), **kwargs)
        want = torch.nn.functional.one_hot(torch.tensor(y), **kwargs)
        assert got.dtype == np.int64 and got.shape == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_casts_carry_gradient_in_the_source_dtype(dtype):
    """x.float()/.double()/.to(): the gradient reaches x, converted back to x's dtype (exact: g = 1 * 3)."""
    x = engine.tensor(np.array([1.5, -2.0], dtype), requires_grad=True)
    for y in (x.float(), x.double(), x.to(engine.float64), x.to(engine.float32)):
        x.grad = None
        (y * 3).sum().backward()
        assert x.grad.dtype == dtype
        np.testing.assert_array_equal(x.grad, [3.0, 3.0])
