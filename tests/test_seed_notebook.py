"""Acceptance: every code cell of the seed notebook runs verbatim on the engine.

`torch` is bound to `engine` and `torch.nn.functional` to `engine.functional`; the cells come
from ../shared/seed (tests/seed.py cuts off their printed output). The forward of In [27] is
then run again on real PyTorch with the same numbers, and all 26 gradients compared: in float64
to 1e-10 of their scale, in float32 by their error against float64 (tests/accuracy.py).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys

import numpy as np
import pytest
from accuracy import assert_as_accurate_as_torch
from seed import code_cells

import engine

# the 26 tensors the notebook checks, in its order
CHECKED = ["logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits", "logit_maxes",
           "logits", "h", "hpreact", "bnraw", "bnstd_inv", "bnvar", "bndiff2", "bndiff", "hprebn", "bnmeani",
           "embcat", "emb", "C", "W1", "b1", "W2", "b2", "bngain", "bnbias"]
PARAMS = ["C", "W1", "b1", "W2", "b2", "bngain", "bnbias"]
CMP_ROW = re.compile(r"^(\w+)\s+\| exact: (True|False)\s*\| approximate: (True|False)\s*\| maxdiff: (\S+)$")


@pytest.fixture(scope="module")
def cells(seed_notebook, names_path):
    cells = code_cells(seed_notebook)
    cells[20] = cells[20].replace("'makemore/names.txt'", repr(str(names_path)))
    cells[33] = cells[33].replace("max_iters = 200000", "max_iters = 300")
    assert str(names_path) in cells[20] and "max_iters = 300" in cells[33]
    return cells


def run(cells, numbers, ns, grad: bool = True) -> str:
    """Execute cells in namespace `ns` with `torch` meaning the engine; return what they printed."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setitem(sys.modules, "torch", engine)
        mp.setitem(sys.modules, "torch.nn", engine.nn)
        mp.setitem(sys.modules, "torch.nn.functional", engine.functional)
        with contextlib.nullcontext() if grad else engine.no_grad():
            for n in numbers:
                exec(compile(cells[n], f"In [{n}]", "exec"), ns)
    return out.getvalue()


@pytest.fixture(scope="module")
def forward(cells):
    """The engine namespace after In [19]–[27]: data, parameters, forward pass and loss.backward()."""
    # The notebook draws bngain/bnbias from the unseeded default generator; seed it so every run
    # compares the same numbers.
    engine.manual_seed(0)
    ns = {"__name__": "seed"}
    printed = run(cells, [19, 20, 21, 22, 23, 24, 25, 26, 27], ns)
    return ns, printed


def cmp_rows(printed: str) -> list[tuple]:
    return [m.groups() for m in map(CMP_ROW.match, printed.splitlines()) if m]


def torch_forward(cells, ns, torch, dtype):
    """Run In [27] on real PyTorch with the engine namespace's parameters and batch."""
    tns = {"torch": torch, "F": torch.nn.functional, "batch_size": ns["batch_size"],
           "Xb": torch.from_numpy(ns["Xb"].numpy()), "Yb": torch.from_numpy(ns["Yb"].numpy())}
    for name in PARAMS:
        tns[name] = torch.tensor(ns[name].data, dtype=dtype, requires_grad=True)
    tns["parameters"] = [tns[name] for name in PARAMS]
    exec(compile(cells[27], "In [27]", "exec"), tns)
    return tns


def test_data_cells_print_the_seed_figures(forward):
    _, printed = forward
    assert "This dataset contains 32033 names" in printed
    assert "The minimum name length is 2.0 characters." in printed
    assert "The maximum name length is 15.0 characters." in printed
    assert "The mean name length is  6.12 characters." in printed
    assert "The associated standard deviation is 1.44 characters." in printed
    assert "{0: '.', 1: 'a', 2: 'b'" in printed and "\n27\n" in printed
    assert "4137" in printed


def test_dataset_and_batch_shapes(forward):
    ns, _ = forward
    assert ns["Xtr"].shape == (182625, 3) and ns["Xdev"].shape == (22655, 3) and ns["Xte"].shape == (22866, 3)
    assert ns["Xb"].shape == (32, 3) and ns["Xb"].dtype == np.int64
    assert ns["loss"].shape == () and ns["loss"].dtype == np.float32


@pytest.fixture(scope="module")
def forward64(cells, forward):
    """In [27] again on the engine, with the same parameters in float64."""
    ns = dict(forward[0])
    for name in PARAMS:
        ns[name] = engine.tensor(ns[name].data.astype(np.float64), requires_grad=True)
    ns["parameters"] = [ns[name] for name in PARAMS]
    run(cells, [27], ns)
    return ns


def dlogits_scale(ns) -> float:
    """logit_maxes and b1 have a true gradient of 0 (their values are ~1e-17 noise), so "relative" is
    measured against the scale of dlogits, the gradient every other one is built from."""
    return float(np.abs(ns["logits"].grad).max())


def test_in27_gradients_are_as_accurate_as_torch_float32(cells, forward, forward64, torch):
    ns, _ = forward
    tns = torch_forward(cells, ns, torch, torch.float32)
    assert abs(tns["loss"].item() - ns["loss"].item()) < 1e-6
    for name in CHECKED:
        ours, theirs = ns[name].grad, tns[name].grad.numpy()
        assert ours.shape == theirs.shape and ours.dtype == np.float32, name
        assert_as_accurate_as_torch(name, ours, theirs, forward64[name].grad, dlogits_scale(forward64))


def test_in27_gradients_match_torch_float64(cells, forward64, torch):
    assert forward64["loss"].dtype == np.float64
    tns = torch_forward(cells, forward64, torch, torch.float64)
    floor = dlogits_scale(forward64)
    for name in CHECKED:
        ours, theirs = forward64[name].grad, tns[name].grad.numpy()
        scale = max(np.abs(theirs).max(), floor)
        assert np.abs(ours - theirs).max() <= 1e-10 * scale, name


def test_in28_manual_chain_is_approximately_equal_everywhere(cells, forward):
    ns = dict(forward[0])
    rows = cmp_rows(run(cells, [28], ns, grad=False))
    assert sorted(r[0] for r in rows) == sorted(CHECKED)
    assert all(r[2] == "True" for r in rows), [r for r in rows if r[2] != "True"]


def test_in29_to_in32_fused_forms(cells, forward):
    ns = dict(forward[0])
    run(cells, [28], ns, grad=False)  # In [32] uses dhpreact from the chain
    printed = run(cells, [29, 30, 31, 32], ns, grad=False)
    diff = float(re.search(r"diff: (\S+)", printed).group(1))
    assert abs(diff) < 1e-5
    assert [(r[0], r[2]) for r in cmp_rows(printed)] == [("logits", "True"), ("hprebn", "True")]
    maxdiff = float(re.search(r"maxdiff:  tensor\(([^,)]+)", printed).group(1))
    assert maxdiff < 1e-5


def test_in33_training_loss_falls_and_in35_36_evaluate(cells, forward):
    ns = dict(forward[0])
    printed = run(cells, [33, 34, 35, 36], ns)
    assert "12297" in printed
    lossi = np.array(ns["lossi"])
    assert len(lossi) == 300
    assert lossi[-50:].mean() < lossi[:10].mean() - 0.05  # log10 loss: from ~3.3 to well below
    split = dict(re.findall(r"^(train|test) (\S+)$", printed, flags=re.M))
    assert set(split) == {"train", "test"}
    assert all(2.0 < float(v) < 3.0 for v in split.values()), split
