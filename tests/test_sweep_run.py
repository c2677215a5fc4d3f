"""Running sweeps on Dask with a cheap fake point function: failures, skips, the folder's rows."""

import json
import os
import socket

import pytest

from imc.sweep import SchedulerUnreachable, SweepStore, run_sweep, sweep_from_dict
from imc.sweep.execute import run_point

distributed = pytest.importorskip("distributed")


def fake_point(config, run_dir):
    """Deterministic 'training': a number from the config; k = 1.5 raises."""
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text("{}")
    k = config["rule"]["k"]
    if k == 1.5:
        raise ValueError(f"cannot train with k={k}")
    return {"final_accuracy": 0.9 - 0.1 * k + 0.01 * config["seed"], "writes": int(100 * k)}


def dies_at_k_1(config, run_dir):
    """A point that takes its worker process down (a segfault or the OOM killer, say)."""
    if config["rule"]["k"] == 1.0:
        os._exit(3)
    return {"final_accuracy": 0.5}


def never_fails(config, run_dir):
    return {"final_accuracy": 0.5, "writes": 1}


@pytest.fixture(scope="module")
def scheduler():
    """One small local cluster (two worker processes) shared by this module's tests.

    A task that kills its worker is given up at once (not retried three times), so the
    test of a dying point stays short.
    """
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0", silence_logs=50
    ) as cluster:
        yield cluster.scheduler_address


def k_sweep(ks=(0.5, 1.0, 1.5), seeds=(0, 1)):
    return sweep_from_dict({"base": {"epochs": 1}, "axes": {"rule.k": list(ks), "seed": list(seeds)}}, source="k")


def test_a_failing_point_is_recorded_and_the_others_complete(tmp_path, scheduler):
    sweep = k_sweep()
    outcome = run_sweep(sweep, tmp_path / "s", scheduler=scheduler, point_fn=fake_point, progress=False,
                        on_failure=lambda message: None)
    assert (outcome.total, outcome.ok, outcome.failed, outcome.skipped) == (6, 4, 2, 0)
    rows = SweepStore(tmp_path / "s").rows()
    assert set(rows) == {p.point_id for p in sweep.points}
    for point in sweep.points:
        row = rows[point.point_id]
        assert row["params"] == point.params and row["index"] == point.index
        if point.params["rule.k"] == 1.5:
            assert row["status"] == "failed" and row["error"] == "ValueError: cannot train with k=1.5"
            assert "Traceback" in row["traceback"]
        else:
            assert row["status"] == "ok" and row["error"] is None
            expected = 0.9 - 0.1 * point.params["rule.k"] + 0.01 * point.params["seed"]
            assert row["summary"]["final_accuracy"] == pytest.approx(expected)
            assert (tmp_path / "s" / row["run_dir"] / "summary.json").is_file()
    csv_lines = (tmp_path / "s" / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("point_id,index,status,rule.k,seed,final_accuracy,writes")
    assert len(csv_lines) == 7 and sum(",failed," in line for line in csv_lines) == 2
    plan = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert plan["axes"] == {"rule.k": [0.5, 1.0, 1.5], "seed": [0, 1]} and len(plan["points"]) == 6


def test_rerun_skips_recorded_points_and_retry_failed_reruns_failures(tmp_path, scheduler):
    out = tmp_path / "s"
    run_sweep(k_sweep(), out, scheduler=scheduler, point_fn=fake_point, progress=False, on_failure=lambda m: None)
    before = (out / "results.jsonl").read_text()
    again = run_sweep(k_sweep(), out, scheduler=scheduler, point_fn=never_fails, progress=False)
    assert (again.ok, again.failed, again.skipped, again.skipped_failed) == (0, 0, 6, 2)
    assert (out / "results.jsonl").read_text() == before  # nothing ran, nothing written

    retried = run_sweep(k_sweep(), out, scheduler=scheduler, point_fn=never_fails, progress=False, retry_failed=True)
    assert (retried.ok, retried.failed, retried.skipped, retried.skipped_failed) == (2, 0, 4, 0)
    rows = SweepStore(out).rows()
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows.values())
    assert len((out / "results.jsonl").read_text().splitlines()) == 8  # appended, never rewritten


def test_widening_an_axis_runs_only_the_new_points(tmp_path, scheduler):
    out = tmp_path / "s"
    run_sweep(k_sweep(ks=(0.5,)), out, scheduler=scheduler, point_fn=fake_point, progress=False)
    wider = run_sweep(k_sweep(ks=(0.5, 1.0)), out, scheduler=scheduler, point_fn=fake_point, progress=False)
    assert (wider.ok, wider.skipped) == (2, 2)


def test_a_folder_holding_another_sweep_is_refused(tmp_path, scheduler):
    out = tmp_path / "s"
    run_sweep(k_sweep(ks=(0.5,)), out, scheduler=scheduler, point_fn=fake_point, progress=False)
    other = sweep_from_dict({"base": {"epochs": 1}, "axes": {"seed": [0, 1]}}, source="other")
    with pytest.raises(ValueError, match="holds another sweep"):
        run_sweep(other, out, scheduler=scheduler, point_fn=fake_point, progress=False)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a sweep folder"):
        run_sweep(other, tmp_path / "notes", scheduler=scheduler, point_fn=fake_point, progress=False)
    assert [p.name for p in (tmp_path / "notes").iterdir()] == ["todo.txt"]
    with pytest.raises(ValueError, match="is a file, not a folder"):
        run_sweep(other, tmp_path / "notes" / "todo.txt", scheduler=scheduler, point_fn=fake_point, progress=False)


