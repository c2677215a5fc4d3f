"""``train_run``: build a run, create (or resume) its folder, train, and write its reports."""

from __future__ import annotations

import json
from pathlib import Path

from .. import checkpoint
from ..config import TrainConfig, to_toml
from ..errors import ConfigValueError, RunFolderError, UserError
from ..files import atomic_write_text
from ..report.summary import resolved_comment
from ..train import TrainingDiverged
from .build import Run
from .callbacks import Checkpointer, LearningRateSchedule, MetricsLog, Progress
from .folder import (
    CONFIG_FILE,
    METRICS_FILE,
    SUMMARY_FILE,
    bound_config,
    check_resumable,
    create_run_dir,
    remove_created,
    truncate,
    verify_checkpoint_binding,
)
from .summary import build_summary, diverged_summary, write_report


def train_run(cfg: TrainConfig | None, run_dir, *, quiet: bool = True, resume: bool = False,
              checkpoint_every: int | None = None, plots: bool = True) -> dict:
    """Train ``cfg`` into ``run_dir`` and return the summary (also written to summary.json).

    ``resume=True`` continues the run in ``run_dir`` from its checkpoint (``cfg`` may be
    None: the folder's config.toml is used); a run stopped before its first checkpoint
    starts again from step 0. A checkpoint is written at each epoch end, every
    ``checkpoint_every`` steps (overriding the config's) and at the end.
    ``quiet=False`` shows progress: a bar on a terminal, a line per epoch elsewhere.
    ``plots=False`` skips the PNG plots and example images (sweeps draw their own report).

    A run whose loss or update becomes NaN/inf raises :class:`~imc.train.TrainingDiverged`
    (exit code 3) after writing summary.json with ``"status": "diverged"`` and the step.
    """
    run_dir = Path(run_dir)
    if resume:
        cfg = check_resumable(cfg, run_dir)
    every = cfg.checkpoint_every if checkpoint_every is None else int(checkpoint_every)
    if every < 0:
        raise ConfigValueError(f"checkpoint_every must be >= 0 steps, got {every}")

    run = Run(cfg)  # data and model first: bad input fails before anything is written
    prefix = b""
    if resume:
        checkpoint.remove_temporaries(run_dir)
        if checkpoint.exists(run_dir):
            state, _step, meta = checkpoint.load(run_dir)
            prefix = verify_checkpoint_binding(run_dir, meta)
            truncate(run_dir / METRICS_FILE, int(meta.get("metrics_bytes", 0)))
            run.trainer.load_state(state["trainer"])
        else:  # stopped before its first checkpoint: nothing to keep, start from step 0
            truncate(run_dir / METRICS_FILE, 0)
        bound = bound_config(run_dir)
    else:
        missing = [p for p in [run_dir, *run_dir.parents] if not p.exists()]
        created = create_run_dir(run_dir)
        try:
            atomic_write_text(run_dir / CONFIG_FILE, to_toml(cfg) + resolved_comment(run.model))
            bound = bound_config(run_dir)
        except (OSError, UserError) as exc:
            if created:
                remove_created(run_dir, missing)
            if isinstance(exc, UserError):
                raise
            raise RunFolderError(f"cannot write into run folder {run_dir}: {exc.strerror}") from None

    log = MetricsLog(run_dir / METRICS_FILE, prefix)
    spe = run.trainer.steps_per_epoch(len(run.data.x_train))
    saver = Checkpointer(run_dir, every, spe, log, bound)
    progress = Progress(run.steps_total(), run.trainer.step, run.data.metric, cfg.run_name,
                        mode="off" if quiet else "auto")
    schedule = LearningRateSchedule(run.trainer.optimizer, cfg.lr_schedule, run.steps_total())
    schedule.apply(run.trainer.step)
    run.trainer.callbacks = (schedule, log, saver, progress)
    try:
        try:
            result = run.trainer.fit(run.train, run.test, epochs=cfg.epochs)
        except TrainingDiverged as exc:
            log.sync()
            record = diverged_summary(cfg, run, exc)
            atomic_write_text(run_dir / SUMMARY_FILE, json.dumps(record, indent=1))
            raise TrainingDiverged(f"{exc} Recorded in {run_dir / SUMMARY_FILE}.", exc.step, exc.epoch) from None
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
