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
    "energy.png": (iplot.plot_energy, [("", "energy (J)")]),
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
