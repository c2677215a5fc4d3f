"""`imc sweep` end to end: bad input, a sweep killed part way and resumed, the report."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imc.cli import main

TINY_BASE = """
[base]
epochs = 1
batch_size = 64
[base.task]
name = "digits"
test_fraction = 0.5
[base.model]
name = "mlp"
hidden = 16
[base.optimizer]
name = "sgd"
lr = 0.1
momentum = 0.9
"""


def write_sweep(folder: Path, axes: str, name: str = "tiny") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'name = "{name}"\n{TINY_BASE}\n[axes]\n{axes}\n')
    return path


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("axes", "message"),
    [
        ('"rule.kk" = [0.5, 1.0]', "unknown config key 'rule.kk'; did you mean 'rule.k'?"),
        ('"backend.overrides.write_nosie_us" = [1.0]', "did you mean 'backend.overrides.write_noise_us'?"),
        ("seed = []", "axis 'seed' is empty; give it at least one value"),
    ],
)
def test_bad_axes_exit_2_with_one_line_and_no_folder(tmp_path, capsys, axes, message):
    path = write_sweep(tmp_path, axes)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("imc sweep: error: ") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_dead_scheduler_exits_2_within_the_timeout_and_writes_nothing(tmp_path, capsys):
    path = write_sweep(tmp_path, "seed = [0, 1]")
    port = closed_port()
    code = main(["sweep", str(path), "--out", str(tmp_path / "out"), "--scheduler", f"tcp://127.0.0.1:{port}", "--timeout", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"no Dask scheduler answered at tcp://127.0.0.1:{port} within 1 s" in err and "dask scheduler" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "0"], "--workers must be at least 1"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "has its own workers"),
        (["--timeout", "0"], "--timeout must be > 0"),
        (["--metrics", "x"], "--metrics belongs to `imc sweep report"),
    ],
)
def test_bad_options(tmp_path, capsys, args, message):
    path = write_sweep(tmp_path, "seed = [0]")
    assert main(["sweep", str(path), *args]) == 2
    assert message in capsys.readouterr().err


def test_dry_run_lists_points_without_running(tmp_path, capsys):
    path = write_sweep(tmp_path, '"rule.name" = ["original", "eapu"]\nseed = {start = 0, stop = 1}')
    assert main(["sweep", str(path), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("sweep 'tiny' (product): 4 points")
    assert "rule.name='eapu', seed=1" in out[-1]
    assert "  seed: 2 values: 0, 1" in out  # the inclusive range, spelled out before running
    assert not (tmp_path / "out").exists()


def rows(folder: Path) -> list[dict]:
    path = folder / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def comparable(summary: dict) -> dict:
    """A summary without its wall-clock timings, which differ between identical runs."""
    return {k: comparable(v) if isinstance(v, dict) else v for k, v in summary.items() if "second" not in k and k != "run_dir"}


@pytest.mark.slow
def test_killed_sweep_resumes_to_the_same_results_as_a_clean_run(tmp_path, capsys):
    # six points on two workers: the poll below sees the first row while several are still
    # to come, even on a loaded machine where the poller is scheduled late
    path = write_sweep(tmp_path, '"rule.name" = ["original", "eapu"]\nseed = [0, 1, 2]')
    total = 6
    cli = [sys.executable, "-m", "imc.cli", "sweep", str(path), "--workers", "2", "--quiet"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cli, "--out", str(killed)], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while not rows(killed) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI, its cluster and its workers at once
        output = proc.communicate()[0].decode(errors="replace")
    first = rows(killed)
    assert 1 <= len(first) < total, f"the kill should land mid-sweep; got {len(first)} rows\n{output}"

    resumed = subprocess.run([*cli, "--out", str(killed)], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{total - len(first)} done now, 0 failed now, {len(first)} already recorded" in resumed.stdout
    clean = subprocess.run([*cli, "--out", str(tmp_path / "clean")], capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr

    after, reference = rows(killed), rows(tmp_path / "clean")
    ids = [r["point_id"] for r in after]
    assert len(ids) == len(set(ids)) == total  # every point exactly once
    assert after[: len(first)] == first  # finished rows were kept as they were
    by_id = {r["point_id"]: r for r in reference}
    assert set(by_id) == set(ids)
    for row in after:
        assert row["status"] == "ok"
        assert row["params"] == by_id[row["point_id"]]["params"]
        assert comparable(row["summary"]) == comparable(by_id[row["point_id"]]["summary"])
        assert (killed / row["run_dir"]).is_dir()
    csv_lines = (killed / "results.csv").read_text().splitlines()
    assert len(csv_lines) == total + 1  # header and one line per point

    assert main(["sweep", "report", str(killed)]) == 0  # the report reads the real summaries
    out = capsys.readouterr().out
    for metric in ("accuracy", "update_ratio_mean", "write_events", "energy_system_j"):
        assert f"  {metric}" in out
    assert "metrics: mean ± std over seed" in out
    assert "vs_rule.name.png" in out and (killed / "report" / "vs_rule.name.png").is_file()


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_exit_130_and_keeps_finished_points(tmp_path):
    path = write_sweep(tmp_path, '"rule.name" = ["original", "eapu"]\nseed = [0, 1, 2, 3, 4, 5]')
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "imc.cli", "sweep", str(path), "--workers", "2", "--quiet", "--out", str(out)],
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # as from a terminal: a test run started in the background (no job control) inherits SIGINT
        # ignored, and a child that ignores it would never see the Ctrl-C this test sends
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 240
        while not rows(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's process group
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    kept = rows(out)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "run the same command to continue" in stderr
    assert 1 <= len(kept) < 12 and all(r["status"] == "ok" for r in kept)
    assert len((out / "results.csv").read_text().splitlines()) == len(kept) + 1
