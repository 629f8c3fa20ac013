"""dtype rules, as torch's: creation defaults, promotion in binary ops, casts, and float32 staying float32.

The lecture's "exact/approximate" comparisons depend on float32 everywhere, so one float64 constant slipping into a
forward or backward would change results; the MLP test walks every node of a training step to rule that out.
The promotion table is checked against torch itself, operand kind by operand kind.
"""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest

import engine
import engine.functional as F


def dt(x) -> str:
    """'float32' for an engine dtype, a NumPy dtype or a torch dtype."""
    return str(x).removeprefix("torch.")


@pytest.mark.parametrize("data, expected", [
    (1.5, "float32"), ([1.0, 2.5], "float32"), ([[1, 2.5]], "float32"), (3, "int64"), ([1, 2], "int64"),
    (True, "bool"), ([True, False], "bool"), (range(3), "int64"),
    (np.array([1.0, 2.0]), "float64"), (np.array([1.0], np.float32), "float32"), (np.array([1, 2], np.int32), "int32"),
    (np.float64(2.0), "float64"), (np.float32(2.0), "float32"), (np.int64(2), "int64"),
])
def test_creation_dtype_like_torch(torch, data, expected):
    """Python floats → float32, ints → int64, bools → bool; NumPy arrays and scalars keep their dtype."""
    assert dt(engine.tensor(data).dtype) == expected
    torch_data = list(data) if isinstance(data, range) else data
    assert dt(torch.tensor(torch_data).dtype) == expected


def test_creation_functions_default_to_float32():
    g = engine.Generator().manual_seed(0)
    for t in (engine.zeros(2), engine.ones(2, 3), engine.randn(2, generator=g), engine.rand(2, generator=g),
              engine.full((2,), 1.5), engine.arange(0.0, 1.0, 0.5), engine.zeros_like(engine.ones(2)),
              engine.ones_like(engine.ones(2)), engine.tensor([1.0]).mean()):
        assert t.dtype == np.float32, t
    assert engine.arange(3).dtype == np.int64 and engine.randint(0, 5, (3,), generator=g).dtype == np.int64
    assert engine.full((2,), 7).dtype == np.int64
    assert engine.zeros(2, dtype=engine.float64).dtype == np.float64
    assert engine.randn(2, dtype=engine.double, generator=g).dtype == np.float64
    assert engine.zeros_like(engine.ones(2, dtype=engine.float64)).dtype == np.float64


def test_casts():
    x = engine.tensor([1.7, -2.2])
    assert x.double().dtype == np.float64 and x.double().float().dtype == np.float32
    np.testing.assert_array_equal(x.long().numpy(), [1, -2])  # truncation toward zero, as torch
    assert x.long().dtype == np.int64 and x.int().dtype == np.int32 and x.bool().dtype == np.bool_
    assert engine.tensor([1, 2]).float().dtype == np.float32
    assert x.to(engine.float64).dtype == np.float64 and x.to(engine.long).dtype == np.int64
    assert x.float() is x  # already float32: torch returns the same tensor


# operands by kind: dimensioned tensors, 0-d tensors and Python/NumPy scalars
KINDS = {
    "f32": lambda lib: lib.tensor([1.5, 2.0]), "f64": lambda lib: lib.tensor([1.5, 2.0], dtype=lib.float64),
    "i64": lambda lib: lib.tensor([1, 2]), "i32": lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    "u8": lambda lib: lib.tensor([1, 2], dtype=lib.uint8), "bool": lambda lib: lib.tensor([True, False]),
    "f32-0d": lambda lib: lib.tensor(2.0), "f64-0d": lambda lib: lib.tensor(2.0, dtype=lib.float64),
    "i64-0d": lambda lib: lib.tensor(2), "i32-0d": lambda lib: lib.tensor(2, dtype=lib.int32),
    "bool-0d": lambda lib: lib.tensor(True),
    # 1.25, not 0.5: x ** 0.5 is a special case (sqrt) that would hide the general path
    "float": lambda lib: 1.25, "int": lambda lib: 3, "np.float64": lambda lib: np.float64(1.25),
}
SCALARS = {"float", "int", "np.float64"}
OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
       "pow": operator.pow, "maximum": None, "lt": operator.lt}


@pytest.mark.parametrize("op", list(OPS))
def test_binary_promotion_matches_torch(torch, op):
    """Every pair of operand kinds (scalars on either side) gives torch's result dtype.

    Pairs torch rejects (subtracting bools, bool ** bool) are skipped; so are scalar-only pairs.
    """
    fn = OPS[op]
    checked = 0
    for ka, kb in itertools.product(KINDS, KINDS):
        if ka in SCALARS and (kb in SCALARS or op == "maximum") or kb in SCALARS and op == "maximum":
            continue
        if op == "sub" and "bool" in (ka.split("-")[0], kb.split("-")[0]):
            continue
        if op == "pow" and ka.startswith("bool") and kb.startswith("bool"):
            continue
        run = (lambda lib: lib.maximum(KINDS[ka](lib), KINDS[kb](lib))) if fn is None else (
            lambda lib: fn(KINDS[ka](lib), KINDS[kb](lib)))
        with np.errstate(divide="ignore", invalid="ignore"):
            got = run(engine)
        assert dt(got.dtype) == dt(run(torch).dtype), f"{ka} {op} {kb}"
        checked += 1
    assert checked > 80


