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
"""

from __future__ import annotations

import json
import math
import os
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np

from . import checkpoint
from .checkpoint import atomic_write_text
from .compute import Compute
from .config import TrainConfig, load_config, to_dict, to_toml
from .tasks import TaskData, load_task

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


class RunFolderError(ValueError):
    """The run folder cannot be used as asked (exists, not resumable, unwritable)."""


# ---------------------------------------------------------------------------- building
def analog_config(cfg: TrainConfig):
    """The engine's AnalogConfig for the config's [backend] table (0/"" mean automatic/off)."""
    from .nn import AnalogConfig

    b = cfg.backend
    return AnalogConfig(
        backend=b.name,
        preset=b.preset or None,
        overrides=dict(b.overrides),
        r_wg_per_us=b.r_wg_per_us or None,
        w_max=b.w_max,
        mapping=b.mapping or None,
        max_tile_rows=b.max_tile_rows or None,
        max_tile_cols=b.max_tile_cols or None,
        dac_bits=b.dac_bits or None,
        adc_bits=b.adc_bits or None,
    )


def model_inputs(cfg: TrainConfig, data: TaskData) -> tuple[dict, bool]:
    """(size parameters derived from the data, whether inputs must be flattened)."""
    shape = data.in_shape
    name = cfg.model.name
    if name == "mlp":
        return {"inputs": int(np.prod(shape)), "classes": _classes(cfg, data)}, True
    if len(shape) != 3:
        raise ValueError(f"model {name!r} needs image inputs (C, H, W); task {data.name!r} gives samples of shape {shape}")
    channels, height, width = shape
    if name == "cnn":
        if height != width:
            raise ValueError(f"model 'cnn' needs square images; task {data.name!r} gives {height}x{width}")
        return {"size": height, "in_channels": channels, "classes": _classes(cfg, data)}, False
    if data.kind != "image":
        raise ValueError(f"model {name!r} is image-to-image; task {data.name!r} is classification (use mlp or cnn)")
    if name == "dncnn":
        return {"image_channels": channels}, False
    if name == "srnet":
        factor = data.y_train.shape[2] // height
        if factor < 2 or data.y_train.shape[2] != factor * height:
            raise ValueError(f"model 'srnet' needs targets an integer factor >= 2 larger than inputs; got {shape} -> {data.y_train.shape[1:]}")
        return {"image_channels": channels, "factor": factor}, False
    return {}, False


def _classes(cfg: TrainConfig, data: TaskData) -> int:
    if data.kind != "classification":
        raise ValueError(f"model {cfg.model.name!r} is a classifier; task {data.name!r} is image-to-image (use dncnn or srnet)")
    return data.n_classes


class Run:
    """Everything a run needs, built from a config (nothing is written yet)."""

    def __init__(self, cfg: TrainConfig, callbacks=()):
        from . import models, nn
        from .optim import make_optimizer
        from .rules import make_rule
        from .train import Trainer

        self.cfg = cfg
        self.data = load_task(cfg.task)
        sizes, self.flatten = model_inputs(cfg, self.data)
        try:
            self.compute = Compute.create(cfg.compute, seed=cfg.seed)
        except RuntimeError as exc:  # no cupy or no CUDA device: the user's to fix
            raise ValueError(f"compute: {exc}") from None
        self.model = models.build(cfg.model.name, analog=analog_config(cfg), compute=self.compute, **sizes, **cfg.model.params)
        loss = nn.CrossEntropyLoss() if self.data.kind == "classification" else nn.MSELoss()
        self.trainer = Trainer(
            self.model, loss, make_optimizer(cfg.optimizer.name, **cfg.optimizer.params),
            make_rule(cfg.rule.name, **cfg.rule.params), self.compute,
            batch_size=cfg.batch_size, seed=cfg.seed, metric=self.data.metric, callbacks=callbacks, energy=cfg.energy,
        )

    def inputs(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1) if self.flatten else x

    @property
    def train(self):
        return self.inputs(self.data.x_train), self.data.y_train

    @property
    def test(self):
        return self.inputs(self.data.x_test), self.data.y_test

    def steps_total(self) -> int:
        return self.trainer.steps_per_epoch(len(self.data.x_train)) * self.cfg.epochs


# ---------------------------------------------------------------------------- callbacks
class MetricsLog:
    """Appends one JSON line per step and per epoch to metrics.jsonl."""

    def __init__(self, path: Path):
        self.path = path
        self.handle = open(path, "a", encoding="utf-8")  # noqa: SIM115  (kept open for the run)

    def write(self, record: dict) -> None:
        self.handle.write(json.dumps(_json_safe(record)) + "\n")
        self.handle.flush()

    def on_step(self, trainer, metrics):
        self.write({"kind": "step", **metrics})

    def on_epoch_end(self, trainer, metrics):
        self.write({"kind": "epoch", **metrics})

    def size(self) -> int:
        self.handle.flush()
        return self.handle.tell()

    def close(self):
        self.handle.close()


class Checkpointer:
    """Saves a checkpoint every ``every`` steps (0 = only at the end) at step boundaries.

    A step that ends an epoch is saved after that epoch's evaluation, so a resumed run
    never skips an evaluation.
    """

    def __init__(self, folder: Path, every: int, steps_per_epoch: int, log: MetricsLog):
        self.folder, self.every, self.spe, self.log = folder, every, steps_per_epoch, log

    def save(self, trainer) -> None:
        checkpoint.save(self.folder, {"trainer": trainer.state()}, trainer.step, {"metrics_bytes": self.log.size()})

    def on_step(self, trainer, metrics):
        if self.every and trainer.step % self.every == 0 and trainer.step % self.spe != 0:
            self.save(trainer)

    def on_epoch_end(self, trainer, metrics):
        if self.every and trainer.step % self.every == 0:
            self.save(trainer)


class LearningRateSchedule:
    """Sets the optimiser's learning rate for the next step from the step number alone.

    "cosine" anneals ``lr`` to 0 over the run, so late steps propose ever smaller changes
    (and EaPU writes ever fewer cells); "constant" leaves it alone. Being a function of the
    step, it needs no state of its own to resume exactly.
    """

    def __init__(self, optimizer, schedule: str, total_steps: int):
        self.optimizer, self.schedule, self.total = optimizer, schedule, max(int(total_steps), 1)
        self.base_lr = float(optimizer.lr)

    def lr_at(self, step: int) -> float:
        if self.schedule == "cosine":
            return self.base_lr * 0.5 * (1.0 + math.cos(math.pi * min(step, self.total) / self.total))
        return self.base_lr

    def apply(self, step: int) -> None:
        self.optimizer.lr = self.lr_at(step)

    def on_step(self, trainer, metrics):
        self.apply(trainer.step)


class Progress:
    """A tqdm bar over the run's steps with live loss, accuracy/PSNR and update ratio."""

    def __init__(self, total: int, initial: int, metric: str, name: str, disable: bool):
        from tqdm.auto import tqdm

        self.metric = metric
        self.bar = tqdm(total=total, initial=initial, desc=name, unit="step", disable=disable, dynamic_ncols=True)
        self.last_metric = None

    def on_step(self, trainer, metrics):
        self.bar.update(1)
        post = {"loss": f"{metrics['loss']:.4f}", "upd": f"{metrics['update_ratio']:.2e}"}
        if self.last_metric is not None:
            post[self.metric] = f"{self.last_metric:.4f}" if self.metric == "accuracy" else f"{self.last_metric:.2f}dB"
        self.bar.set_postfix(post, refresh=False)

    def on_epoch_end(self, trainer, metrics):
        self.last_metric = metrics.get(self.metric)

    def close(self):
        self.bar.close()


