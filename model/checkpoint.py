"""Checkpoints of the makemore MLP as plain `.npz` files that load without pickle.

`save_checkpoint` writes the seven parameters, the calibrated batchnorm statistics, the vocabulary (a
unicode array), the Config and any extra metadata (JSON strings in 0-d unicode arrays) and a format
version, atomically: a crash leaves the previous file or the new one, never half of one.
`load_checkpoint` reads with `allow_pickle=False` and checks every key, shape and dtype against the
stored config and vocabulary, and the values (finite weights, a non-negative batchnorm variance),
raising `CheckpointError` that names the file and what is wrong; save refuses what load would.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .data import Vocab
from .files import atomic_write
from .mlp import PARAM_NAMES, Config

FORMAT_VERSION = 1
BN_NAMES = ("bnmean", "bnvar")
META_NAMES = ("format_version", "vocab", "config")
OPTIONAL_NAMES = ("extra",)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used, with the file and the reason."""


@dataclass(frozen=True)
class Checkpoint:
    """A trained model: everything `model.sample` and evaluation need, and the run's metadata."""

    params: dict[str, np.ndarray]  # PARAM_NAMES -> arrays of cfg.dtype
    bnmean: np.ndarray  # (1, n_hidden) calibrated batchnorm mean
    bnvar: np.ndarray  # (1, n_hidden) calibrated batchnorm (Bessel-corrected) variance
    vocab: Vocab
    cfg: Config
    extra: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable metadata (losses, backend, ...)


def expected_shapes(cfg: Config, vocab_size: int) -> dict[str, tuple[int, ...]]:
    """The shape of every stored array for a model of `cfg` over `vocab_size` symbols."""
    row = (1, cfg.n_hidden)
    return {
        "C": (vocab_size, cfg.n_embd),
        "W1": (cfg.n_embd * cfg.block_size, cfg.n_hidden),
        "b1": (cfg.n_hidden,),
        "W2": (cfg.n_hidden, vocab_size),
        "b2": (vocab_size,),
        "bngain": row,
        "bnbias": row,
        "bnmean": row,
        "bnvar": row,
    }


def check_shapes(arrays: Mapping[str, np.ndarray], cfg: Config, vocab: Vocab, where: str) -> None:
    """Raise CheckpointError unless every array of `expected_shapes` has its shape (`sample` checks models so)."""
    for name, shape in expected_shapes(cfg, vocab.size).items():
        if arrays[name].shape != shape:
            raise CheckpointError(
                f"{where}: {name} has shape {arrays[name].shape}, expected {shape} (from n_embd={cfg.n_embd}, "
                f"n_hidden={cfg.n_hidden}, block_size={cfg.block_size}, vocab size {vocab.size})"
            )


def _check_arrays(arrays: Mapping[str, np.ndarray], cfg: Config, vocab: Vocab, where: str) -> None:
    """Raise CheckpointError unless the arrays fit cfg and vocab: one floating dtype = cfg.dtype, shapes."""
    for name in expected_shapes(cfg, vocab.size):
        array = arrays[name]
        if array.dtype.kind != "f":
            raise CheckpointError(f"{where}: {name} has dtype {array.dtype}; expected floating point ({cfg.dtype})")
        if array.dtype != np.dtype(cfg.dtype):
            raise CheckpointError(
                f"{where}: {name} has dtype {array.dtype} but the config says dtype={cfg.dtype!r}; "
                "all arrays must share the config's dtype"
            )
    check_shapes(arrays, cfg, vocab, where)


def _check_values(arrays: Mapping[str, np.ndarray], where: str, diverged: str) -> None:
    """Raise CheckpointError for a NaN or inf anywhere (`diverged` says what that means), or a negative bnvar."""
    for name in (*PARAM_NAMES, *BN_NAMES):
        if not np.isfinite(arrays[name]).all():
            raise CheckpointError(f"{where}: {name} has non-finite entries (NaN or inf); {diverged}")
    if (arrays["bnvar"] < 0).any():
        raise CheckpointError(f"{where}: bnvar has negative entries; a variance is never negative")


def _config_json(cfg: Config) -> str:
    return json.dumps(cfg.to_dict(), sort_keys=True)


