"""Figures as matplotlib ``Figure`` objects, for notebooks and for the CLI's PNGs alike.

One module per figure family; the CLI saves exactly these figures:

- :mod:`imc.plot.run`: one run (``plots/*.png`` of ``imc train``): :func:`plot_curves`,
  :func:`plot_update_ratio`, :func:`plot_cumulative_writes`, :func:`plot_writes`,
  :func:`plot_energy`, :func:`plot_run` (all of them); :func:`plot_evaluation` (metric vs
  time after programming, plots/evaluate.png and compare_time.png). Input: a run folder, the dict
  ``Trainer.fit`` returns, a Trainer or an ``imc.runner.Run``.
- :mod:`imc.plot.compare`: ``imc compare`` (compare.png, compare_energy.png):
  :func:`plot_comparison`, :func:`plot_comparison_energy`.
- :mod:`imc.plot.sweep`: ``imc sweep report`` (report/vs_<axis>.png): :func:`plot_sweep`.
- :mod:`imc.plot.device`: ``imc characterize`` (characterization.png):
  :func:`plot_device_response`; a fitted device over its data: :func:`plot_fit`.

Every figure carries its identity (run name, task, model, backend:preset, rule, seed) on top
and as ``fig.get_label()``; :func:`save` writes it into the PNG's Title. See docs/plotting.md.
"""

from .common import identity_line, png_bytes, save
from .compare import plot_comparison, plot_comparison_energy
from .device import plot_device_response, plot_fit
from .run import (
    RunRecord,
    load_run,
    plot_cumulative_writes,
    plot_curves,
    plot_energy,
    plot_evaluation,
    plot_run,
    plot_update_ratio,
    plot_writes,
)
from .sweep import plot_sweep

__all__ = [
    "RunRecord", "identity_line", "load_run", "plot_cumulative_writes", "plot_curves", "plot_energy", "plot_evaluation", "plot_run",
    "plot_comparison", "plot_comparison_energy", "plot_device_response", "plot_fit", "plot_sweep", "plot_update_ratio", "plot_writes", "png_bytes", "save",
]
