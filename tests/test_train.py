"""model.train: the three backends see the same numbers, the loss falls, the evaluation and the plot.

Runs on the first 8,000 real names (about 50,000 training examples, enough to exercise the chunked
evaluation) with a narrow hidden layer (n_hidden=64) so the whole file stays fast; torch runs with one
thread (torch_threads=1) because its worker threads only slow this tiny model down.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import manual
import model.train
from model.data import Splits, Vocab, build_splits, load_names
from model.mlp import PARAM_NAMES, Config, init_params
from model.train import BACKENDS, batch_indices, plot_losses, train, train_side_by_side

ROOT = Path(__file__).resolve().parent.parent
SMALL = Config(n_hidden=64)


@pytest.fixture(scope="module")
def splits(names_path: Path) -> Splits:
    words = load_names(names_path).words
    return build_splits(words[:8_000], block_size=3, vocab=Vocab.from_words(words))


def run(splits: Splits, cfg: Config, backend: str, **kwargs):
    if backend == "torch":  # callers request the `torch` fixture, which decides skip (local) vs fail (CI)
        kwargs.setdefault("torch_threads", 1)
    return train(splits, cfg, backend, progress=False, print_fn=None, **kwargs)


def test_float64_backends_agree_step_by_step(splits: Splits, torch) -> None:
    # same init, same batches, same schedule: in float64 only rounding separates the backends.
    # Tolerance 1e-9 on every one of the 100 losses (measured: ~1e-15).
    cfg = SMALL.replace(steps=100, dtype="float64")
    results = {backend: run(splits, cfg, backend) for backend in BACKENDS}
    ref = results["manual"].losses
    assert ref.shape == (100,) and np.isfinite(ref).all()
    assert ref.std() > 0.01  # the batches differ from step to step; the curve is not a constant
    for backend in ("engine", "torch"):
        res = results[backend]
        assert res.backend == backend and res.steps == 100
        np.testing.assert_allclose(res.losses, ref, rtol=0, atol=1e-9, err_msg=f"{backend} vs manual losses")
        for name in PARAM_NAMES:
            assert res.params[name].dtype == np.float64
            np.testing.assert_allclose(res.params[name], results["manual"].params[name], rtol=0, atol=1e-9,
                                       err_msg=f"{backend} vs manual final {name}")


def test_manual_backend_follows_the_documented_recipe(splits: Splits) -> None:
    # an independent loop: init from default_rng(seed), batches from default_rng([seed, 1]), lr 0.1 then
    # 0.01 from half-way; the training loop must reproduce it bit for bit (exact equality, same code path
    # for the step itself, so only the recipe is under test)
    cfg = SMALL.replace(steps=40, dtype="float64")
    params = init_params(splits.vocab.size, cfg, np.random.default_rng(cfg.seed))
    ix = np.random.default_rng([cfg.seed, 1]).integers(0, splits.Xtr.shape[0], size=(cfg.steps, cfg.batch_size))
    expected = []
    for i in range(cfg.steps):
        res = manual.step_grads(params, splits.Xtr[ix[i]], splits.Ytr[ix[i]])
        manual.sgd_update(params, res.grads, 0.1 if i < 20 else 0.01)
        expected.append(res.loss)
    got = run(splits, cfg, "manual")
    np.testing.assert_array_equal(got.losses, expected)
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(got.params[name], params[name])


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_float32_run_learns(splits: Splits, backend: str, request: pytest.FixtureRequest) -> None:
    if backend == "torch":
        request.getfixturevalue("torch")
    cfg = SMALL.replace(steps=400)  # float32, the default
    res = run(splits, cfg, backend)
    first, last = res.losses[:50].mean(), res.losses[-50:].mean()
    # measured: ~3.3 -> ~2.7; a step that does not descend stays at ~3.3
    assert last < first - 0.3, (first, last)
    for name in PARAM_NAMES:
        assert res.params[name].dtype == np.float32, name
    assert res.bnmean.dtype == res.bnvar.dtype == np.float32
    assert res.bnmean.shape == res.bnvar.shape == (1, 64)
    assert set(res.split_losses) == {"train", "val", "test"}
    for split, loss in res.split_losses.items():
        assert np.isfinite(loss) and loss < res.losses[0] - 0.3, (split, loss, res.losses[0])
    assert res.seconds > 0 and res.seconds_per_step == res.seconds / 400


def test_calibrated_stats_and_split_loss_match_numpy(splits: Splits) -> None:
    # In [35]/[36] recomputed in plain float64 NumPy; tolerance 1e-9 relative
    res = run(splits, SMALL.replace(steps=30, dtype="float64"), "manual")
    P = res.params
    hpre = P["C"][splits.Xtr].reshape(len(splits.Xtr), -1) @ P["W1"] + P["b1"]
    np.testing.assert_allclose(res.bnmean, hpre.mean(0, keepdims=True), rtol=1e-9)
    np.testing.assert_allclose(res.bnvar, hpre.var(0, ddof=1, keepdims=True), rtol=1e-9)
    hpre = P["C"][splits.Xdev].reshape(len(splits.Xdev), -1) @ P["W1"] + P["b1"]
    h = np.tanh(P["bngain"] * (hpre - res.bnmean) / np.sqrt(res.bnvar + 1e-5) + P["bnbias"])
    logits = h @ P["W2"] + P["b2"]
    logits -= logits.max(1, keepdims=True)
    nll = np.log(np.exp(logits).sum(1)) - logits[np.arange(len(splits.Ydev)), splits.Ydev]
    assert res.split_losses["val"] == pytest.approx(nll.mean(), rel=1e-9)


def test_batch_indices_are_seeded_and_chunked() -> None:
    cfg = Config(steps=25_001, batch_size=4, seed=7)
    chunks = list(batch_indices(cfg, 10))
    assert [c.shape for c in chunks] == [(10_000, 4), (10_000, 4), (5_001, 4)]
    allix = np.concatenate(chunks)
    assert allix.min() == 0 and allix.max() == 9 and allix.dtype == np.int64
    np.testing.assert_array_equal(allix, np.concatenate(list(batch_indices(cfg, 10))))
    assert not np.array_equal(allix, np.concatenate(list(batch_indices(cfg.replace(seed=8), 10))))


def test_logging_every_n_steps(splits: Splits) -> None:
    lines: list[str] = []
    res = train(splits, SMALL.replace(steps=120), "manual", progress=False, log_every=50, print_fn=lines.append)
    assert lines == [f"{i:7d}/    120: {res.losses[i]:.4f}" for i in (0, 50, 100)]


def test_progress_bar_runs(splits: Splits, capsys: pytest.CaptureFixture[str]) -> None:
    res = train(splits, SMALL.replace(steps=600), "manual", progress=True, log_every=500)
    out, err = capsys.readouterr()
    assert f"    500/    600: {res.losses[500]:.4f}" in out  # through tqdm.write, not under the bar
    assert "train (manual)" in err and "600/600" in err


@pytest.mark.parametrize("backends", [("manual", "engine"), ("engine", "torch", "manual")])
def test_side_by_side_is_each_backends_own_run(splits: Splits, backends: tuple[str, ...],
                                                request: pytest.FixtureRequest,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # taking turns changes what is timed, not what is computed: every backend's losses, weights,
    # calibration and split losses equal those of its own `train`, bit for bit. Chunks of 70 batches cut
    # into turns of 30 give turns of 30, 30, 10 per chunk, so turns end both inside and at chunk edges.
    if "torch" in backends:
        request.getfixturevalue("torch")
    monkeypatch.setattr(model.train, "BATCH_CHUNK", 70)
    cfg = SMALL.replace(steps=150)
    lines: list[str] = []
    together = train_side_by_side(splits, cfg, backends, turn_steps=30, log_every=60, print_fn=lines.append,
                                  torch_threads=1)
    assert list(together) == list(backends)
    for backend in backends:
        alone, res = run(splits, cfg, backend), together[backend]
        assert res.backend == backend and res.steps == 150 and res.seconds > 0
        np.testing.assert_array_equal(res.losses, alone.losses, err_msg=backend)
        for name in PARAM_NAMES:
            np.testing.assert_array_equal(res.params[name], alone.params[name], err_msg=f"{backend} {name}")
        np.testing.assert_array_equal(res.bnmean, alone.bnmean)
        np.testing.assert_array_equal(res.bnvar, alone.bnvar)
        assert res.split_losses == alone.split_losses
    assert lines == [f"{i:7d}/    150: " + "  ".join(f"{b} {together[b].losses[i]:.4f}" for b in backends)
                     for i in (0, 60, 120)]


@pytest.mark.parametrize(("backends", "turn_steps", "message"), [
    ((), 10, r"train_side_by_side: no backend given; choose from manual, engine, torch"),
    ("manual", 10, r"backends must be a list of names, .*got the string 'manual' \(use train\(\) for one backend\)"),
    (("manual", "jax"), 10, r"train_side_by_side: unknown backend 'jax'"),
    (("manual", "engine", "manual"), 10, r"a backend is listed twice in \['manual', 'engine', 'manual'\]"),
    (("manual", "engine"), 0, r"turn_steps must be a positive integer, got 0"),
    (("manual", "engine"), 2.5, r"turn_steps must be a positive integer, got 2.5"),
    (("manual", "engine"), True, r"turn_steps must be a positive integer, got True"),
])
def test_side_by_side_refuses_bad_arguments(splits: Splits, backends, turn_steps, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        train_side_by_side(splits, SMALL.replace(steps=5), backends, turn_steps=turn_steps, print_fn=None)


def test_empty_split_is_a_clear_error_not_nan() -> None:
    # 2 words split 1/0/1: nothing to report as the val loss, so no training at all
    tiny = build_splits(["anna", "bob"])
    with pytest.raises(ValueError, match=r"train: the val split has no examples; .* at least 6 words"):
        train(tiny, SMALL.replace(steps=5), "manual", progress=False, print_fn=None)


def test_config_refuses_a_negative_seed() -> None:
    with pytest.raises(ValueError, match=r"config: seed must be a non-negative integer .*got -1"):
        Config(seed=-1)
    assert Config(seed=0).seed == 0


@pytest.mark.parametrize("field, value", [("lr", float("inf")), ("lr", float("nan")), ("lr_final", float("inf")),
                                          ("lr_final", float("nan"))])
def test_config_refuses_non_finite_learning_rates(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"config: lr and lr_final must be positive and finite .*{field}={value}"):
        Config(**{field: value})


@pytest.mark.parametrize("field, value", [("n_hidden", 8.5), ("n_hidden", "8"), ("n_hidden", True), ("steps", 3.7),
                                          ("seed", 1.5), ("batch_size", np.float64(32)), ("lr", "0.1"), ("lr", True)])
def test_config_wants_real_numbers_not_lookalikes(field: str, value) -> None:
    # int(8.5) passed before, and '8' or True went on to fail somewhere far from the config
    kind = "a number" if field == "lr" else "an integer"
    with pytest.raises(TypeError, match=rf"config: {field} must be {kind}, got {type(value).__name__} "):
        Config(**{field: value})
    cfg = Config(n_hidden=np.int64(8), lr=np.float32(0.5))  # NumPy scalars are fine, and become Python ones
    assert type(cfg.n_hidden) is int and type(cfg.lr) is float and cfg.n_hidden == 8 and cfg.lr == 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_diverged_run_stops_at_once_with_a_clear_error(splits: Splits, backend: str,
                                                         request: pytest.FixtureRequest) -> None:
    if backend == "torch":
        request.getfixturevalue("torch")
    with np.errstate(all="ignore"), pytest.raises(ValueError, match=rf"train \({backend}\): the loss is nan at step "
                                                                     r"1 of 1000: training diverged; try a smaller"):
        run(splits, SMALL.replace(steps=1000, lr=1e30), backend)


def test_unknown_backend_is_a_clear_error(splits: Splits) -> None:
    with pytest.raises(ValueError, match=r"unknown backend 'jax'.*manual, engine, torch"):
        train(splits, SMALL.replace(steps=1), "jax", progress=False)


def test_block_size_mismatch_is_a_clear_error(splits: Splits) -> None:
    with pytest.raises(ValueError, match=r"block_size=3 but cfg.block_size=4"):
        train(splits, SMALL.replace(steps=1, block_size=4), "manual", progress=False)


def test_torch_backend_without_torch_says_how_to_install(splits: Splits, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(ImportError, match=r"the torch backend needs PyTorch: pip install 'ninjagrad\[torch\]'"):
        train(splits, SMALL.replace(steps=1), "torch", progress=False)


def test_importing_model_does_not_import_torch() -> None:
    code = "import sys, model.train, model.checkpoint, model.sample; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_plot_losses_writes_a_png(tmp_path: Path) -> None:
    losses = np.exp(-np.linspace(0, 1, 3_000)) + 2  # 3,000 steps -> chunks of 60
    path = plot_losses(losses, tmp_path / "new" / "dir" / "loss.png")
    assert path == tmp_path / "new" / "dir" / "loss.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["loss.png"]  # no temp file left


def test_plot_losses_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from matplotlib.figure import Figure

    path = tmp_path / "loss.png"
    plot_losses([3.0, 2.5, 2.2], path)
    before = path.read_bytes()

    def broken_savefig(self, f, **kwargs):
        f.write(b"\x89PNG half a file")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        plot_losses([1.0, 0.5], path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]


def test_plot_losses_rejects_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no losses"):
        plot_losses([], tmp_path / "x.png")