def save_checkpoint(
    path: str | os.PathLike[str],
    params: Mapping[str, np.ndarray],
    bnmean: np.ndarray,
    bnvar: np.ndarray,
    vocab: Vocab,
    cfg: Config,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write the model to exactly `path` (no suffix is added) as an uncompressed, pickle-free `.npz`.

    First, before anything on disk is touched: the arrays must fit `cfg` and `vocab` and hold no value
    `load_checkpoint` refuses (CheckpointError otherwise: a NaN or inf says the run diverged), and `extra`
    must be JSON-serialisable (TypeError otherwise). The data go to a temporary file in the same
    directory, are fsynced, and replace `path` in one os.replace: on any failure `path` still holds its
    previous contents (if any) and the temporary file is removed. Creates the directory. Returns the path.
    """
    path = Path(path)
    where = f"save_checkpoint({path})"
    arrays: dict[str, np.ndarray] = {}
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise CheckpointError(f"{where}: params is missing {missing}; expected all of {list(PARAM_NAMES)}")
    for name in PARAM_NAMES:
        arrays[name] = np.asarray(params[name])
    arrays["bnmean"], arrays["bnvar"] = np.asarray(bnmean), np.asarray(bnvar)
    _check_arrays(arrays, cfg, vocab, where)
    _check_values(arrays, where, "the run diverged (try a smaller learning rate); nothing was written")
    try:
        extra_json = json.dumps(dict(extra or {}), sort_keys=True)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: extra must be JSON-serialisable ({e})") from e
    arrays["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    arrays["vocab"] = np.array(vocab.to_list(), dtype=str)  # (V,) unicode
    arrays["config"] = np.array(_config_json(cfg))  # 0-d unicode
    arrays["extra"] = np.array(extra_json)  # 0-d unicode

    def write(f: BinaryIO) -> None:
        np.savez(f, **arrays)  # a file object, so numpy writes where we say and adds no ".npz"

    atomic_write(path, write)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`, without unpickling anything.

    Raises CheckpointError naming the file for: a missing or unreadable file, a file that is not an
    `.npz` archive, a truncated or corrupt one, a pickled (object) array, a format version newer than
    this code reads, missing, unexpected or non-array entries, a config or vocabulary that does not parse,
    any array whose shape or dtype does not fit the stored config and vocabulary, a NaN or inf in any
    array, and a negative bnvar.
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise CheckpointError(f"{where}: no such checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{where}: not a file")
    arrays = _read_npz(path, where)

    required = (*PARAM_NAMES, *BN_NAMES, *META_NAMES)
    missing = [name for name in required if name not in arrays]
    unexpected = sorted(set(arrays) - set(required) - set(OPTIONAL_NAMES))
    if "format_version" in arrays:
        _check_version(arrays["format_version"], where)
    if missing:
        names = ", ".join(repr(n) for n in missing)
        raise CheckpointError(f"{where}: missing {names}; is this a ninjagrad checkpoint?")
    if unexpected:
        raise CheckpointError(f"{where}: unexpected entries {unexpected}; is this a ninjagrad checkpoint?")

    cfg = _read_config(arrays["config"], where)
    vocab = _read_vocab(arrays["vocab"], where)
    extra = _read_json(arrays["extra"], "extra", where) if "extra" in arrays else {}
    if not isinstance(extra, dict):
        raise CheckpointError(f"{where}: extra must be a JSON object, got {type(extra).__name__}")
    _check_arrays(arrays, cfg, vocab, where)
    _check_values(arrays, where, "did the run that saved it diverge?")
    return Checkpoint({name: arrays[name] for name in PARAM_NAMES}, arrays["bnmean"], arrays["bnvar"], vocab, cfg,
                      extra)


def _read_npz(path: Path, where: str) -> dict[str, np.ndarray]:
    """Every array of the archive, read eagerly (so a corrupt member fails here, not later)."""
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise CheckpointError(f"{where}: cannot read checkpoint ({e.strerror or e})") from e
    if magic != b"PK\x03\x04":
        kind = "an empty file" if not magic else "a .npy array, not an .npz archive" if magic == b"\x93NUM" else \
            "not an .npz (zip) archive"
        raise CheckpointError(f"{where}: {kind}; expected a checkpoint written by save_checkpoint")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {}
            for name in npz.files:
                try:
                    arrays[name] = npz[name]
                except ValueError as e:
                    if "allow_pickle" in str(e) or "pickled" in str(e):
                        raise CheckpointError(
                            f"{where}: {name!r} is a pickled object array; checkpoints hold plain arrays only "
                            "and are never unpickled (it may not come from save_checkpoint)"
                        ) from e
                    raise
                if not isinstance(arrays[name], np.ndarray):  # np.load gives a member not named *.npy as bytes
                    raise CheckpointError(f"{where}: entry {name!r} is not an array (a raw zip member, not a .npy); "
                                          "is this a ninjagrad checkpoint?")
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, zipfile.LargeZipFile) as e:
        raise CheckpointError(
            f"{where}: truncated or corrupt checkpoint ({type(e).__name__}: {e}); re-save or re-download it"
        ) from e
    except Exception as e:  # zlib.error and friends from a damaged member
        raise CheckpointError(f"{where}: corrupt checkpoint ({type(e).__name__}: {e})") from e
    return arrays


def _check_version(version: np.ndarray, where: str) -> None:
    if version.shape != () or version.dtype.kind not in "iu":
        raise CheckpointError(f"{where}: format_version must be a single integer, got {version.dtype} {version.shape}")
    v = int(version)
    if v > FORMAT_VERSION:
        raise CheckpointError(
            f"{where}: format version {v} is newer than this ninjagrad reads (up to {FORMAT_VERSION}); "
            "upgrade ninjagrad"
        )
    if v < 1:
        raise CheckpointError(f"{where}: invalid format version {v}")


def _read_json(array: np.ndarray, name: str, where: str) -> Any:
    if array.shape != () or array.dtype.kind != "U":
        raise CheckpointError(f"{where}: {name} must be a JSON string (0-d unicode array), got {array.dtype} "
                              f"{array.shape}")
    try:
        return json.loads(str(array))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{where}: {name} is not valid JSON ({e})") from e


def _read_config(array: np.ndarray, where: str) -> Config:
    fields = _read_json(array, "config", where)
    if not isinstance(fields, dict):
        raise CheckpointError(f"{where}: config must be a JSON object, got {type(fields).__name__}")
    known = {f.name: f for f in dataclasses.fields(Config)}
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise CheckpointError(f"{where}: config has unknown fields {unknown}")
    for name, value in fields.items():
        default = known[name].default
        ok = isinstance(value, float | int) if isinstance(default, float) else isinstance(value, type(default))
        if not ok or isinstance(value, bool):
            raise CheckpointError(f"{where}: config field {name}={value!r} should be a {type(default).__name__}")
    try:
        return Config(**fields)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{where}: invalid config ({e})") from e


def _read_vocab(array: np.ndarray, where: str) -> Vocab:
    if array.ndim != 1 or array.dtype.kind != "U":
        raise CheckpointError(f"{where}: vocab must be a 1-D unicode array, got {array.dtype} {array.shape}")
    try:
        return Vocab.from_list(array.tolist())
    except ValueError as e:
        raise CheckpointError(f"{where}: invalid vocabulary ({e})") from e