def test_named_promotion_rules():
    """The rules the lecture relies on, spelled out."""
    f32, f64, i64 = engine.ones(2), engine.ones(2, dtype=engine.float64), engine.tensor([1, 2])
    assert (f32 * 0.5).dtype == np.float32 and (0.5 * f32).dtype == np.float32
    assert (f32 + f64).dtype == np.float64 and (f64 - f32).dtype == np.float64
    assert (i64 * 0.5).dtype == np.float32 and (i64 / 2).dtype == np.float32
    assert (i64 * 2).dtype == np.int64 and (i64**2).dtype == np.int64 and (i64**2.5).dtype == np.float32
    assert (f32 * engine.tensor(2.0, dtype=engine.float64)).dtype == np.float32  # 0-d does not widen
    assert (f32 / np.float64(3.0)).dtype == np.float32  # a NumPy scalar is a scalar
    assert (f32 ** np.float64(2.5)).dtype == np.float32 and (i64 ** np.int64(2)).dtype == np.int64
    assert (i64 + f32).dtype == np.float32


def test_gradients_have_the_dtype_of_their_tensor():
    """A float32 leaf used in a float64 computation still gets a float32 grad (and the float64 one float64)."""
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor(np.array([3.0, 4.0]), requires_grad=True)
    c = a * b
    assert c.dtype == np.float64
    (c * c).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64 and c.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad, [18.0, 64.0])  # 2 a b^2


def test_float32_mlp_never_touches_float64():
    """A float32 training step with every op the lecture uses: all data and all grads in the graph are float32."""
    g = engine.Generator().manual_seed(0)
    C, W1, b1 = engine.randn(27, 4, generator=g), engine.randn(12, 16, generator=g), engine.randn(16, generator=g)
    W2, b2 = engine.randn(16, 27, generator=g), engine.randn(27, generator=g)
    bngain, bnbias = engine.ones(1, 16), engine.zeros(1, 16)
    params = [C, W1, b1, W2, b2, bngain, bnbias]
    for p in params:
        p.requires_grad = True
    Xb, Yb = engine.randint(0, 27, (8, 3), generator=g), engine.randint(0, 27, (8,), generator=g)
    n = 8
    emb = C[Xb]
    hprebn = emb.view(n, -1) @ W1 * (5 / 3) / 12**0.5 + b1
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bnvar = 1 / (n - 1) * (bndiff**2).sum(0, keepdim=True)
    bnraw = bndiff * (bnvar + 1e-5) ** -0.5
    h = (bngain * bnraw + bnbias).tanh()
    extra = (h.var(0) + h.std(1).mean() + h.sigmoid().sqrt().mean() + (h.abs() + 1).log10().mean()
             + engine.maximum(h, 0.1).relu().max() + h.max(1).values.mean() - h.min() + h.mean())
    logits = h @ W2 + b2
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum_inv = counts.sum(1, keepdims=True) ** -1
    logprobs = (counts * counts_sum_inv).log()
    loss = (-logprobs[range(n), Yb].mean() + F.cross_entropy(logits, Yb) + F.log_softmax(logits, dim=1).mean()
            + F.softmax(logits, dim=-1).std() + 0.01 * extra.sum())
    assert loss.dtype == np.float32
    loss.backward()
    nodes = engine.toposort(loss)
    assert len(nodes) > 50
    for t in nodes:
        assert t.dtype.kind != "f" or t.dtype == np.float32, f"'{t.op}' made {t.dtype}"
        assert t.grad is None or t.grad.dtype == np.float32, f"grad of '{t.op}' is {t.grad.dtype}"
    assert all(p.grad.dtype == np.float32 for p in params)


def test_cat_and_stack_promote_as_torch():
    """int64 beside float32 joins as float32 (NumPy alone would say float64); two ints as NumPy does."""
    i, f = engine.tensor([1]), engine.tensor([1.5])
    assert engine.cat([i, f]).dtype == engine.float32 and engine.stack([i, f]).dtype == engine.float32
    assert engine.cat([engine.tensor([1], dtype=engine.int32), i]).dtype == engine.int64
    assert engine.cat([f, engine.tensor([2.0], dtype=engine.float64)]).dtype == engine.float64


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.uint64, np.int32, np.int64])
def test_cross_entropy_takes_targets_of_any_integer_type(dtype):
    """int64 row starts + uint64 targets promoted to float64, which cannot index: unsigned ones get uint64 starts."""
    logits = np.random.default_rng(0).standard_normal((4, 5))
    target = np.array([0, 4, 2, 4])
    results = []
    for t in (target, target.astype(dtype)):
        x = engine.tensor(logits, dtype=engine.float64, requires_grad=True)
        loss = F.cross_entropy(x, engine.tensor(t))
        loss.backward()
        results.append((loss.item(), x.grad))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])
