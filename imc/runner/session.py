"""``train_run``: build a run, create (or resume) its folder, train, and write its reports."""

from __future__ import annotations

import json
from pathlib import Path

from .. import checkpoint
from ..config import TrainConfig, to_toml
from ..errors import ConfigValueError, RunFolderError
from ..files import atomic_write_text
from ..report.summary import resolved_comment
from .build import Run
from .callbacks import Checkpointer, LearningRateSchedule, MetricsLog, Progress
from .folder import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, check_resumable, create_run_dir, remove_created, truncate
from .summary import build_summary, write_report


def train_run(cfg: TrainConfig | None, run_dir, *, quiet: bool = True, resume: bool = False,
              checkpoint_every: int | None = None, plots: bool = True) -> dict:
    """Train ``cfg`` into ``run_dir`` and return the summary (also written to summary.json).

    ``resume=True`` continues the run in ``run_dir`` from its checkpoint (``cfg`` may be
    None: the folder's config.toml is used). ``checkpoint_every`` (steps) overrides the
    config's ``checkpoint_every``; a checkpoint is always written at the end.
    ``quiet=False`` shows progress: a bar on a terminal, a line per epoch elsewhere.
    ``plots=False`` skips the PNG plots and example images (sweeps draw their own report).
    """
    run_dir = Path(run_dir)
    if resume:
        cfg = check_resumable(cfg, run_dir)
    every = cfg.checkpoint_every if checkpoint_every is None else int(checkpoint_every)
    if every < 0:
        raise ConfigValueError(f"checkpoint_every must be >= 0 steps, got {every}")

    run = Run(cfg)  # data and model first: bad input fails before anything is written
    if resume:
        checkpoint.remove_temporaries(run_dir)
        state, _step, meta = checkpoint.load(run_dir)
        truncate(run_dir / METRICS_FILE, int(meta.get("metrics_bytes", 0)))
        run.trainer.load_state(state["trainer"])
        created = False
    else:
        missing = [p for p in [run_dir, *run_dir.parents] if not p.exists()]
        created = create_run_dir(run_dir)
        try:
            atomic_write_text(run_dir / CONFIG_FILE, to_toml(cfg) + resolved_comment(run.model))
        except OSError as exc:
            if created:
                remove_created(run_dir, missing)
            raise RunFolderError(f"cannot write into run folder {run_dir}: {exc.strerror}") from None

    log = MetricsLog(run_dir / METRICS_FILE)
    spe = run.trainer.steps_per_epoch(len(run.data.x_train))
    saver = Checkpointer(run_dir, every, spe, log)
    progress = Progress(run.steps_total(), run.trainer.step, run.data.metric, cfg.run_name,
                        mode="off" if quiet else "auto")
    schedule = LearningRateSchedule(run.trainer.optimizer, cfg.lr_schedule, run.steps_total())
    schedule.apply(run.trainer.step)
    run.trainer.callbacks = (schedule, log, saver, progress)
    try:
        result = run.trainer.fit(run.train, run.test, epochs=cfg.epochs)
        summary = build_summary(cfg, run, result)
        saver.save(run.trainer)
    finally:
        progress.close()
        log.close()
    if cfg.evaluate.times_s:  # on drifted copies: the run's state and checkpoint stay as trained
        from ..evaluate import write_evaluation

        summary["evaluate"] = write_evaluation(run, cfg.evaluate, run_dir, plots=plots)
    atomic_write_text(run_dir / SUMMARY_FILE, json.dumps(summary, indent=1))
    if plots:
        write_report(run, run_dir, summary)
    return summary
