"""Shared fixtures: where the real data and the seed notebook are, and what to do when they are missing.

Outside CI a missing dataset, torch or `dot` binary skips the tests that need it; under
CI=true it fails them, because a skipped three-way test is a hidden red.
"""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def missing(what: str) -> None:
    """Skip (locally) or fail (under CI=true) because `what` is not available."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is required under CI=true", pytrace=False)
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session")
def names_path() -> Path:
    """The real names.txt: $NINJAGRAD_NAMES, else ../shared/data/names.txt."""
    path = Path(os.environ.get("NINJAGRAD_NAMES") or SHARED / "data" / "names.txt")
    if not path.is_file():
        missing(f"the names dataset ({path})")
    return path


@pytest.fixture(scope="session")
def seed_notebook() -> Path:
    path = SHARED / "seed" / "makemore_part4_backprop_notebook.txt"
    if not path.is_file():
        missing(f"the seed notebook ({path})")
    return path


@pytest.fixture(scope="session")
def torch():
    """The real PyTorch module (a test/optional extra)."""
    try:
        import torch as real_torch
    except ImportError:
        missing("torch (pip install -e '.[test]')")
    return real_torch


@pytest.fixture(scope="session")
def dot_binary() -> str:
    path = shutil.which("dot")
    if path is None:
        missing("the Graphviz `dot` binary (apt-get install graphviz)")
    return path


@pytest.fixture
def refcount_only():
    """Cyclic GC off for the test, so anything freed was freed by reference counting alone."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
