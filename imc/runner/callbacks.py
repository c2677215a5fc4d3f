"""Trainer callbacks of a run: metrics log, checkpoints, learning-rate schedule, progress bar."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

from .. import checkpoint
from ..limits import disk_full, is_disk_full
from .summary import json_safe


class MetricsLog:
    """Appends one JSON line per step and per epoch to metrics.jsonl.

    It keeps a SHA-256 of everything in the file, so each checkpoint records how many bytes
    of metrics it covers and their checksum (a resume refuses a missing, shortened or edited
    file); :meth:`sync` puts the lines on disk before a checkpoint names them.
    """

    def __init__(self, path: Path, verified_prefix: bytes = b""):
        self.path = path
        self.digest = hashlib.sha256(verified_prefix)
        self.handle = open(path, "ab")  # noqa: SIM115  (kept open for the run)

    def write(self, record: dict) -> None:
        line = (json.dumps(json_safe(record)) + "\n").encode("utf-8")
        try:
            self.handle.write(line)
            self.handle.flush()
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full(exc, self.path, len(line)) from None
            raise
        self.digest.update(line)

    def sync(self) -> None:
        """Flush and fsync: the lines a checkpoint is about to cover are on disk."""
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def sha256(self) -> str:
        return self.digest.hexdigest()

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
    """Saves a checkpoint at each epoch end and every ``every`` steps (0 = epoch ends only).

    A step that ends an epoch is saved after that epoch's evaluation, so a resumed run
    never skips an evaluation. Each checkpoint binds the run's resolved config (``bound``,
    with its SHA-256) and the bytes and checksum of metrics.jsonl it covers, after syncing
    that file to disk.
    """

    def __init__(self, folder: Path, every: int, steps_per_epoch: int, log: MetricsLog, bound: dict | None = None):
        self.folder, self.every, self.spe, self.log = folder, every, steps_per_epoch, log
        self.bound = bound or {}

    def save(self, trainer) -> None:
        self.log.sync()
        meta = {"metrics_bytes": self.log.size(), "metrics_sha256": self.log.sha256(), **self.bound}
        checkpoint.save(self.folder, {"trainer": trainer.state()}, trainer.step, meta)

    def on_step(self, trainer, metrics):
        if self.every and trainer.step % self.every == 0 and trainer.step % self.spe != 0:
            self.save(trainer)

    def on_epoch_end(self, trainer, metrics):
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
    """Training progress: a tqdm bar on a terminal, plain lines elsewhere, nothing when quiet.

    ``mode`` is "bar" (live loss, accuracy/PSNR and update ratio), "lines" (one line per
    epoch, and one every ``every_s`` seconds within a long epoch, with step, loss, metric
    and elapsed seconds: what CI logs, nohup and notebooks can show) or "off". "auto"
    picks "bar" when ``stream`` is a terminal and "lines" otherwise.
    """

    def __init__(self, total: int, initial: int, metric: str, name: str, mode: str = "auto",
                 stream=None, every_s: float = 30.0):
        import sys
        import time

        self.stream = stream if stream is not None else sys.stdout
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "lines"
        if mode not in ("bar", "lines", "off"):
            raise ValueError(f"progress mode must be auto, bar, lines or off, got {mode!r}")
        self.mode, self.metric, self.name, self.total, self.every_s = mode, metric, name, int(total), float(every_s)
        self.clock = time.monotonic
        self.start = self.last_line = self.clock()
        self.last_metric = None
        self.bar = None
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=name, unit="step", dynamic_ncols=True, file=self.stream)

    def _metric_text(self, value) -> str:
        return f"{value:.4f}" if self.metric == "accuracy" else f"{value:.2f} dB"

    def _line(self, trainer, loss: float, head: str) -> None:
        parts = [f"{self.name}: {head} step {trainer.step}/{self.total}", f"loss {loss:.4f}"]
        if self.last_metric is not None:
            parts.append(f"{self.metric} {self._metric_text(self.last_metric)}")
        elapsed = self.clock() - self.start
        parts.append(f"{elapsed:.1f} s")
        print(", ".join(parts), file=self.stream, flush=True)
        self.last_line = self.clock()

    def on_step(self, trainer, metrics):
        if self.bar is not None:
            self.bar.update(1)
            post = {"loss": f"{metrics['loss']:.4f}", "upd": f"{metrics['update_ratio']:.2e}"}
            if self.last_metric is not None:
                post[self.metric] = self._metric_text(self.last_metric).replace(" ", "")
            self.bar.set_postfix(post, refresh=False)
        elif self.mode == "lines" and self.clock() - self.last_line >= self.every_s:
            self._line(trainer, metrics["loss"], f"epoch {metrics['epoch'] + 1},")

    def on_epoch_end(self, trainer, metrics):
        self.last_metric = metrics.get(self.metric)
        if self.mode == "lines":
            self._line(trainer, metrics["train_loss"], f"epoch {metrics['epoch']} done,")

    def close(self):
        if self.bar is not None:
            self.bar.close()
