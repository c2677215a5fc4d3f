"""From a config to a finished run folder: compute, data, model, optimiser, rule, trainer.

``train_run(cfg, run_dir)`` builds everything first (so bad input fails before anything is
written), then creates the run folder::

    run_dir/
      config.toml          the resolved config (defaults filled in; loadable again)
      metrics.jsonl        one JSON object per step ("kind": "step") and per epoch ("epoch")
      summary.json         final metric, update ratio, writes, energy, lifetime, history
      checkpoint.json      + checkpoint-<step>.npz: the latest checkpoint (no pickle)
      plots/*.png          curves, update ratio, writes, energy, wear histogram
      examples.png         image tasks: input / restored / clean

``resume=True`` continues a killed run from its last checkpoint and ends with exactly
the metrics an uninterrupted run gets (numpy).

Modules: ``build`` (config -> Run: data, model, optimiser, rule, trainer), ``callbacks``
(metrics log, checkpoints, learning-rate schedule, progress), ``folder`` (run-folder
files, creation, resumability), ``summary`` (summary.json, terminal lines, plots),
``session`` (train_run).
"""

from ..errors import RunFolderError
from .build import Run, analog_config, model_inputs
from .callbacks import Checkpointer, LearningRateSchedule, MetricsLog, Progress
from .folder import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, create_run_dir, default_run_dir
from .session import train_run
from .summary import build_summary, format_summary, write_report

__all__ = [
    "CONFIG_FILE",
    "METRICS_FILE",
    "SUMMARY_FILE",
    "Checkpointer",
    "LearningRateSchedule",
    "MetricsLog",
    "Progress",
    "Run",
    "RunFolderError",
    "analog_config",
    "build_summary",
    "create_run_dir",
    "default_run_dir",
    "format_summary",
    "model_inputs",
    "train_run",
    "write_report",
]