def test_an_unanswering_scheduler_is_a_clear_error_and_writes_nothing(tmp_path):
    with socket.socket() as sock:  # a localhost port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SchedulerUnreachable, match=rf"no Dask scheduler answered at tcp://127.0.0.1:{port} within 1 s"):
        run_sweep(k_sweep(), tmp_path / "s", scheduler=f"tcp://127.0.0.1:{port}", connect_timeout=1, point_fn=fake_point)
    assert not (tmp_path / "s").exists()


def test_a_scheduler_without_workers_is_a_clear_error(tmp_path):
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address="127.0.0.1:0") as cluster:
        with pytest.raises(SchedulerUnreachable, match="has no workers after 1 s; start some with `dask worker"):
            run_sweep(k_sweep(), tmp_path / "s", scheduler=cluster.scheduler_address, connect_timeout=1,
                      point_fn=fake_point)
    assert not (tmp_path / "s").exists()


def test_run_point_turns_exceptions_and_bad_returns_into_rows(tmp_path):
    def returns_list(config, run_dir):
        return [1]

    stale = tmp_path / "p"
    stale.mkdir()
    (stale / "half-written.npz").write_text("x")
    outcome = run_point(returns_list, {}, str(stale))
    assert outcome["status"] == "failed" and "expected a dict" in outcome["error"]
    assert not (stale / "half-written.npz").exists()  # an interrupted attempt's folder is cleared

    def numpy_summary(config, run_dir):
        import numpy as np

        return {"acc": np.float32(0.5), "n": np.int64(3), "bad": float("nan"), "nested": {"e": np.float64(2.0)}}

    outcome = run_point(numpy_summary, {}, str(tmp_path / "q"))
    assert outcome["summary"] == {"acc": 0.5, "n": 3, "bad": None, "nested": {"e": 2.0}}
    json.dumps(outcome)


def test_store_ignores_and_repairs_a_torn_last_row(tmp_path):
    store = SweepStore(tmp_path)
    store.append({"point_id": "a", "index": 0, "status": "ok", "params": {}, "summary": {"x": 1}})
    with open(store.results_path, "a") as handle:
        handle.write('{"point_id": "b", "ind')  # a crash mid-write
    with pytest.warns(UserWarning, match="unfinished last line"):
        assert list(store.rows()) == ["a"]
    store.append({"point_id": "c", "index": 2, "status": "ok", "params": {}, "summary": {"x": 3}})
    assert list(store.rows()) == ["a", "c"]
    assert store.results_path.read_text().count("\n") == 2


def test_a_csv_left_behind_by_a_crash_catches_up_with_the_rows(tmp_path):
    sweep = k_sweep(ks=(0.5,))
    store = SweepStore(tmp_path / "s")
    store.write_plan(sweep.plan())
    for point in sweep.points:  # rows appended, then a crash before the CSV was rewritten
        store.append({"point_id": point.point_id, "index": point.index, "status": "ok", "params": point.params,
                      "summary": {"final_accuracy": 0.5}})
    outcome = run_sweep(sweep, store.root, point_fn=fake_point, progress=False)  # nothing to run: no cluster
    assert (outcome.skipped, outcome.ok) == (2, 0)
    assert len(store.csv_path.read_text().splitlines()) == 3


def test_a_point_that_kills_its_worker_is_recorded_as_failed(tmp_path, scheduler):
    messages = []
    outcome = run_sweep(k_sweep(ks=(0.5, 1.0), seeds=(0,)), tmp_path / "s", scheduler=scheduler,
                        point_fn=dies_at_k_1, progress=False, on_failure=messages.append)
    assert (outcome.ok, outcome.failed) == (1, 1)
    failed = [r for r in SweepStore(tmp_path / "s").rows().values() if r["status"] == "failed"]
    assert failed[0]["params"] == {"rule.k": 1.0, "seed": 0} and failed[0]["error"].startswith("KilledWorker")
    assert messages == [f"point 1 (rule.k=1.0, seed=0) failed: {failed[0]['error']}"]


def test_progress_off_a_terminal_is_a_line_per_point(tmp_path, scheduler, capsys):
    sweep = k_sweep(ks=(0.5,), seeds=(0, 1))
    run_sweep(sweep, tmp_path / "s", scheduler=scheduler, point_fn=never_fails, progress=True)
    err = capsys.readouterr().err  # captured: not a terminal, so lines instead of a bar
    lines = [line for line in err.splitlines() if line.startswith("sweep: point ")]
    assert [line.split()[2] for line in lines] == ["1/2", "2/2"] and all(" ok (rule.k=0.5, seed=" in x for x in lines)
    run_sweep(sweep, tmp_path / "q", scheduler=scheduler, point_fn=never_fails, progress=False)
    assert "point" not in capsys.readouterr().err
