"""The PNGs of one run folder: the figures of :mod:`imc.plot.run`, saved (and the example images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imc.plot.common import identity_line
from imc.plot.run import RUN_FIGURES, energy_breakdown, load_run, read_metrics

__all__ = ["PLOT_FILES", "energy_breakdown", "example_images", "missing_plots", "read_metrics", "run_identity", "run_plots"]


PLOT_FILES = tuple(RUN_FIGURES)


def run_identity(summary: dict) -> str:
    """One line naming a run: name, task / model on backend:preset, rule, seed."""
    return identity_line(summary)


def _save(fig, path: Path, identity: str | None = None) -> None:
    """Save a figure whole or not at all (a kill mid-save leaves no half-written PNG).

    ``identity`` (see :func:`run_identity`) goes on top of the figure and into its PNG Title;
    a figure of :mod:`imc.plot` carries its own (its label). Figures here are made without
    pyplot: saving never touches the matplotlib backend of the calling process (a notebook
    that trains through :func:`imc.runner.train_run` keeps its inline figures).
    """
    from imc.plot.common import save, set_identity

    if identity:
        set_identity(fig, identity)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    save(fig, Path(path))


def missing_plots(run_dir) -> list[str]:
    """Names of the run's plots not (yet) in ``run_dir/plots``."""
    out = Path(run_dir) / "plots"
    return [name for name in PLOT_FILES if not (out / name).is_file()]


def run_plots(run_dir) -> list[Path]:
    """Write plots/*.png for a finished run (the figures of :func:`imc.plot.plot_run`); returns the files."""
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    out = run_dir / "plots"
    out.mkdir(exist_ok=True)
    written = []
    for name, draw in RUN_FIGURES.items():
        _save(draw(run), out / name)
        written.append(out / name)
    return written


def example_images(path, inputs, restored, clean, task: str, identity: str | None = None) -> Path:
    """A grid: input (noisy or low-resolution) / network output / clean, one column per image
    (``identity``: the run's, on top and in the PNG Title)."""
    from matplotlib.figure import Figure

    from imc.tasks.base import psnr_db

    count = len(inputs)
    fig = Figure(figsize=(2.4 * count, 7.4))
    axes = fig.subplots(3, count, squeeze=False)
    first = "noisy" if task == "denoise" else "input (low-res)"
    for j in range(count):
        last = "clean" if task == "denoise" else "original"
        for i, (image, label) in enumerate(((inputs[j], first), (restored[j], "restored"), (clean[j], last))):
            ax = axes[i, j]
            ax.imshow(np.clip(image[0], 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            title = label
            if i == 1 or (i == 0 and image.shape == clean[j].shape):
                title += f" {psnr_db(image[None], clean[j][None]):.1f} dB"
            ax.set_title(title, fontsize=9)
    _save(fig, Path(path), identity)
    return Path(path)
