"""Smoke tests of the benchmark scripts: each runs end to end on a short job and writes sensible JSON.

They time nothing worth reading (windows of 10 ms, runs of 200 steps); they check that every backend runs,
that the backends agree on their losses (step.py exits non-zero if they do not) and that they are reported
with positive timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = {"engine", "manual", "torch", "torch-manual"}


def bench(script: str, *args, cwd: Path, env: dict[str, str] | None = None, ok: bool = True,
          timeout: float = 120) -> subprocess.CompletedProcess:
    """Run bench/`script` with `args` in `cwd`; with ok=True, fail the test unless it exits 0."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=env)
    if ok:
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_step_benchmark_quick_run_writes_json(torch, tmp_path):
    out = tmp_path / "results" / "x.json"  # a directory that does not exist yet
    env = dict(os.environ)
    if not Path(env.get("NINJAGRAD_NAMES", "")).is_file():  # the script refuses a wrong path; it needs no data
        env.pop("NINJAGRAD_NAMES", None)
    proc = bench("step.py", "--quick", "--sizes", "32x200", "--window", "0.01", "--warmup", "0.01", "--out", out,
                 cwd=tmp_path, env=env)

    report = json.loads(out.read_text())
    (result,) = report["results"]
    assert (result["batch_size"], result["n_hidden"]) == (32, 200)
    assert set(result["backends"]) == BACKENDS
    for name, b in result["backends"].items():
        assert len(b["windows_us"]) == 3, name  # --quick: 3 windows
        assert 0 < b["min_us"] <= b["median_us"] <= b["max_us"], name
        assert b["steps_per_window"] >= 1, name
    assert result["backends"]["torch"]["ratio_to_torch"] == 1.0
    # every backend trained the same model: its first losses match torch's (the script checks to 1e-4)
    first = {name: b["first_losses"] for name, b in result["backends"].items()}
    assert all(len(losses) == 3 and losses[0] > 0 for losses in first.values()), first
    assert {(c["backend"], c["reference"]) for c in report["targets"]} == {
        ("manual", "torch"), ("engine", "torch"), ("engine", "manual")}
    assert report["environment"]["numpy"] and report["environment"]["torch"]["version"]
    assert "PASS" in proc.stdout or "MISS" in proc.stdout


def test_float32_agreement_script_counts_every_pair(torch, names_path, tmp_path):
    """bench/float32_agreement.py on one seed at batch 2, where every pair misses (see the README)."""
    proc = bench("float32_agreement.py", "--seeds", "1", "--batch", "2", "--hidden", "64", "--data", names_path,
                 cwd=tmp_path)
    counts = {line.split("  ")[1].strip(): line for line in proc.stdout.splitlines() if line.startswith("  ")}
    assert set(counts) == {"torch32 vs exact", "ideal vs torch32", "engine32 vs exact", "engine32 vs torch32"}
    assert all(" 1  [" in line for line in counts.values()), proc.stdout  # 1 seed of 1 missed, rows named


def test_full_run_side_by_side_writes_json(names_path, tmp_path):
    """bench/full_run.py with two backends: they take turns, agree on their losses, and both are reported."""
    out = tmp_path / "full.json"
    proc = bench("full_run.py", "--backend", "manual", "engine", "--steps", 200, "--turn-steps", 50, "--log-every",
                 100, "--data", names_path, "--out", out, cwd=tmp_path)
    report = json.loads(out.read_text())
    assert report["backends"] == ["manual", "engine"] and report["steps"] == 200
    assert report["turn_steps"] == 50 and report["reference"] == "manual"  # no torch: the first backend
    results = report["results"]
    assert results["manual"]["ratio_to_reference"] == 1.0
    seconds = {name: r["train_seconds"] for name, r in results.items()}
    assert results["engine"]["ratio_to_reference"] == seconds["engine"] / seconds["manual"]
    for name, r in results.items():
        assert r["train_seconds"] > 0 and r["us_per_step"] == r["train_seconds"] / 200 * 1e6, name
        assert set(r["split_losses"]) == {"train", "val", "test"}, name
    # the same model trained two ways, in float32: the losses agree to rounding
    for split, loss in results["manual"]["split_losses"].items():
        assert abs(results["engine"]["split_losses"][split] - loss) < 1e-4, split
    assert [s["step"] for s in report["rss_samples"]] == [0, 100]  # one log line per 100 steps, both backends
    assert "      0/    200: manual " in proc.stdout and " engine " in proc.stdout
    assert {(c["backend"], c["what"]) for c in report["targets"]} == {
        (b, w) for b in ("manual", "engine") for w in ("train loss", "test loss")}  # no time target for 200 steps


@pytest.mark.parametrize(("args", "message"), [
    (["--backend", "manual", "manual"], "lists a backend twice"),
    (["--backend", "manual", "engine", "--progress"], "with several, the log lines show the progress"),
    (["--backend", "manual", "--turn-steps", "10"], "--turn-steps needs several backends"),
])
def test_full_run_refuses_bad_arguments(args, message, tmp_path):
    proc = bench("full_run.py", *args, cwd=tmp_path, ok=False, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


@pytest.mark.parametrize("script", ["full_run.py", "step.py"])
def test_an_unwritable_out_is_refused_before_any_work(script, tmp_path):
    # a directory where the JSON should go: said at once (exit 2), not after minutes of training or timing
    proc = bench(script, "--out", tmp_path, cwd=tmp_path, ok=False, timeout=60)
    assert proc.returncode == 2 and f"--out: {tmp_path}: is a directory" in proc.stderr, proc.stderr


def test_full_run_without_torch_says_how_to_install(tmp_path):
    fake = tmp_path / "no_torch" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no torch here')\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}
    proc = bench("full_run.py", "--backend", "manual", "torch", "--out", tmp_path / "x.json", cwd=tmp_path, env=env,
                 ok=False, timeout=60)
    assert proc.returncode == 2 and "the torch backend needs PyTorch: pip install 'ninjagrad[torch]'" in proc.stderr, \
        proc.stderr


def test_full_run_of_one_backend_has_no_reference(names_path, tmp_path):
    out = tmp_path / "one.json"
    bench("full_run.py", "--steps", 100, "--data", names_path, "--out", out, cwd=tmp_path)
    report = json.loads(out.read_text())
    assert report["backends"] == ["manual"] and report["reference"] is None and report["turn_steps"] is None
    (result,) = report["results"].values()
    assert result["ratio_to_reference"] is None and result["train_seconds"] > 0
    assert 2.0 < result["split_losses"]["val"] < 3.3  # 100 steps from ~3.3 (uniform over 27 is 3.30)


def test_write_json_replaces_a_report_whole_or_not_at_all(tmp_path):
    sys.path.insert(0, str(ROOT))  # bench is a folder of scripts, importable from the project root
    try:
        from bench._common import write_json
    finally:
        sys.path.remove(str(ROOT))
    out = tmp_path / "new" / "report.json"
    assert write_json(out, {"steps": 3}) == out
    assert json.loads(out.read_text()) == {"steps": 3}
    with pytest.raises(TypeError):  # an object JSON cannot hold fails before the old report is touched
        write_json(out, {"steps": object()})
    assert json.loads(out.read_text()) == {"steps": 3}
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.json"]  # no temporary file left behind
