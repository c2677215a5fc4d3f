"""Resume: a training process killed with SIGKILL and resumed ends exactly like an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from imc.cli import main

CONFIG = """\
name = "resume-test"
epochs = 4
batch_size = 16
lr_schedule = "cosine"    # the learning rate depends on the step: resume must restore it too
[model]
name = "mlp"
hidden = 32
[optimizer]
name = "sgd"
lr = 0.01
momentum = 0.9
[rule]
name = "eapu"
"""


def _train(args, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "imc.cli", "train", *args, "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )


def _records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(CONFIG)
    killed, clean = tmp_path / "killed", tmp_path / "clean"

    proc = _train([str(cfg), "--output", str(killed), "--checkpoint-every", "25"])
    deadline = time.monotonic() + 120
    while not (killed / "checkpoint.json").exists():
        assert proc.poll() is None, f"training ended before its first checkpoint: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "summary.json").exists(), "the run finished before it was killed"
    stopped_at = json.loads((killed / "checkpoint.json").read_text())["step"]

    resumed = _train(["--resume", str(killed)])
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    reference = _train([str(cfg), "--output", str(clean), "--checkpoint-every", "25"])
    _, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err

    a = json.loads((killed / "summary.json").read_text())
    b = json.loads((clean / "summary.json").read_text())
    assert a == b  # every metric, the ledger (writes, energy, wear histogram) and the history
    assert _records(killed) == _records(clean)  # the lost steps were dropped and redone
    assert 0 < stopped_at < a["steps"]


def _small_run(tmp_path, capsys):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(CONFIG.replace("epochs = 4", "epochs = 1").replace('lr_schedule = "cosine"', 'lr_schedule = "constant"'))
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--quiet", "--output", str(run)]) == 0
    capsys.readouterr()
    return run


def test_resume_refuses_finished_or_foreign_folders(tmp_path, capsys):
    run = _small_run(tmp_path, capsys)
    assert main(["train", "--resume", str(run)]) == 2
    assert "already finished" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    assert main(["train", "--resume", str(other)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--set", "epochs=3"]) == 2
    assert "drop CONFIG" in capsys.readouterr().err


def test_in_process_resume_from_a_mid_run_checkpoint(tmp_path, capsys):
    """Finishing from an earlier checkpoint reproduces the same summary (no subprocess)."""
    from imc import checkpoint
    from imc.config import load_config
    from imc.runner import Run, train_run

    run = _small_run(tmp_path, capsys)
    expected = json.loads((run / "summary.json").read_text())
    cfg = load_config(run / "config.toml")
    partial = Run(cfg)  # the state after 10 steps, as a killed run would have saved it
    x, y = partial.train
    order = partial.trainer.batch_order(0, len(x))
    for step in range(10):
        idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
        partial.trainer.train_step(x[idx], y[idx], 0)
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    (run / "metrics.jsonl").write_text("".join(lines[:10]) + '{"kind": "step", "partial": tru')  # killed mid-line
    (run / "summary.json").unlink()
    checkpoint.save(run, {"trainer": partial.trainer.state()}, 10, {"metrics_bytes": len("".join(lines[:10]).encode())})
    summary = train_run(None, run, resume=True)
    assert summary == expected
    assert (run / "metrics.jsonl").read_text().splitlines(keepends=True) == lines