# ---------------------------------------------------------------------------- folders
def default_run_dir(cfg: TrainConfig, now: datetime | None = None) -> Path:
    """``<output_dir>/<run name>-<YYYYmmdd-HHMMSS>`` (a suffix keeps it unique)."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = Path(os.path.expanduser(cfg.output_dir)) / f"{cfg.run_name}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _create_run_dir(run_dir: Path) -> bool:
    """Create the folder (True if this call created it); refuse a non-empty existing one."""
    if run_dir.exists():
        if not run_dir.is_dir():
            raise RunFolderError(f"run folder {run_dir} exists and is not a folder")
        if any(run_dir.iterdir()):
            raise RunFolderError(
                f"run folder {run_dir} already exists and is not empty; choose another --output "
                "or continue it with --resume"
            )
        return False
    missing = [p for p in [run_dir, *run_dir.parents] if not p.exists()]
    try:
        run_dir.mkdir(parents=True)
    except PermissionError:
        raise PermissionError(f"cannot create run folder {run_dir}: permission denied") from None
    except OSError as exc:
        raise RunFolderError(f"cannot create run folder {run_dir}: {exc.strerror}") from None
    if not os.access(run_dir, os.W_OK):
        _remove_created(run_dir, missing)
        raise PermissionError(f"cannot write into run folder {run_dir}: permission denied")
    return True


def _remove_created(run_dir: Path, created: list[Path]) -> None:
    for path in created:  # deepest first
        shutil.rmtree(path, ignore_errors=True) if path == run_dir else _rmdir_quiet(path)


def _rmdir_quiet(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def _same_config(cfg: TrainConfig, saved: TrainConfig) -> bool:
    return to_dict(cfg) == to_dict(saved)


# ---------------------------------------------------------------------------- the run
def train_run(cfg: TrainConfig | None, run_dir, *, quiet: bool = True, resume: bool = False,
              checkpoint_every: int | None = None, plots: bool = True) -> dict:
    """Train ``cfg`` into ``run_dir`` and return the summary (also written to summary.json).

    ``resume=True`` continues the run in ``run_dir`` from its checkpoint (``cfg`` may be
    None: the folder's config.toml is used). ``checkpoint_every`` (steps) overrides the
    config's ``checkpoint_every``; a checkpoint is always written at the end.
    ``plots=False`` skips the PNG plots and example images (sweeps draw their own report).
    """
    run_dir = Path(run_dir)
    if resume:
        cfg = _check_resumable(cfg, run_dir)
    every = cfg.checkpoint_every if checkpoint_every is None else int(checkpoint_every)
    if every < 0:
        raise ValueError(f"checkpoint_every must be >= 0 steps, got {every}")

    run = Run(cfg)  # data and model first: bad input fails before anything is written
    if resume:
        checkpoint.remove_temporaries(run_dir)
        state, _step, meta = checkpoint.load(run_dir)
        _truncate(run_dir / METRICS_FILE, int(meta.get("metrics_bytes", 0)))
        run.trainer.load_state(state["trainer"])
        created = False
    else:
        missing = [p for p in [run_dir, *run_dir.parents] if not p.exists()]
        created = _create_run_dir(run_dir)
        try:
            atomic_write_text(run_dir / CONFIG_FILE, to_toml(cfg))
        except OSError as exc:
            if created:
                _remove_created(run_dir, missing)
            raise PermissionError(f"cannot write into run folder {run_dir}: {exc.strerror}") from None

    log = MetricsLog(run_dir / METRICS_FILE)
    spe = run.trainer.steps_per_epoch(len(run.data.x_train))
    saver = Checkpointer(run_dir, every, spe, log)
    progress = Progress(run.steps_total(), run.trainer.step, run.data.metric, cfg.run_name,
                        disable=quiet)
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
    atomic_write_text(run_dir / SUMMARY_FILE, json.dumps(summary, indent=1))
    if plots:
        write_report(run, run_dir, summary)
    return summary


def _check_resumable(cfg: TrainConfig | None, run_dir: Path) -> TrainConfig:
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder to resume not found: {run_dir}")
    if not (run_dir / CONFIG_FILE).is_file():
        raise RunFolderError(f"{run_dir} is not a run folder ({CONFIG_FILE} is missing)")
    saved = load_config(run_dir / CONFIG_FILE)
    if cfg is not None and not _same_config(cfg, saved):
        raise RunFolderError(f"the config differs from {run_dir / CONFIG_FILE}; a resumed run must use the same config")
    if (run_dir / SUMMARY_FILE).is_file():
        raise RunFolderError(f"run {run_dir} already finished ({SUMMARY_FILE} exists); nothing to resume")
    if not checkpoint.exists(run_dir):
        raise RunFolderError(f"run {run_dir} has no checkpoint yet; start it again instead")
    return saved


def _truncate(path: Path, size: int) -> None:
    """Drop metric lines written after the checkpoint (the killed run's lost steps)."""
    if path.is_file() and path.stat().st_size > size:
        with open(path, "r+b") as handle:
            handle.truncate(size)


def build_summary(cfg: TrainConfig, run: Run, result: dict) -> dict:
    """summary.json: the headline numbers first (imc.report.summary), then the trainer's full summary."""
    from .report.summary import headline

    return _json_safe({
        **headline(cfg, run, result, cfg.backend.preset or _default_preset(cfg)),
        "final": result["final"],
        "history": result["history"],
        "ledger": result["ledger"],
    })


def _default_preset(cfg: TrainConfig) -> str:
    from .registry import get_registry

    return get_registry().get(cfg.backend.name).info.default_preset


def write_report(run: Run, run_dir: Path, summary: dict) -> None:
    """Plots (and example images for image tasks) from the run's files."""
    from .report import plots

    plots.run_plots(run_dir)
    if run.data.kind == "image":
        # the four most detailed test tiles (largest spread of the clean image), in test order
        spread = run.data.y_test.reshape(len(run.data.y_test), -1).std(axis=1)
        pick = np.sort(np.argsort(-spread, kind="stable")[:4])
        x = run.data.x_test[pick]
        restored = run.compute.to_numpy(run.trainer.predict(run.compute.asarray(run.inputs(x))))
        plots.example_images(run_dir / "examples.png", x, restored, run.data.y_test[pick], run.data.name)


def format_summary(summary: dict) -> str:
    """A few human-readable lines for the terminal (and a warning line for a degenerate run)."""
    from .report.summary import format_lines

    return "\n".join(format_lines(summary))


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


__all__ = ["Run", "RunFolderError", "build_summary", "default_run_dir", "format_summary", "train_run"]
