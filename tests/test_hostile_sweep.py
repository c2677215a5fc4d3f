"""Hostile sweeps: losing the Dask scheduler mid-sweep is infrastructure loss, not a point failure."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imc.cli import main
from imc.sweep import SchedulerLost, SweepStore, execute, run_sweep, sweep_from_dict

distributed = pytest.importorskip("distributed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args) -> subprocess.Popen:
    dask = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(dask), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


@pytest.fixture
def doomed_scheduler():
    """A real scheduler and one single-threaded worker in their own processes; (address, pid)."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"])
    worker = _start(["worker", address, "--nthreads", "1", "--no-dashboard", "--name", "w0"])
    try:
        yield address, scheduler.pid
    finally:
        for proc in (worker, scheduler):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)


def seeds_sweep(n=4):
    return sweep_from_dict({"base": {"epochs": 1}, "axes": {"seed": list(range(n))}}, source="lost")


def test_losing_the_scheduler_keeps_finished_points_and_a_rerun_finishes_the_rest(tmp_path, doomed_scheduler,
                                                                                   monkeypatch, capsys):
    address, pid = doomed_scheduler

    def point(config, run_dir):  # pickled by value: the scheduler and the worker can load it
        if config["seed"] == 2:
            os.kill(pid, signal.SIGKILL)  # the scheduler dies while this point runs
            time.sleep(30)
        return {"accuracy": 0.5 + config["seed"] / 100}

    sweep_file = tmp_path / "lost.toml"
    sweep_file.write_text('name = "lost"\n[base]\nepochs = 1\n[axes]\nseed = [0, 1, 2, 3]\n')
    out = tmp_path / "s"
    real_run_sweep = execute.run_sweep
    monkeypatch.setattr("imc.sweep.run_sweep", lambda *a, **k: real_run_sweep(*a, **{**k, "point_fn": point}))
    start = time.monotonic()
    code = main(["sweep", str(sweep_file), "--out", str(out), "--scheduler", address, "--timeout", "20", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == SchedulerLost.exit_code == 75
    assert len(err.splitlines()) == 1, err
    assert "lost the Dask scheduler" in err and "run the same command again" in err
    assert time.monotonic() - start < 25  # reported at once, not after reconnect attempts
    rows = SweepStore(out).rows()
    assert {r["status"] for r in rows.values()} <= {"ok"}  # nothing recorded as failed
    assert len(rows) < 4

    monkeypatch.setattr("imc.sweep.run_sweep", lambda *a, **k: real_run_sweep(
        *a, **{**k, "point_fn": lambda c, d: {"accuracy": 0.5 + c["seed"] / 100}}))
    code = main(["sweep", str(sweep_file), "--out", str(out), "--workers", "1", "--quiet"])
    assert code == 0, capsys.readouterr().err
    rows = SweepStore(out).rows()
    assert sorted(r["params"]["seed"] for r in rows.values()) == [0, 1, 2, 3]
    assert {r["status"] for r in rows.values()} == {"ok"}


def test_a_cancelled_future_is_scheduler_loss_and_a_worker_death_is_not():
    from concurrent.futures import CancelledError

    class Client:
        status = "running"

    assert execute._scheduler_lost(Client(), CancelledError("scheduler-connection-lost"))
    assert not execute._scheduler_lost(Client(), RuntimeError("KilledWorker"))
    Client.status = "closed"
    assert execute._scheduler_lost(Client(), RuntimeError("anything"))


def test_run_sweep_raises_scheduler_lost(tmp_path, doomed_scheduler):
    address, pid = doomed_scheduler

    def point(config, run_dir):
        if config["seed"] == 0:
            os.kill(pid, signal.SIGKILL)
            time.sleep(30)
        return {"accuracy": 0.5}

    with pytest.raises(SchedulerLost, match="4 unfinished point"):
        run_sweep(seeds_sweep(), tmp_path / "s", scheduler=address, connect_timeout=20, point_fn=point, progress=False)
    assert SweepStore(tmp_path / "s").rows() == {}
