"""imc.plot: every function returns a Figure with its axes, units and identity; the CLI's PNGs
are those same figures (byte for byte); zero values stay visible on log axes."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from matplotlib.figure import Figure

import imc.plot as iplot
from imc.cli import main
from imc.config import apply_overrides, default_config

TINY = {"epochs": 1, "model.hidden": 8, "batch_size": 128}
TINY_ARGS = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
IDENTITY = "digits-mlp-eapu: digits / mlp on memristor:eapu-paper, rule eapu, seed 0"


def png_title(data: bytes) -> str:
    from PIL import Image

    return Image.open(io.BytesIO(data)).info.get("Title", "")


def all_text(fig: Figure) -> str:
    """Every piece of text drawn on the figure (titles, labels, tick labels, annotations)."""
    from matplotlib.text import Text

    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    return "\n".join(t.get_text() for t in fig.findobj(Text))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("plot") / "run"
    assert main(["train", "--quiet", *TINY_ARGS, "--output", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def session():
    """The same tiny run trained in Python (no folder): an imc.runner.Run after fit."""
    from imc.runner import Run

    run = Run(apply_overrides(default_config(), TINY))
    result = run.trainer.fit(run.train, run.test, epochs=1)
    return run, result


RUN_FUNCTIONS = {
    "curves.png": (iplot.plot_curves, [("step (optimisation steps)", "loss"), ("epoch", "test accuracy (%)")]),
    "update_ratio.png": (iplot.plot_update_ratio, [("step (optimisation steps)", "update ratio (cells written / weights)")]),
    "cumulative_writes.png": (iplot.plot_cumulative_writes, [("step (optimisation steps)", "cumulative count (cell writes, pulses)")]),
    "energy.png": (iplot.plot_energy, [("energy (J, log)", ""), ("energy (J, log)", "")]),
    "cell_writes.png": (iplot.plot_writes, [("write events per cell", "cells")]),
}


@pytest.mark.parametrize("name", list(RUN_FUNCTIONS))
def test_run_figures_from_a_folder_carry_labels_units_and_identity(run_dir, name):
    draw, labels = RUN_FUNCTIONS[name]
    fig = draw(run_dir)
    assert isinstance(fig, Figure)
    assert fig.get_suptitle() == IDENTITY and fig.get_label() == IDENTITY
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes] == labels
    assert png_title(iplot.png_bytes(fig)) == IDENTITY


@pytest.mark.parametrize("name", list(RUN_FUNCTIONS))
def test_cli_pngs_are_the_api_figures(run_dir, name):
    """plots/*.png written by `imc train` = the API's figure saved the same way, byte for byte."""
    draw, _ = RUN_FUNCTIONS[name]
    saved = (run_dir / "plots" / name).read_bytes()
    assert png_title(saved) == IDENTITY
    assert iplot.png_bytes(draw(run_dir)) == saved


def test_in_memory_result_draws_the_same_figures_as_the_folder(run_dir, session):
    """fit's result (and the Run) carries what the figures need: same data as the run folder."""
    run, result = session
    from_folder, from_fit, from_run = iplot.load_run(run_dir), iplot.load_run(result), iplot.load_run(run)
    for record in (from_fit, from_run):
        for key in ("step", "loss", "update_ratio", "write_events", "pulses"):
            np.testing.assert_array_equal(getattr(record, key), getattr(from_folder, key), err_msg=key)
    assert from_run.identity == IDENTITY  # a Run knows the task and names the run
    assert from_fit.identity == "Sequential on memristor:eapu-paper, rule eapu, seed 0"  # the trainer knows less
    for name, (draw, _) in RUN_FUNCTIONS.items():
        assert iplot.png_bytes(draw(result, identity="x")) == iplot.png_bytes(draw(run_dir, identity="x")), name


def test_plot_run_returns_every_figure_and_the_trainer_works_too(session):
    run, _ = session
    figures = iplot.plot_run(run.trainer)
    assert list(figures) == list(RUN_FUNCTIONS) and all(isinstance(f, Figure) for f in figures.values())


def test_update_ratio_has_its_moving_mean(run_dir):
    fig = iplot.plot_update_ratio(run_dir)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[0] == "per step"
    # 11 steps in one tiny epoch: 2 % of the run is under 2 steps, so no mean line; a long run gets one
    steps = len(iplot.load_run(run_dir).step)
    assert steps == 11 and labels == ["per step"]
    assert iplot.run.moving_mean_window(1290) == 25


def test_write_histogram_marks_empty_bins_at_the_floor(run_dir):
    fig = iplot.plot_writes(run_dir)
    ax = fig.axes[0]
    counts = iplot.load_run(run_dir).ledger["wear"]["histogram"]["counts"]
    zeros = [i for i, c in enumerate(counts) if c == 0]
    assert zeros, counts  # the tiny run leaves the "0 writes" bin empty (every cell is programmed once)
    assert ax.get_yscale() == "log" and ax.get_ylim()[0] == 0.5
    marked = [t for t in ax.texts if t.get_text() == "0"]
    assert sorted(t.xy[0] for t in marked) == zeros


def test_a_result_without_trace_is_refused_with_a_pointer(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    with pytest.raises(ValueError, match="run folder"):
        iplot.plot_curves(summary)
    with pytest.raises(TypeError, match="run folder"):
        iplot.plot_curves(3)


# ---------------------------------------------------------------------------------------- compare
COMPARE_CONFIG = 'epochs = 1\nbatch_size = 128\n[model]\nname = "mlp"\nhidden = 8\n'


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    (root / "cfg.toml").write_text(COMPARE_CONFIG)
    out = root / "cmp"
    assert main(["compare", str(root / "cfg.toml"), "--rules", "ideal,eapu", "--quiet", "--output", str(out)]) == 0
    return out


def test_comparison_is_a_grid_with_units_and_identity(compare_dir):
    fig = iplot.plot_comparison(compare_dir)
    assert isinstance(fig, Figure)
    assert fig.get_label() == "compare: digits / mlp on memristor:eapu-paper, rules ideal, eapu, seed 0"
    grid = [ax for ax in fig.axes if ax.get_visible()]
    assert len(grid) == 6 and {ax.get_subplotspec().get_geometry()[:2] for ax in grid} == {(2, 3)}
    assert [ax.get_xlabel() for ax in grid] == ["test accuracy (%)", "cell writes (log)", "pulses (log)", "cells (log)",
                                                "energy (J) (log)", "trainings (log)"]
    assert png_title(iplot.png_bytes(fig)) == fig.get_label()


def test_zero_writes_get_a_mark_and_a_label_at_the_log_floor(compare_dir):
    """`ideal` writes no cell: its write-event bar cannot exist on a log axis, so a "0" marks it."""
    rows = json.loads((compare_dir / "compare.json").read_text())
    assert [r["write_events"] for r in rows][0] == 0 and rows[1]["write_events"] > 0
    fig = iplot.plot_comparison(rows)
    writes = fig.axes[1]
    assert writes.get_xscale() == "log"
    zeros = [t for t in writes.texts if t.get_text() == "0"]
    assert len(zeros) == 1 and zeros[0].xy[0] == writes.get_xlim()[0]  # at the axis floor
    assert zeros[0].xy[1] == writes.get_yticks()[0]  # on ideal's row (the first, on top)
    lifetime = fig.axes[5]
    assert sum(t.get_text() == "unlimited" for t in lifetime.texts) == 2  # worst and mean cell of ideal


def test_runs_that_did_not_train_are_flagged_on_the_figure(compare_dir):
    rows = json.loads((compare_dir / "compare.json").read_text())
    rows[0]["warnings"], rows[1]["warnings"] = [], ["accuracy at chance"]
    fig = iplot.plot_comparison(rows)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["ideal", "eapu  ⚠ did not train"]
    assert "did not train" in fig._supxlabel.get_text() and "eapu" in fig._supxlabel.get_text()
    assert any(bar.get_hatch() == "///" for bar in fig.axes[0].patches)
    rows[1]["warnings"] = []
    assert not any(bar.get_hatch() for ax in fig.axes for bar in iplot.plot_comparison(rows).axes[0].patches)
    assert "did not train" not in all_text(iplot.plot_comparison(rows))


def test_cli_compare_pngs_are_the_api_figures(compare_dir):
    assert iplot.png_bytes(iplot.plot_comparison(compare_dir)) == (compare_dir / "compare.png").read_bytes()
    energy = iplot.plot_comparison_energy(compare_dir)
    assert [ax.get_ylabel() for ax in energy.axes] == ["energy (J)"] * 3
    assert iplot.png_bytes(energy) == (compare_dir / "compare_energy.png").read_bytes()


# ---------------------------------------------------------------------------------------- sweep
NOISE = "backend.overrides.write_noise_us"


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A recorded sweep (rule x noise x seed) written without training: the figures read only the folder."""
    from imc.sweep import SweepStore, sweep_from_dict

    sweep = sweep_from_dict({"name": "noise", "base": {"epochs": 1, "task": {"name": "digits"}},
                             "axes": {"rule.name": ["original", "eapu"], NOISE: [0.0, 1.0, 2.0], "seed": [0, 1]}},
                            source="noise")
    store = SweepStore(tmp_path_factory.mktemp("sweep") / "noise")
    store.write_plan(sweep.plan())
    for p in sweep.points:
        rule, noise, seed = p.params["rule.name"], p.params[NOISE], p.params["seed"]
        store.append({"point_id": p.point_id, "index": p.index, "status": "ok", "params": p.params, "error": None,
                      "summary": {"final": {"accuracy": 0.95 - (0.3 if rule == "original" else 0.05) * noise + 0.01 * seed},
                                  "ledger": {"write_events": (10_000 if rule == "original" else 10) * (1 + seed)}}})
    return store.root


def test_sweep_figure_has_units_identity_and_matches_the_report_png(sweep_dir):
    assert main(["sweep", "report", str(sweep_dir)]) == 0
    fig = iplot.plot_sweep(sweep_dir, NOISE)
    assert fig.get_label() == "sweep noise: digits / mlp on memristor:eapu-paper, rules original, eapu, seed 0, 1"
    assert [ax.get_xlabel() for ax in fig.axes] == [NOISE + " (uS)"] * 2
    assert [ax.get_ylabel() for ax in fig.axes] == ["final.accuracy (fraction)", "ledger.write_events (cell writes)"]
    assert fig.axes[1].get_yscale() == "log"  # 10 .. 20,000 writes: over two decades
    assert iplot.png_bytes(fig) == (sweep_dir / "report" / f"vs_{NOISE}.png").read_bytes()
    rules = iplot.plot_sweep(sweep_dir, "rule.name")
    assert [t.get_text() for t in rules.axes[0].get_xticklabels()] == ["original", "eapu"]
    assert all(line.get_linestyle() == "None" for line in rules.axes[0].get_lines())  # categories: points, no lines
    assert rules.axes[0].get_legend_handles_labels()[1] == [f"{NOISE}={v} uS" for v in ("0", "1", "2")]  # legend units too
    with pytest.raises(ValueError, match="not an axis"):
        iplot.plot_sweep(sweep_dir, "seed")


# ---------------------------------------------------------------------------------------- device
def test_device_response_has_measured_and_declared_overlays_and_units():
    fig = iplot.plot_device_response("memristor", "eapu-paper", cells=16, seed=3)
    assert fig.get_label() == "device response: memristor:eapu-paper, 16 cells, seed 3"
    trains, step, noise, states = fig.axes[:4]
    assert (trains.get_xlabel(), trains.get_ylabel()) == ("pulse number (pulses)", "conductance G (uS)")
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in (step, noise)] == [
        ("conductance G (uS)", "step per pulse (uS)"), ("conductance G (uS)", "noise per pulse (uS)")]
    for ax in (step, noise):
        labels = ax.get_legend_handles_labels()[1]
        assert {"up measured", "up declared", "down measured", "down declared"} <= set(labels)
    assert {"up: measured mean", "down: measured mean", "declared mean step"} <= set(trains.get_legend_handles_labels()[1])
    assert states.get_xlabel() == "conductance G (uS)"


def test_cli_characterization_png_is_the_api_figure(tmp_path):
    from imc.characterize import characterize

    assert main(["characterize", "mram", "--cells", "16", "--seed", "1", "--out", str(tmp_path / "ch")]) == 0
    saved = (tmp_path / "ch" / "characterization.png").read_bytes()
    ch = characterize("mram", cells=16, seed=1)  # the CLI's defaults: 2 cycles
    fig = iplot.plot_device_response(ch)
    assert png_title(saved) == fig.get_label() == f"device response: mram:{ch.preset}, 16 cells, seed 1"
    assert iplot.png_bytes(fig) == saved
    assert fig.axes[4].get_ylabel() == "P_sw (fraction of cells switched)"  # MRAM switches probabilistically


def test_fitted_device_over_its_measurements(tmp_path, monkeypatch):
    """The shipped sample ramps, `imc fit`, then the fitted table device replayed over the data."""
    from imc_table.fit import read_sweeps_csv
    from imc_table.sample import text

    monkeypatch.setenv("IMC_PRESET_DIR", str(tmp_path / "fits"))
    csv = tmp_path / "ramps.csv"
    csv.write_text(text())
    assert main(["fit", str(csv), "--name", "mydev", "--plot", str(tmp_path / "fit.png")]) == 0
    measured = read_sweeps_csv(csv)
    fig = iplot.plot_fit(measured, "table", "mydev")
    assert iplot.png_bytes(fig) == (tmp_path / "fit.png").read_bytes()  # `imc fit --plot` saves this figure
    assert fig.get_label() == "fitted vs measured (80 ramps): table:mydev, seed 0"
    ramps, step, noise = fig.axes
    assert (ramps.get_xlabel(), ramps.get_ylabel()) == ("pulse number within the ramp (pulses)", "conductance G (uS)")
    assert step.get_ylabel() == "step per pulse (uS)" and noise.get_ylabel() == "noise per pulse (uS)"
    assert {"up measured", "up fitted device, replayed", "up fitted table (declared)"} <= set(step.get_legend_handles_labels()[1])
    # the replay follows the data: mean up-ramp ends within 2 % of the measured one
    lines = {line.get_label(): line.get_ydata() for line in ramps.get_lines()}
    assert lines["up: fitted device"][-1] == pytest.approx(lines["up: measured"][-1], rel=0.02)
    with pytest.raises(ValueError, match="read_sweeps_csv"):
        iplot.plot_fit([], "table", "mydev")


def test_energy_has_a_panel_per_device_array_for_tiki_taka():
    from imc.runner import Run

    run = Run(apply_overrides(default_config(), {**TINY, "rule.name": "tiki-taka"}))
    run.trainer.fit(run.train, None, epochs=1)
    fig = iplot.plot_energy(run)
    assert fig.get_label().endswith("rule tiki-taka, seed 0") and len(fig.axes) == 3
    arrays = fig.axes[2]
    labels = [t.get_text() for t in arrays.get_yticklabels()]
    assert labels[0].startswith("C: ") and any(t.startswith("A: ") for t in labels)
    # the verify category books nothing in this run: a "0" mark, not a vanished bar
    assert any(t.get_text() == "0" for t in fig.axes[0].texts)


def test_psnr_run_curves_and_example_images_name_the_run(tmp_path):
    cfg = tmp_path / "dn.toml"
    cfg.write_text("epochs = 1\nbatch_size = 16\n[task]\nname = 'denoise'\npatches = 32\ntest_size = 32\n"
                   "[model]\nname = 'dncnn'\ndepth = 2\nchannels = 4\n[optimizer]\nname = 'adam'\nlr = 0.001\n")
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--quiet", "--output", str(run)]) == 0
    fig = iplot.plot_curves(run)
    assert fig.axes[1].get_ylabel() == "test PSNR (dB)"
    assert "noisy (no network)" in fig.axes[1].get_legend_handles_labels()[1]  # the no-network baseline
    assert png_title((run / "examples.png").read_bytes()) == fig.get_label() == png_title((run / "plots" / "curves.png").read_bytes())
    assert fig.get_label().startswith("denoise-dncnn-eapu: denoise / dncnn on memristor")


@pytest.mark.parametrize("key, label", [
    ("energy_by_category_j.array_write", "energy_by_category_j.array_write (J)"),  # a table's unit covers its entries
    ("update_ratio_mean", "update_ratio_mean (cells written / weights)"),
    ("lifetime_worst_cell", "lifetime_worst_cell (trainings)"),
    ("pulses", "pulses (pulses)"),
    ("rule.k", "rule.k"),
])
def test_axis_labels_carry_units(key, label):
    from imc.plot.common import axis_label

    assert axis_label(key) == label


def test_evaluation_over_time_names_the_run_and_is_the_saved_png(tmp_path):
    from imc.runner import train_run

    cfg = apply_overrides(default_config(), {**TINY, "backend.name": "pcm", "backend.preset": "", "backend.overrides": {},
                                             "evaluate.times_s": [1, 86400.0]})
    summary = train_run(cfg, tmp_path / "run")
    who = f"digits-mlp-eapu: digits / mlp on pcm:{summary['preset']}, rule eapu, seed 0"
    fig = iplot.plot_evaluation({"eapu on pcm": summary["evaluate"]}, title="accuracy after programming", identity=who)
    assert (fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()) == ("time after programming (s)", "test accuracy (%)")
    saved = (tmp_path / "run" / "plots" / "evaluate.png").read_bytes()
    assert png_title(saved) == who and iplot.png_bytes(fig) == saved


def test_training_and_plotting_never_touch_pyplot(tmp_path):
    """A notebook keeps its own backend: nothing on the run/plot path imports pyplot or sets a backend."""
    import subprocess
    import sys

    script = (
        "import sys, matplotlib\n"
        "from imc.config import apply_overrides, default_config\n"
        "from imc.runner import train_run\n"
        "import imc.plot\n"
        f"train_run(apply_overrides(default_config(), {TINY!r}), {str(tmp_path / 'run')!r})\n"
        "print('pyplot' if 'matplotlib.pyplot' in sys.modules else 'no pyplot')\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "MPLBACKEND"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("no pyplot")
    assert sorted(p.name for p in (tmp_path / "run" / "plots").iterdir()) == sorted(RUN_FUNCTIONS)
