"""Hostile run folders: resume integrity, the default run resuming, divergence, disk full,
a kill during plotting. Messages and exit codes are what a user sees (in-process CLI)."""

import errno
import json
import shutil

import pytest
from hostile import assert_one_line, run_cli, snapshot

from imc import checkpoint

TINY = ["--set", "epochs=2", "--set", "model.hidden=8", "--set", "batch_size=128", "--quiet"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished two-epoch run (built once; each test works on a copy)."""
    from imc.cli import main

    out = tmp_path_factory.mktemp("base") / "run"
    assert main(["train", "-o", str(out), *TINY]) == 0
    return out


@pytest.fixture
def killed(finished, tmp_path):
    """A copy of the run as if killed after its first epoch's checkpoint... rebuilt honestly:
    the finished run minus its summary and plots, with the checkpoint of epoch 1."""
    from imc.cli import main

    run = tmp_path / "run"
    import imc.runner.callbacks as callbacks

    original = callbacks.Progress.on_epoch_end

    def stop_after_first_epoch(self, trainer, metrics):
        original(self, trainer, metrics)
        if trainer.epoch == 1:
            raise KeyboardInterrupt

    callbacks.Progress.on_epoch_end = stop_after_first_epoch
    try:
        assert main(["train", "-o", str(run), *TINY]) == 130
    finally:
        callbacks.Progress.on_epoch_end = original
    assert checkpoint.exists(run) and not (run / "summary.json").exists()
    return run


def test_default_run_is_resumable_after_a_kill_and_matches_an_uninterrupted_run(killed, finished, capsys):
    code, lines, out = run_cli(["train", "--resume", killed, "--quiet"], capsys)
    assert code == 0, lines
    final = json.loads((killed / "summary.json").read_text())
    reference = json.loads((finished / "summary.json").read_text())
    assert final["accuracy"] == reference["accuracy"] and final["steps"] == reference["steps"]
    assert (killed / "metrics.jsonl").read_bytes() == (finished / "metrics.jsonl").read_bytes()


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_zero(tmp_path, finished, capsys, monkeypatch):
    import imc.runner.callbacks as callbacks

    def stop(self, trainer, metrics):
        raise KeyboardInterrupt

    run = tmp_path / "run"
    monkeypatch.setattr(callbacks.Progress, "on_step", stop)
    code, lines, _ = run_cli(["train", "-o", run, *TINY], capsys)
    assert code == 130 and not checkpoint.exists(run)
    monkeypatch.undo()
    code, lines, _ = run_cli(["train", "--resume", run, "--quiet"], capsys)
    assert code == 0, lines  # not "start it again", which would refuse the non-empty folder
    assert (run / "metrics.jsonl").read_bytes() == (finished / "metrics.jsonl").read_bytes()


def _edit_config(run):
    path = run / "config.toml"
    path.write_text(path.read_text().replace("lr = 0.005", "lr = 0.05"))


def _cut_metrics(run, keep):
    path = run / "metrics.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[:keep(len(data))])


def _flip_metrics_byte(run):
    path = run / "metrics.jsonl"
    data = bytearray(path.read_bytes())
    data[10] = ord("9") if data[10] != ord("9") else ord("8")
    path.write_bytes(bytes(data))


def _index(run, change):
    path = run / checkpoint.INDEX
    index = json.loads(path.read_text())
    change(index)
    path.write_text(json.dumps(index))


TAMPER = {
    "config-edited": (_edit_config, "optimizer.lr (0.005 -> 0.05)"),
    "metrics-missing": (lambda run: (run / "metrics.jsonl").unlink(), "metrics.jsonl is missing"),
    "metrics-shortened": (lambda run: _cut_metrics(run, lambda n: n // 3), "metrics were lost"),
    "metrics-empty": (lambda run: _cut_metrics(run, lambda n: 0), "metrics were lost"),
    "metrics-edited": (_flip_metrics_byte, "does not match the checksum"),
    "index-not-json": (lambda run: (run / checkpoint.INDEX).write_text("{"), "damaged"),
    "index-a-list": (lambda run: (run / checkpoint.INDEX).write_text("[1, 2]"), "damaged"),
    "index-format": (lambda run: _index(run, lambda i: i.update(format=99)), "format"),
    "index-escaping-npz": (lambda run: _index(run, lambda i: i.update(npz="../../etc/passwd")), "damaged"),
    "index-bad-step": (lambda run: _index(run, lambda i: i.update(step="x")), "damaged"),
    "npz-missing": (lambda run: [p.unlink() for p in run.glob("checkpoint-*.npz")], "missing"),
    "npz-corrupt": (lambda run: [p.write_bytes(p.read_bytes()[:-7] + b"garbage") for p in run.glob("checkpoint-*.npz")],
                    "checksum"),
    "config-missing": (lambda run: (run / "config.toml").unlink(), "not a run folder"),
    "config-malformed": (lambda run: (run / "config.toml").write_text("epochs = = 2"), "malformed TOML"),
}


@pytest.mark.parametrize("kind", sorted(TAMPER))
def test_resume_refuses_a_tampered_run_and_leaves_it_untouched(killed, capsys, kind):
    tamper, fragment = TAMPER[kind]
    tamper(killed)
    before = snapshot(killed)
    code, lines, _ = run_cli(["train", "--resume", killed], capsys)
    assert_one_line(code, lines, fragment=fragment)
    assert snapshot(killed) == before


def test_a_metrics_file_cut_mid_line_after_the_checkpoint_still_resumes_exactly(killed, finished, capsys):
    with open(killed / "metrics.jsonl", "ab") as handle:
        handle.write(b'{"kind": "step", "step": 99, "lo')  # a line the kill cut short
    code, lines, _ = run_cli(["train", "--resume", killed, "--quiet"], capsys)
    assert code == 0, lines
    assert (killed / "metrics.jsonl").read_bytes() == (finished / "metrics.jsonl").read_bytes()


RESUME_ARGS = [
    lambda run, tmp: ["train", "--resume", tmp / "nowhere"],
    lambda run, tmp: ["train", "--resume", tmp],
    lambda run, tmp: ["train", "--resume", run, "--set", "epochs=3"],
    lambda run, tmp: ["train", "--resume", run, "-o", tmp / "other"],
]


@pytest.mark.parametrize("make", RESUME_ARGS, ids=["missing", "not-a-run", "with-set", "with-output"])
def test_resume_argument_errors(killed, tmp_path, capsys, make):
    before = snapshot(killed)
    code, lines, _ = run_cli(make(killed, tmp_path), capsys)
    assert_one_line(code, lines)
    assert snapshot(killed) == before


def test_resuming_a_finished_run_points_to_report(finished, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    before = snapshot(run)
    code, lines, _ = run_cli(["train", "--resume", run], capsys)
    assert_one_line(code, lines, fragment="imc report")
    assert snapshot(run) == before


def test_divergence_is_a_training_outcome_with_its_own_exit_code(tmp_path, capsys):
    run = tmp_path / "run"
    code, lines, _ = run_cli(["train", "-o", run, *TINY, "--set", "optimizer.lr=1e30"], capsys)
    line = assert_one_line(code, lines, expected_code=3, fragment="at step")
    assert "summary.json" in line
    summary = json.loads((run / "summary.json").read_text())
    step = summary["diverged_at_step"]
    assert summary["status"] == "diverged" and f"at step {step} " in line
    before = snapshot(run)
    code, lines, _ = run_cli(["train", "--resume", run], capsys)
    assert_one_line(code, lines, fragment=f"diverged at step {step}")
    assert snapshot(run) == before


def _disk_full_after(monkeypatch, name_prefix, allowed):
    """Make the atomic writer raise ENOSPC for files named ``name_prefix*`` after ``allowed`` writes."""
    import imc.files as files

    real, count = files._atomic_write, {"n": 0}

    def writer(path, write):
        if path.name.startswith(name_prefix):
            count["n"] += 1
            if count["n"] > allowed:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, write)

    monkeypatch.setattr(files, "_atomic_write", writer)


def test_disk_full_at_a_checkpoint_keeps_the_last_good_one_and_says_how_much_was_needed(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    _disk_full_after(monkeypatch, "checkpoint-", 1)
    code, lines, _ = run_cli(["train", "-o", run, *TINY], capsys)
    line = assert_one_line(code, lines, fragment="the disk is full")
    assert "needed" in line and "free" in line
    _state, step, _meta = checkpoint.load(run)  # the epoch-1 checkpoint is intact
    assert step > 0
    monkeypatch.undo()
    code, lines, _ = run_cli(["train", "--resume", run, "--quiet"], capsys)  # space freed: it finishes
    assert code == 0, lines


def test_disk_full_while_logging_metrics_is_one_line(tmp_path, capsys, monkeypatch):
    import imc.runner.callbacks as callbacks

    class FullHandle:
        def __init__(self, handle):
            self.handle, self.writes = handle, 0

        def write(self, data):
            self.writes += 1
            if self.writes > 5:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.handle.write(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

    real_init = callbacks.MetricsLog.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self.handle = FullHandle(self.handle)

    monkeypatch.setattr(callbacks.MetricsLog, "__init__", init)
    code, lines, _ = run_cli(["train", "-o", tmp_path / "run", *TINY], capsys)
    assert_one_line(code, lines, fragment="metrics.jsonl: the disk is full")


def test_disk_full_in_compare_is_one_line(tmp_path, capsys, monkeypatch):
    _disk_full_after(monkeypatch, "compare", 0)
    code, lines, _ = run_cli(["compare", "--rules", "ideal", "-o", tmp_path / "cmp", *TINY], capsys)
    assert_one_line(code, lines, fragment="the disk is full")


def test_disk_full_in_a_sweep_is_one_line_and_a_rerun_finishes(tmp_path, capsys, monkeypatch):
    import imc.sweep.store as store

    sweep = tmp_path / "s.toml"
    sweep.write_text('name = "s"\n[base]\nepochs = 1\n[axes]\nseed = [0, 1]\n')
    def full(self, row):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.results_path))

    monkeypatch.setattr(store.SweepStore, "append", full)
    code, lines, _ = run_cli(["sweep", sweep, "--out", tmp_path / "out", "--workers", "1", "--quiet"], capsys)
    assert_one_line(code, lines, fragment="the disk is full")
    monkeypatch.undo()
    code, lines, out = run_cli(["sweep", sweep, "--out", tmp_path / "out", "--workers", "1", "--quiet"], capsys)
    assert code == 0, lines
    assert "2 done now" in out


def test_a_kill_during_plotting_is_repaired_by_imc_report(tmp_path, capsys, monkeypatch):
    import imc.report.plots as plots

    run = tmp_path / "run"
    real_save = plots._save
    calls = {"n": 0}

    def killed_mid_plotting(fig, path, *identity):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real_save(fig, path, *identity)

    monkeypatch.setattr(plots, "_save", killed_mid_plotting)
    code, _lines, _ = run_cli(["train", "-o", run, *TINY], capsys)
    assert code == 130
    assert plots.missing_plots(run) and not list((run / "plots").glob(".*.tmp"))
    monkeypatch.undo()
    code, lines, out = run_cli(["report", run], capsys)
    assert code == 0, lines
    assert plots.missing_plots(run) == []
    code, lines, out = run_cli(["report", run, "--missing"], capsys)
    assert code == 0 and "nothing redrawn" in out


REPORT_CASES = ["missing", "not-a-run", "unfinished", "summary-damaged", "metrics-cut"]


@pytest.mark.parametrize("kind", REPORT_CASES)
def test_report_refuses_what_it_cannot_draw(finished, killed, tmp_path, capsys, kind):
    run = tmp_path / "copy"
    if kind == "missing":
        run = tmp_path / "nowhere"
    elif kind == "not-a-run":
        run.mkdir()
    elif kind == "unfinished":
        run = killed
    else:
        shutil.copytree(finished, run)
        if kind == "summary-damaged":
            (run / "summary.json").write_text("{")
        else:
            data = (run / "metrics.jsonl").read_bytes()
            (run / "metrics.jsonl").write_bytes(data[: len(data) // 2 + 7])
    before = snapshot(run)
    code, lines, _ = run_cli(["report", run], capsys)
    assert_one_line(code, lines)
    assert snapshot(run) == before
