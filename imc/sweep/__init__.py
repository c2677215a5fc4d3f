"""Sweeps: many training runs over a grid of config values, run as tasks on Dask distributed.

- :mod:`imc.sweep.plan`: the sweep file (base config + axes) and its expansion into points;
- :mod:`imc.sweep.execute`: running points on a local or remote Dask cluster;
- :mod:`imc.sweep.store`: the sweep folder (plan, results rows, one run folder per point);
- :mod:`imc.sweep.report`: the table and plots along each axis, mean and spread over seeds.

See docs/sweeps.md for the file format and the folder layout.
"""

from .execute import SchedulerLost, SchedulerUnreachable, SweepOutcome, run_sweep, train_point
from .plan import ConfigSchema, Point, Sweep, load_sweep, sweep_from_dict
from .report import Report, write_report
from .store import SweepStore

__all__ = [
    "ConfigSchema",
    "Point",
    "Report",
    "SchedulerLost",
    "SchedulerUnreachable",
    "Sweep",
    "SweepOutcome",
    "SweepStore",
    "load_sweep",
    "run_sweep",
    "sweep_from_dict",
    "train_point",
    "write_report",
]
