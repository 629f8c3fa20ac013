"""The `ninjagrad` command end to end: help everywhere, one-line errors, train → sample, graph, demo."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest


def ninjagrad(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("command", ["", "check", "train", "sample", "graph", "demo"])
def test_help_everywhere(command):
    done = ninjagrad(*([command] if command else []), "--help")
    assert done.returncode == 0 and "usage: ninjagrad" in done.stdout


def test_errors_are_one_line(tmp_path):
    done = ninjagrad("sample", "--checkpoint", str(tmp_path / "missing.npz"))
    assert done.returncode == 2
    assert "missing.npz" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = ninjagrad("train", "--data", str(tmp_path / "nope.txt"), "--steps", "10")
    assert done.returncode == 2 and "nope.txt" in done.stderr and "Traceback" not in done.stderr


def test_train_then_sample(names_path, tmp_path):
    out = tmp_path / "run"
    done = ninjagrad("train", "--data", str(names_path), "--steps", "300", "--n-hidden", "32", "--out", str(out),
                     "--no-progress")
    assert done.returncode == 0, done.stderr
    assert {"train", "val", "test"} <= {line.split()[0] for line in done.stdout.splitlines() if line.strip()}
    assert (out / "model.npz").is_file() and (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    done = ninjagrad("sample", "--checkpoint", str(out / "model.npz"), "-n", "5", "--seed", "1")
    names = done.stdout.split()
    assert done.returncode == 0 and len(names) == 5
    assert all(set(n) <= set("abcdefghijklmnopqrstuvwxyz") for n in names)


def test_graph_dot_and_svg(names_path, tmp_path, dot_binary):
    done = ninjagrad("graph", "--data", str(names_path), "--out", str(tmp_path / "g.dot"))
    assert done.returncode == 0, done.stderr
    source = (tmp_path / "g.dot").read_text()
    assert source.startswith("digraph") and "bnvar_inv" in source and "logprobs" in source
    done = ninjagrad("graph", "--data", str(names_path), "--check", "--dtype", "float64", "--out",
                     str(tmp_path / "g.svg"))
    assert done.returncode == 0, done.stderr
    assert ET.parse(tmp_path / "g.svg").getroot().tag.endswith("svg")


def test_demo_runs_end_to_end(names_path, tmp_path, torch, dot_binary):
    done = ninjagrad("demo", "--data", str(names_path), "--steps", "300", "--out", str(tmp_path / "g.svg"))
    assert done.returncode == 0, done.stderr + done.stdout
    assert "32,033 words from" in done.stdout  # it says which data it used
    assert "engine/torch" in done.stdout and "manual/engine" in done.stdout
    assert "test " in done.stdout and (tmp_path / "g.svg").is_file()
