"""model.checkpoint: round trips, atomic writes, and a clear CheckpointError for every broken file.

Uses a small random model (no training, no data file): a checkpoint only cares about arrays, the
vocabulary and the config, and every check is exact (a round trip must give the same bits).
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest

import model.checkpoint as checkpoint
from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from model.data import Vocab
from model.mlp import PARAM_NAMES, Config, init_params

VOCAB = Vocab.from_words(["emma", "olivia", "ava", "zoë"])  # 10 symbols, one of them non-ASCII


def make_model(dtype: str = "float32", seed: int = 0):
    cfg = Config(n_embd=4, n_hidden=8, block_size=3, steps=10, dtype=dtype)
    rng = np.random.default_rng(seed)
    params = init_params(VOCAB.size, cfg, rng)
    bnmean = rng.standard_normal((1, 8)).astype(dtype)
    bnvar = rng.random((1, 8)).astype(dtype) + 0.5
    return params, bnmean, bnvar, cfg


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    params, bnmean, bnvar, cfg = make_model()
    return save_checkpoint(tmp_path / "model.ckpt", params, bnmean, bnvar, VOCAB, cfg, extra={"backend": "manual"})


def raw(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def rewrite(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with path.open("wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_is_exact(tmp_path: Path, dtype: str) -> None:
    params, bnmean, bnvar, cfg = make_model(dtype)
    extra = {"backend": "engine", "split_losses": {"train": 2.07, "val": 2.11}, "steps": 10}
    path = save_checkpoint(tmp_path / "run" / "model.ckpt", params, bnmean, bnvar, VOCAB, cfg, extra=extra)
    assert path == tmp_path / "run" / "model.ckpt"  # exactly the given path: no ".npz" appended
    assert [p.name for p in path.parent.iterdir()] == ["model.ckpt"]  # and no temp file left
    ck = load_checkpoint(path)
    assert list(ck.params) == list(PARAM_NAMES)
    for name in PARAM_NAMES:
        assert ck.params[name].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(ck.params[name], params[name])
    np.testing.assert_array_equal(ck.bnmean, bnmean)
    np.testing.assert_array_equal(ck.bnvar, bnvar)
    assert ck.bnmean.dtype == ck.bnvar.dtype == np.dtype(dtype)
    assert ck.vocab == VOCAB and ck.vocab.decode(ck.vocab.encode("zoë")) == "zoë"
    assert ck.cfg == cfg
    assert ck.extra == extra


def test_file_holds_plain_arrays_only(saved: Path) -> None:
    arrays = raw(saved)  # allow_pickle=False: would raise on any object array
    assert arrays["vocab"].dtype.kind == "U" and arrays["vocab"].tolist() == VOCAB.to_list()
    assert arrays["config"].shape == () and json.loads(str(arrays["config"]))["n_hidden"] == 8
    assert int(arrays["format_version"]) == checkpoint.FORMAT_VERSION
    assert all(a.dtype != object for a in arrays.values())


def test_overwrite_replaces_the_old_checkpoint(saved: Path) -> None:
    params, bnmean, bnvar, cfg = make_model(seed=1)
    save_checkpoint(saved, params, bnmean, bnvar, VOCAB, cfg)
    np.testing.assert_array_equal(load_checkpoint(saved).params["W1"], params["W1"])
    assert load_checkpoint(saved).extra == {}


def test_a_crash_mid_write_keeps_the_old_file(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = saved.read_bytes()

    def crashing_savez(f, **arrays):
        f.write(b"PK\x03\x04 the first bytes of a zip")
        raise OSError("no space left on device")

    monkeypatch.setattr(np, "savez", crashing_savez)
    params, bnmean, bnvar, cfg = make_model(seed=1)
    with pytest.raises(OSError, match="no space left"):
        save_checkpoint(saved, params, bnmean, bnvar, VOCAB, cfg)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]
    monkeypatch.undo()
    np.testing.assert_array_equal(load_checkpoint(saved).params["W1"], make_model()[0]["W1"])


def test_a_crash_before_the_rename_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crashing_replace(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.os, "replace", crashing_replace)
    params, bnmean, bnvar, cfg = make_model()
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "model.ckpt", params, bnmean, bnvar, VOCAB, cfg)
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_arrays_that_do_not_fit(tmp_path: Path) -> None:
    params, bnmean, bnvar, cfg = make_model()
    params["W2"] = params["W2"][:, :-1]
    with pytest.raises(CheckpointError, match=r"W2 has shape \(8, 9\), expected \(8, 10\)"):
        save_checkpoint(tmp_path / "model.ckpt", params, bnmean, bnvar, VOCAB, cfg)
    with pytest.raises(CheckpointError, match=r"missing \['b1'\]"):
        save_checkpoint(tmp_path / "model.ckpt", {k: v for k, v in make_model()[0].items() if k != "b1"},
                        bnmean, bnvar, VOCAB, cfg)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        save_checkpoint(tmp_path / "model.ckpt", make_model()[0], bnmean, bnvar, VOCAB, cfg, extra={"x": object()})
    assert list(tmp_path.iterdir()) == []


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.npz"
    with pytest.raises(CheckpointError, match=rf"{path}: no such checkpoint file"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not a file"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file(saved: Path, keep: float) -> None:
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match=rf"{saved}: truncated or corrupt"):
        load_checkpoint(saved)


def test_corrupt_member(saved: Path) -> None:
    data = bytearray(saved.read_bytes())
    # flip bytes in the middle of the first member's data; the zip CRC check must catch it
    data[200:210] = bytes(b ^ 0xFF for b in data[200:210])
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"{saved}: (truncated or )?corrupt"):
        load_checkpoint(saved)


@pytest.mark.parametrize(
    "content, message",
    [(b"", "an empty file"), (b"C,W1\n1,2\n", r"not an \.npz \(zip\) archive"),
     (b"\x80\x04\x95 a pickle", r"not an \.npz")],
)
def test_not_an_npz(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_a_npy_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "model.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(CheckpointError, match=r"a \.npy array, not an \.npz archive"):
        load_checkpoint(path)


def test_missing_key(saved: Path) -> None:
    arrays = raw(saved)
    del arrays["W2"]
    rewrite(saved, arrays)
    with pytest.raises(CheckpointError, match=rf"{saved}: missing 'W2'"):
        load_checkpoint(saved)


def test_unexpected_key(saved: Path) -> None:
    rewrite(saved, {**raw(saved), "W3": np.zeros(3, np.float32)})
    with pytest.raises(CheckpointError, match=r"unexpected entries \['W3'\]"):
        load_checkpoint(saved)


def test_wrong_shape(saved: Path) -> None:
    arrays = raw(saved)
    arrays["W2"] = np.zeros((8, 11), np.float32)
    rewrite(saved, arrays)
    with pytest.raises(CheckpointError, match=rf"{saved}: W2 has shape \(8, 11\), expected \(8, 10\)"):
        load_checkpoint(saved)


def test_vocab_that_does_not_match_the_weights(saved: Path) -> None:
    arrays = raw(saved)
    arrays["vocab"] = arrays["vocab"][:-1]
    rewrite(saved, arrays)
    with pytest.raises(CheckpointError, match=r"C has shape \(10, 4\), expected \(9, 4\)"):
        load_checkpoint(saved)


@pytest.mark.parametrize(
    "name, array, message",
    [("b2", np.zeros(10, np.int64), "b2 has dtype int64; expected floating point"),
     ("b2", np.zeros(10, np.float64), r"b2 has dtype float64 but the config says dtype='float32'"),
     ("bnvar", np.array(["x"] * 8).reshape(1, 8), "bnvar has dtype <U1; expected floating point")],
)
def test_bad_dtype(saved: Path, name: str, array: np.ndarray, message: str) -> None:
    rewrite(saved, {**raw(saved), name: array})
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(saved)


def _never_called() -> None:
    raise AssertionError("load_checkpoint unpickled an object")


class Exploit:
    def __reduce__(self):
        return (_never_called, ())


def test_pickled_object_array_is_refused(saved: Path) -> None:
    arrays = raw(saved)
    arrays["extra"] = np.array([Exploit()], dtype=object)
    rewrite(saved, arrays)  # np.savez pickles object arrays when writing
    with pytest.raises(CheckpointError, match=r"'extra' is a pickled object array"):
        load_checkpoint(saved)


def test_future_format_version(saved: Path) -> None:
    rewrite(saved, {**raw(saved), "format_version": np.array(checkpoint.FORMAT_VERSION + 1)})
    with pytest.raises(CheckpointError, match=r"format version 2 is newer .* upgrade ninjagrad"):
        load_checkpoint(saved)


@pytest.mark.parametrize(
    "config, message",
    [("{not json", "config is not valid JSON"),
     ('["n_hidden", 8]', "config must be a JSON object"),
     ('{"n_hidden": 8, "n_layers": 2}', r"unknown fields \['n_layers'\]"),
     ('{"n_hidden": "8"}', "config field n_hidden='8' should be a int"),
     ('{"n_hidden": 0}', "invalid config .*n_hidden must be a positive integer")],
)
def test_bad_config(saved: Path, config: str, message: str) -> None:
    rewrite(saved, {**raw(saved), "config": np.array(config)})
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(saved)


def test_bad_vocab(saved: Path) -> None:
    rewrite(saved, {**raw(saved), "vocab": np.array(["a", "b"])})
    with pytest.raises(CheckpointError, match="invalid vocabulary .*must start with the start/stop token"):
        load_checkpoint(saved)


def test_file_mode_follows_the_umask(tmp_path: Path) -> None:
    # like open(): 0o666 minus the umask, not the temp file's private 0o600
    params, bnmean, bnvar, cfg = make_model()
    old = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "model.ckpt", params, bnmean, bnvar, VOCAB, cfg)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_save_writes_through_a_symlink(tmp_path: Path) -> None:
    # the link stays a link and the file it points to gets the new model (not a stale copy beside it)
    params, bnmean, bnvar, cfg = make_model()
    real = save_checkpoint(tmp_path / "runs" / "model-1.npz", params, bnmean, bnvar, VOCAB, cfg)
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    params2 = make_model(seed=1)[0]
    assert save_checkpoint(link, params2, bnmean, bnvar, VOCAB, cfg) == link
    assert link.is_symlink() and link.resolve() == real.resolve()
    np.testing.assert_array_equal(load_checkpoint(real).params["W1"], params2["W1"])
    assert sorted(p.name for p in real.parent.iterdir()) == ["model-1.npz"]  # no temp file left


def test_symlink_loop_is_an_os_error(tmp_path: Path) -> None:
    loop = tmp_path / "loop.npz"
    loop.symlink_to(loop)
    params, bnmean, bnvar, cfg = make_model()
    with pytest.raises(OSError, match="loop"):
        save_checkpoint(loop, params, bnmean, bnvar, VOCAB, cfg)


def test_save_keeps_an_existing_files_mode(saved: Path) -> None:
    saved.chmod(0o600)  # a private checkpoint stays private when overwritten
    params, bnmean, bnvar, cfg = make_model(seed=1)
    save_checkpoint(saved, params, bnmean, bnvar, VOCAB, cfg)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    np.testing.assert_array_equal(load_checkpoint(saved).params["W1"], params["W1"])


def test_raw_zip_member_is_not_an_array(saved: Path) -> None:
    # a member named `config` (no .npy) comes back from np.load as bytes, not an array
    arrays = raw(saved)
    with zipfile.ZipFile(saved, "w") as zf:
        for name, array in arrays.items():
            if name != "config":
                with zf.open(f"{name}.npy", "w") as f:
                    np.lib.format.write_array(f, array, allow_pickle=False)
        zf.writestr("config", str(arrays["config"]))
    with pytest.raises(CheckpointError, match=rf"{saved}: entry 'config' is not an array"):
        load_checkpoint(saved)


@pytest.mark.parametrize(
    "name, index, value, message",
    [("W1", (0, 0), np.nan, "W1 has non-finite entries"),
     ("b2", (3,), np.inf, "b2 has non-finite entries"),
     ("bnmean", (0, 1), -np.inf, "bnmean has non-finite entries"),
     ("bnvar", (0, 2), np.nan, "bnvar has non-finite entries"),
     ("bnvar", (0, 2), -0.5, "bnvar has negative entries")],
)
def test_non_finite_or_negative_values_are_refused(saved: Path, name: str, index: tuple, value: float,
                                                   message: str) -> None:
    arrays = raw(saved)
    arrays[name] = arrays[name].copy()
    arrays[name][index] = value
    rewrite(saved, arrays)
    with pytest.raises(CheckpointError, match=rf"{saved}: {message}"):
        load_checkpoint(saved)


@pytest.mark.parametrize("name, value", [("W1", np.nan), ("b2", np.inf), ("bnvar", np.nan), ("bnmean", -np.inf)])
def test_save_refuses_a_diverged_model_and_keeps_the_old_file(saved: Path, name: str, value: float) -> None:
    # what load refuses, save refuses first: a diverged run must not replace a usable checkpoint
    before = saved.read_bytes()
    params, bnmean, bnvar, cfg = make_model(seed=1)
    arrays = {**params, "bnmean": bnmean, "bnvar": bnvar}
    arrays[name] = arrays[name].copy()
    arrays[name].flat[0] = value
    with pytest.raises(CheckpointError, match=rf"{name} has non-finite entries \(NaN or inf\); the run diverged"):
        save_checkpoint(saved, {k: arrays[k] for k in PARAM_NAMES}, arrays["bnmean"], arrays["bnvar"], VOCAB, cfg)
    assert saved.read_bytes() == before and [p.name for p in saved.parent.iterdir()] == [saved.name]
    assert load_checkpoint(saved).extra == {"backend": "manual"}
