"""The `ninjagrad` command end to end: help everywhere, one-line errors, train → sample, graph, demo.

Most error paths run in-process through `main` on a small synthetic names file (fast, and a test can
replace a function to prove training never started); pipes and a missing `dot` need a real process.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import model.check
import model.cli
import model.sample
import model.train
from model.checkpoint import save_checkpoint
from model.cli import main
from model.data import Vocab
from model.mlp import Config, init_params

WORDS = ["".join(w) for w in itertools.product("abcde", repeat=3)]  # 125 made-up names, all splits non-empty
TINY = ("--n-hidden", "8", "--steps", "20")


def ninjagrad(*args: str, timeout: int = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`ninjagrad ARGS` in this process: (exit status, stdout, stderr)."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def words(tmp_path: Path) -> Path:
    path = tmp_path / "words.txt"
    path.write_text("\n".join(WORDS) + "\n")
    return path


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training fails the test if it starts: the errors under test must come first."""
    def train(*args, **kwargs):
        raise AssertionError("training started before the error")

    monkeypatch.setattr(model.train, "train", train)


def one_line_error(status: int, err: str, *parts: str) -> None:
    assert status == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for part in parts:
        assert part in err, err


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


@pytest.mark.parametrize("args, parts", [
    (["train", "--backend", "foo"], ["ninjagrad train: error:", "invalid choice: 'foo'", "see ninjagrad train --help"]),
    (["check", "--batch-size", "abc"], ["ninjagrad check: error:", "--batch-size: invalid int value: 'abc'"]),
    (["sample"], ["ninjagrad sample: error:", "required: --checkpoint"]),
    (["bogus"], ["ninjagrad: error:", "invalid choice: 'bogus'", "see ninjagrad --help"]),
])
def test_argument_mistakes_are_one_line_too(capsys, args, parts):
    """argparse's own errors came with its usage block: now one line, as the README promises for every mistake."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    one_line_error(exit_info.value.code, capsys.readouterr().err, *parts)


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


# ---- train's outputs are checked before it trains ----------------------------------------


def test_train_out_that_is_a_file(capsys, tmp_path, words, no_training):
    (tmp_path / "afile").touch()
    status, _, err = run(capsys, "train", "--data", str(words), "--out", str(tmp_path / "afile"), *TINY)
    one_line_error(status, err, "afile: is a file, not a directory")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_train_out_that_cannot_be_created(capsys, words, no_training):
    status, _, err = run(capsys, "train", "--data", str(words), "--out", "/proc/nope", *TINY)
    one_line_error(status, err, "/proc/nope", "cannot create")


def test_train_plot_target_that_is_a_directory(capsys, tmp_path, words, no_training):
    (tmp_path / "o3" / "loss.png").mkdir(parents=True)
    status, _, err = run(capsys, "train", "--data", str(words), "--out", str(tmp_path / "o3"), *TINY)
    one_line_error(status, err, "loss.png: is a directory")
    assert not (tmp_path / "o3" / "model.npz").exists()


def test_train_creates_a_missing_out_directory(capsys, tmp_path, words):
    out = tmp_path / "new" / "run"
    status, _, err = run(capsys, "train", "--data", str(words), "--out", str(out), "--no-progress", *TINY)
    assert status == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["loss.png", "model.npz"]


def test_train_keeps_an_earlier_checkpoint_unless_forced(capsys, tmp_path, words, monkeypatch):
    out = tmp_path / "run"
    args = ("train", "--data", str(words), "--out", str(out), "--no-progress", *TINY)
    assert run(capsys, *args)[0] == 0
    first = (out / "model.npz").read_bytes()
    with monkeypatch.context() as m:
        m.setattr(model.train, "train", lambda *a, **k: pytest.fail("training started before the error"))
        status, _, err = run(capsys, *args, "--seed", "1")
    one_line_error(status, err, f"{out / 'model.npz'} already exists", "--force")
    assert (out / "model.npz").read_bytes() == first
    assert run(capsys, *args, "--seed", "1", "--force")[0] == 0
    assert (out / "model.npz").read_bytes() != first


def test_a_diverged_run_is_one_line_and_keeps_the_earlier_checkpoint(capsys, tmp_path, words, monkeypatch):
    # --force must not swap a usable checkpoint for a NaN one that load_checkpoint refuses
    out = tmp_path / "run"
    args = ("train", "--data", str(words), "--out", str(out), "--no-progress", *TINY)
    assert run(capsys, *args)[0] == 0
    before = {name: (out / name).read_bytes() for name in ("model.npz", "loss.png")}
    monkeypatch.setattr(model.cli, "DEFAULTS", model.cli.DEFAULTS.replace(lr=1e30, lr_final=1e30))  # no --lr option
    status, _, err = run(capsys, *args, "--force")
    one_line_error(status, err, "ninjagrad train: error: train (manual): the loss is nan at step 1 of 20: training "
                                "diverged; try a smaller learning rate")
    assert {name: (out / name).read_bytes() for name in before} == before


def test_torch_threads_without_the_torch_backend_is_noted(capsys, tmp_path, words):
    status, _, err = run(capsys, "train", "--data", str(words), "--out", str(tmp_path / "run"), "--no-progress",
                         *TINY, "--torch-threads", "2")
    assert status == 0 and err == ("ninjagrad train: note: --torch-threads applies to --backend torch only; "
                                   "ignored for manual\n")


def test_a_tilde_means_home_for_every_path_option(capsys, tmp_path, words, monkeypatch):
    # the writability check once looked at a literal ./~ (creating it) while the graph went to $HOME
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    home.mkdir()
    (home / "words.txt").write_bytes(words.read_bytes())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    status, out, err = run(capsys, "graph", "--data", "~/words.txt", "--out", "~/sub/t.dot")
    assert status == 0 and f"graph written to {home / 'sub' / 't.dot'}" in out, err
    status, _, err = run(capsys, "train", "--data", "~/words.txt", "--out", "~/run", "--no-progress", *TINY)
    assert status == 0, err
    status, out, err = run(capsys, "sample", "--checkpoint", "~/run/model.npz", "-n", "2", "--seed", "0")
    assert status == 0 and len(out.splitlines()) == 2, err  # a name may be empty
    assert list(cwd.iterdir()) == [] and (home / "sub" / "t.dot").is_file() and (home / "run" / "model.npz").is_file()


@pytest.mark.parametrize("option, value", [("--format", "jpg"), ("--detail", "bogus")])
def test_demo_checks_its_hidden_options_before_any_work(capsys, tmp_path, words, no_training, monkeypatch, option,
                                                        value):
    monkeypatch.setattr(model.check, "run_check", lambda *a, **k: pytest.fail("the check started before the error"))
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--data", str(words), "--out", str(tmp_path / "x.jpg"), option, value])
    assert exit_info.value.code == 2
    assert f"argument {option}: invalid choice: '{value}'" in capsys.readouterr().err


# ---- data too small for the command's splits ---------------------------------------------


@pytest.mark.parametrize(
    "command, n_words, message",
    [("train", 2, "2 words are too few: the 80/10/10 split leaves the dev split empty, and `ninjagrad train` "
                  "needs at least 6 words"),
     ("train", 5, "5 words are too few: the 80/10/10 split leaves the dev split empty"),
     ("check", 1, "1 word is too few: the 80/10/10 split leaves the train split empty, and `ninjagrad check` "
                  "needs at least 2 words"),
     ("graph", 1, "`ninjagrad graph` needs at least 2 words")],
)
def test_too_few_words_is_a_clear_error(capsys, tmp_path, command, n_words, message):
    path = tmp_path / "few.txt"
    path.write_text("\n".join(WORDS[:n_words]) + "\n")
    extra = {"train": ("--out", str(tmp_path / "out"), *TINY), "graph": ("--out", str(tmp_path / "g.dot")),
             "check": ()}[command]
    status, _, err = run(capsys, command, "--data", str(path), *extra)
    one_line_error(status, err, message)


# ---- out of memory, seeds, broken pipes ----------------------------------------------------


def tiny_checkpoint(path: Path) -> Path:
    vocab = Vocab.from_words(WORDS)
    cfg = Config(n_embd=4, n_hidden=8)
    params = init_params(vocab.size, cfg, np.random.default_rng(0))
    return save_checkpoint(path, params, np.zeros((1, 8), np.float32), np.ones((1, 8), np.float32), vocab, cfg)


def test_out_of_memory_is_one_line_naming_the_sizes(capsys, tmp_path, words, monkeypatch):
    # sizes within the options' ranges can still exhaust a small machine
    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 7.11 PiB")

    ckpt = tiny_checkpoint(tmp_path / "model.npz")
    for module, function, args, options in [
            (model.sample, "sample", ("sample", "--checkpoint", str(ckpt)), "-n"),
            (model.train, "train", ("train", "--data", str(words), "--out", str(tmp_path / "run")), "--n-hidden"),
            (model.check, "run_check", ("check", "--data", str(words)), "--n-hidden")]:
        monkeypatch.setattr(module, function, exhausted)
        status, _, err = run(capsys, *args)
        one_line_error(status, err, f"ninjagrad {args[0]}: error: out of memory (Unable to allocate 7.11 PiB); "
                                    f"try smaller {options}")


@pytest.mark.parametrize(
    "command, option, value, most",
    [("check", "--block-size", "99999999999999999999", "64"),  # overflowed deep in build_dataset
     ("check", "--block-size", "100000", "64"),  # built a multi-GB string for minutes
     ("check", "--block-size", "0", "64"),
     ("graph", "--n-embd", str(10**20), "1,000"),  # "Maximum allowed dimension exceeded", naming nothing
     ("train", "--n-hidden", str(10**15), "10,000"),
     ("train", "--batch-size", str(10**12), "1,000,000"),
     ("train", "--steps", str(10**12), "10,000,000"),
     ("demo", "--graph-batch", "1", "1,000,000"),  # refused only after the check, training and sampling
     ("sample", "-n", "3000000000000", "1,000,000")],
)
def test_sizes_out_of_range_name_the_option(capsys, tmp_path, words, no_training, monkeypatch, command, option,
                                            value, most):
    monkeypatch.setattr(model.check, "run_check", lambda *a, **k: pytest.fail("the check started before the error"))
    data, graph = ("--data", str(words)), ("--out", str(tmp_path / "g.dot"))
    target = {"sample": ("--checkpoint", str(tiny_checkpoint(tmp_path / "m.npz"))), "check": data,
              "graph": (*data, *graph), "demo": (*data, *graph), "train": (*data, "--out", str(tmp_path / "out"))}
    status, _, err = run(capsys, command, *target[command], option, value)
    one_line_error(status, err, f"ninjagrad {command}: error: {option} must be from ", f"to {most}, got {value}")


@pytest.mark.parametrize("command, dest", [("check", "block_size"), ("train", "steps"), ("sample", "n")])
def test_help_states_the_ranges(capsys, command, dest):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    _, least, most = model.cli.SIZES[dest]
    assert f"{least} to {most:,}" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["train", "check", "graph", "sample"])
def test_negative_seed_names_the_option(capsys, tmp_path, words, command):
    target = ("--checkpoint", str(tmp_path / "m.npz")) if command == "sample" else ("--data", str(words))
    with pytest.raises(SystemExit) as exit_info:
        main([command, *target, "--seed", "-1"])
    assert exit_info.value.code == 2
    assert "argument --seed: must be a non-negative integer, got -1" in capsys.readouterr().err


def test_closed_pipe_ends_quietly(tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "model.npz")
    # far more than a pipe buffer (64 kB) holds, so the writer is still writing when the reader leaves
    proc = subprocess.Popen([sys.executable, "-m", "model.cli", "sample", "--checkpoint", str(ckpt), "-n", "50000",
                             "--seed", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141 and err == ""


# ---- graph formats and the demo -----------------------------------------------------------


def test_graph_format_must_agree_with_the_suffix(capsys, tmp_path, words):
    status, _, err = run(capsys, "graph", "--data", str(words), "--format", "png", "--out", str(tmp_path / "conf.svg"))
    one_line_error(status, err, "--format png contradicts --out", "conf.png")
    assert not (tmp_path / "conf.svg").exists()
    status, _, err = run(capsys, "graph", "--data", str(words), "--out", str(tmp_path / "g.txt"))
    one_line_error(status, err, "cannot tell the format from --out", "pass --format")
    assert "format=" not in err
    status, _, err = run(capsys, "graph", "--data", str(words), "--format", "dot", "--out", str(tmp_path / "g.txt"))
    assert status == 0, err
    assert (tmp_path / "g.txt").read_text().startswith("digraph")


def test_missing_dot_binary_is_explained_in_options(tmp_path, words):
    done = ninjagrad("graph", "--data", str(words), "--out", str(tmp_path / "g.svg"),
                     env={**os.environ, "PATH": str(tmp_path)})  # no `dot` on this PATH
    one_line_error(done.returncode, done.stderr, "Graphviz", "a .dot file needs no binary")


def test_demo_without_torch_does_not_promise_it(capsys, tmp_path, words, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    status, out, err = run(capsys, "demo", "--data", str(words), *TINY, "--out", str(tmp_path / "g.dot"))
    assert status == 0, err
    assert "== two-way gradient check (engine · manual)," in out and "PyTorch)" not in out


def test_demo_runs_twice_in_the_same_place(capsys, tmp_path, words, monkeypatch):
    # `make demo` twice: the default output is a graph, replaced on every run, and no checkpoint
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        status, out, err = run(capsys, "demo", "--data", str(words), *TINY)
        assert status == 0, err
        assert "forward graph, coloured by the check" in out or "no graph drawn" in out
    assert [p.name for p in (tmp_path / "out").iterdir()] in ([], ["makemore-graph.svg"])
