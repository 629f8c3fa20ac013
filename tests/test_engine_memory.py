"""No reference cycles: a training step's graph is freed by reference counting alone.

With the cyclic garbage collector disabled, a weak reference to an interior tensor of a small MLP must die as soon
as the loss and the locals are dropped — whether or not backward ran, and with `retain_graph=True`. A VJP closure
that held its own output node (or a node that held itself) would keep the whole step alive until a GC pass.
"""

from __future__ import annotations

import weakref

import numpy as np
import pytest

import engine
import engine.functional as F


def make_params(seed: int = 0) -> dict:
    g = engine.Generator().manual_seed(seed)
    params = {
        "C": engine.randn(27, 4, generator=g), "W1": engine.randn(12, 16, generator=g) * 0.3,
        "b1": engine.randn(16, generator=g) * 0.1, "bngain": engine.ones(1, 16), "bnbias": engine.zeros(1, 16),
        "W2": engine.randn(16, 27, generator=g) * 0.1, "b2": engine.zeros(27),
    }
    for p in params.values():
        p.requires_grad = True
    return params


def training_step(params: dict, backward: str) -> tuple[weakref.ref, weakref.ref, weakref.ref]:
    """The lecture's forward (embedding, linear, batchnorm, tanh, step-by-step cross-entropy); weakrefs to interiors."""
    g = engine.Generator().manual_seed(1)
    Xb, Yb = engine.randint(0, 27, (8, 3), generator=g), engine.randint(0, 27, (8,), generator=g)
    n = Xb.shape[0]
    emb = params["C"][Xb]
    embcat = emb.view(n, -1)
    hprebn = embcat @ params["W1"] + params["b1"]
    bnmeani = hprebn.mean(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bnvar = (bndiff**2).sum(0, keepdim=True) / (n - 1)
    bnraw = bndiff * (bnvar + 1e-5) ** -0.5
    h = (params["bngain"] * bnraw + params["bnbias"]).tanh()
    logits = h @ params["W2"] + params["b2"]
    logit_maxes = logits.max(1, keepdim=True).values
    counts = (logits - logit_maxes).exp()
    probs = counts * counts.sum(1, keepdims=True) ** -1
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean() + 0.0 * F.cross_entropy(logits, Yb)
    if backward == "once":
        loss.backward()
    elif backward == "retain":
        loss.backward(retain_graph=True)
    return weakref.ref(hprebn), weakref.ref(logprobs), weakref.ref(loss)


@pytest.mark.parametrize("backward", ["once", "retain", "never"])
def test_training_step_graph_is_freed_by_refcounting(refcount_only, backward):
    params = make_params()
    refs = training_step(params, backward)
    assert all(r() is None for r in refs), [r() is None for r in refs]
    if backward != "never":
        assert all(p.grad is not None and p.grad.shape == p.shape for p in params.values())
    # the parameters themselves are alive and hold no graph
    assert all(p.parents == () for p in params.values())


def test_graph_is_alive_while_the_loss_is(refcount_only):
    """The positive control: while `loss` is held, its interior tensors are reachable (so the test above can fail)."""
    x = engine.randn(4, 3, generator=engine.Generator().manual_seed(0), requires_grad=True)
    h = x.tanh()
    ref = weakref.ref(h)
    loss = (h * 2).sum()
    del h
    assert ref() is not None
    loss.backward()
    assert ref() is not None  # backward frees the VJPs, not the nodes: loss.parents still reach h
    del loss
    assert ref() is None


def test_value_graph_is_freed_by_refcounting(refcount_only):
    a, b = engine.Value(2.0), engine.Value(-3.0)
    c = a * b + a
    ref = weakref.ref(c)
    d = (c.tanh() * 2).exp()
    d.backward()
    del c, d
    assert ref() is None
    assert a.grad != 0.0 and np.isfinite(a.grad)
