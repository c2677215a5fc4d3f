"""`imc train` and `imc config show`: run folders, summaries, and bad input (exit 2, one line)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from imc.cli import main
from imc.config import default_config, from_dict, load_config, to_dict

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PLOTS = {"curves.png", "update_ratio.png", "cumulative_writes.png", "energy.png", "cell_writes.png"}
SMALL = "[optimizer]\nname = 'sgd'\nlr = 0.05\nmomentum = 0.9\n"


def write(path, text):
    path.write_text(text)
    return path


def test_default_train_writes_a_complete_run_folder(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--quiet", "--output", str(run)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "update ratio" in out and str(run) in out
    assert {"config.toml", "metrics.jsonl", "summary.json", "checkpoint.json"} <= set(os.listdir(run))
    assert set(os.listdir(run / "plots")) == PLOTS
    assert load_config(run / "config.toml") == from_dict(tomllib.loads((run / "config.toml").read_text()))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metric"] == "accuracy" and summary["accuracy"] > 0.9  # EaPU trains the default well
    assert 0 < summary["update_ratio_mean"] < 0.05 and summary["write_events"] > 0
    assert 0 < summary["energy_array_j"] < summary["energy_chip_j"] < summary["energy_system_j"]
    assert summary["lifetime_worst_cell"] > 0 and summary["warnings"] == []
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in lines if r["kind"] == "step"]
    epochs = [r for r in lines if r["kind"] == "epoch"]
    assert len(steps) == summary["steps"] and len(epochs) == default_config().epochs
    assert [r["step"] for r in steps] == list(range(1, summary["steps"] + 1))


def test_existing_run_folder_is_never_overwritten(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("mine")
    assert main(["train", "--quiet", "--output", str(run)]) == 2
    err = capsys.readouterr().err
    assert "already exists and is not empty" in err and err.count("\n") == 1
    assert os.listdir(run) == ["keep.txt"]


def test_config_show_prints_resolved_loadable_toml(tmp_path, capsys):
    assert main(["config", "show", "--set", "rule.k=1.5", "--set", "epochs=4"]) == 0
    shown = tomllib.loads(capsys.readouterr().out)
    assert shown["rule"]["k"] == 1.5 and "native" in shown["rule"]  # the rule's own defaults too
    assert "threshold_us" not in shown["rule"]  # None defaults are absent: TOML has no null
    assert shown["backend"]["preset"] == "eapu-paper" and shown["epochs"] == 4
    assert shown["optimizer"]["weight_decay"] == 0.0  # defaults filled in
    cfg = from_dict(shown)
    assert cfg.rule.params["k"] == 1.5
    assert main(["config", "show", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["task"]["name"] == "digits"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("epochs = 2\nseed = = 1\n", "malformed TOML"),
        ("epochs = 2\nseed = = 1\n", "line 2"),
        ("[rule]\nname = 'eapu'\nkk = 1.0\n", "unknown config key 'rule.kk'; did you mean 'rule.k'?"),
        ("epochs = 'ten'\n", "epochs: must be an integer"),
        ("[backend.overrides]\nwrite_noise_us = -1.0\n", "write_noise_us must be >= 0"),
        ("[backend]\nr_wg_per_us = -1.0\n", "(weight per uS"),
        ("[task]\nname = 'npz'\npath = 'missing.npz'\n", "data file not found"),
        ("[task]\nname = 'images'\npath = 'nowhere'\n", "image folder not found"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, text, fragment):
    cfg = write(tmp_path / "cfg.toml", text)
    run = tmp_path / "out" / "run"
    assert main(["train", str(cfg), "--quiet", "--output", str(run)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and err.startswith("imc train: error:")
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["train", "--quiet", "--output", str(blocker / "run")]) == 2
    err = capsys.readouterr().err
    assert "cannot create run folder" in err and err.count("\n") == 1
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_output_folder(tmp_path, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        assert main(["train", "--quiet", "--output", str(parent / "run")]) == 2
        assert "permission denied" in capsys.readouterr().err
        assert os.listdir(parent) == []
    finally:
        parent.chmod(0o700)


def test_cli_subprocess_prints_no_traceback(tmp_path):
    cfg = write(tmp_path / "cfg.toml", "[task]\nname = 'digits'\ntest_fractoin = 0.3\n")
    proc = subprocess.run(
        [sys.executable, "-m", "imc.cli", "train", str(cfg), "--output", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "did you mean 'task.test_fraction'" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_denoise_run_writes_example_images(tmp_path, capsys):
    cfg = write(
        tmp_path / "dn.toml",
        "epochs = 1\nbatch_size = 16\n[task]\nname = 'denoise'\npatches = 32\ntest_size = 32\n"
        "[model]\nname = 'dncnn'\ndepth = 2\nchannels = 4\n[optimizer]\nname = 'adam'\nlr = 0.001\n",
    )
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--quiet", "--output", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["metric"] == "psnr" and np.isfinite(summary["psnr"])
    assert summary["baseline"]["noisy_psnr_db"] > 15
    assert (run / "examples.png").stat().st_size > 0 and set(os.listdir(run / "plots")) == PLOTS
    assert "test psnr" in capsys.readouterr().out


def test_superres_run(tmp_path):
    cfg = write(
        tmp_path / "sr.toml",
        "epochs = 1\nbatch_size = 16\n[task]\nname = 'superres'\npatches = 32\ntest_size = 32\n"
        "[model]\nname = 'srnet'\nchannels = 4\n[optimizer]\nname = 'adam'\nlr = 0.001\n",
    )
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--quiet", "--output", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["task"] == "superres" and "bicubic_psnr_db" in summary["baseline"]
    assert (run / "examples.png").is_file()


def test_user_npz_and_image_folder_tasks_train(tmp_path):
    from skimage.io import imsave

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 30)
    x = rng.normal(size=(90, 10)).astype(np.float32) * 0.3 + labels[:, None] * 0.5
    np.savez(tmp_path / "mine.npz", x=x, y=labels)
    write(tmp_path / "npz.toml", "epochs = 2\n[task]\nname = 'npz'\npath = 'mine.npz'\n" + SMALL)
    assert main(["train", str(tmp_path / "npz.toml"), "--quiet", "--output", str(tmp_path / "r1")]) == 0
    assert json.loads((tmp_path / "r1" / "summary.json").read_text())["task"] == "npz"

    for label, level in (("a", 40), ("b", 200)):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(6):
            image = np.clip(level + rng.normal(size=(12, 12)) * 10, 0, 255).astype(np.uint8)
            imsave(tmp_path / "imgs" / label / f"{i}.png", image, check_contrast=False)
    write(tmp_path / "img.toml", "epochs = 2\n[task]\nname = 'images'\npath = 'imgs'\nsize = 8\n[model]\nname = 'cnn'\n" + SMALL)
    assert main(["train", str(tmp_path / "img.toml"), "--quiet", "--output", str(tmp_path / "r2")]) == 0
    summary = json.loads((tmp_path / "r2" / "summary.json").read_text())
    assert summary["model"] == "cnn" and summary["accuracy"] is not None


def test_classifier_model_on_image_task_is_a_clear_error(tmp_path, capsys):
    cfg = write(tmp_path / "c.toml", "[task]\nname = 'denoise'\npatches = 8\n[model]\nname = 'mlp'\n")
    assert main(["train", str(cfg), "--quiet", "--output", str(tmp_path / "run")]) == 2
    assert "use dncnn or srnet" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_round_trip_of_default_through_run_folder(tmp_path):
    cfg = default_config()
    assert from_dict(to_dict(cfg)) == cfg


@pytest.mark.gpu
def test_gpu_run_matches_cpu_quality(tmp_path):
    """The same config on cupy trains as well as on numpy (not bit-identical: other generators)."""
    assert main(["train", "--quiet", "--set", "epochs=5", "--output", str(tmp_path / "cpu")]) == 0
    assert main(["train", "--quiet", "--set", "epochs=5", "--set", "compute='gpu'", "--output", str(tmp_path / "gpu")]) == 0
    cpu = json.loads((tmp_path / "cpu" / "summary.json").read_text())
    gpu = json.loads((tmp_path / "gpu" / "summary.json").read_text())
    assert abs(cpu["accuracy"] - gpu["accuracy"]) < 0.05
    assert 0.2 < gpu["write_events"] / cpu["write_events"] < 5


def test_gpu_without_cupy_is_a_clear_error(tmp_path, capsys):
    from imc.compute import gpu_available

    if gpu_available():
        pytest.skip("a GPU is present here")
    assert main(["train", "--quiet", "--set", "compute=gpu", "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "compute: compute 'gpu'" in err and "cupy" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_cosine_schedule_anneals_the_learning_rate():
    from imc.optim import make_optimizer
    from imc.runner import LearningRateSchedule

    opt = make_optimizer("adam", lr=0.002)
    schedule = LearningRateSchedule(opt, "cosine", total_steps=100)
    assert schedule.lr_at(0) == pytest.approx(0.002)
    assert schedule.lr_at(50) == pytest.approx(0.001)
    assert schedule.lr_at(100) == pytest.approx(0.0) and schedule.lr_at(150) == pytest.approx(0.0)
    schedule.apply(25)
    assert opt.lr == pytest.approx(0.002 * (1 + np.cos(np.pi / 4)) / 2)
    constant = LearningRateSchedule(make_optimizer("sgd", lr=0.1), "constant", total_steps=10)
    assert constant.lr_at(9) == 0.1


def test_cosine_schedule_reduces_late_writes(tmp_path):
    """With the learning rate annealed, EaPU writes fewer cells in the last epoch."""
    runs = {}
    for schedule in ("constant", "cosine"):
        run = tmp_path / schedule
        assert main(["train", "--quiet", "--set", "epochs=4", "--set", f"lr_schedule={schedule}", "--output", str(run)]) == 0
        history = json.loads((run / "summary.json").read_text())["history"]
        runs[schedule] = history[-1]["update_ratio_epoch"]
    assert runs["cosine"] < 0.5 * runs["constant"]


def test_train_run_without_plots_writes_the_same_summary_and_no_pngs(tmp_path):
    from imc.config import apply_overrides
    from imc.runner import train_run

    cfg = apply_overrides(default_config(), {"epochs": 1})
    with_plots = train_run(cfg, tmp_path / "a")
    without = train_run(cfg, tmp_path / "b", plots=False)
    assert without == with_plots
    assert (tmp_path / "a" / "plots").is_dir() and not (tmp_path / "b" / "plots").exists()


def test_progress_off_a_terminal_is_one_line_per_epoch_and_quiet_silences_it(tmp_path, capsys):
    args = ["train", "--set", "epochs=2", "--set", "rule.name=original", "--set", "batch_size=128"]
    assert main([*args, "--output", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out  # captured: not a terminal, so lines instead of a bar
    lines = [line for line in out.splitlines() if line.startswith("digits-mlp-original: epoch")]
    assert len(lines) == 2, out
    assert "epoch 2 done, step" in lines[1] and "loss " in lines[1] and "accuracy 0." in lines[1]
    assert lines[1].endswith(" s") and "\r" not in out
    assert main([*args, "--quiet", "--output", str(tmp_path / "b")]) == 0
    assert "epoch 1" not in capsys.readouterr().out


def test_every_run_plot_names_its_run(tmp_path, capsys):
    from PIL import Image

    run = tmp_path / "run"
    assert main(["train", "--quiet", "--set", "epochs=2", "--set", "rule.name=original", "--output", str(run)]) == 0
    for name in PLOTS:
        title = Image.open(run / "plots" / name).info.get("Title", "")
        assert title == "digits-mlp-original: digits / mlp on memristor:eapu-paper, rule original, seed 0", name
