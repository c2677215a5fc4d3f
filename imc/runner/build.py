"""Building a run from a config: compute, task data, model, optimiser, rule and trainer."""

from __future__ import annotations

import numpy as np

from ..compute import Compute
from ..config import TrainConfig
from ..errors import ComputeUnavailable, ConfigValueError, UserError
from ..tasks import TaskData, load_task


def analog_config(cfg: TrainConfig):
    """The engine's AnalogConfig for the config's [backend] table (0/"" mean automatic/off)."""
    from ..nn import AnalogConfig

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
        raise ConfigValueError(f"model {name!r} needs image inputs (C, H, W); task {data.name!r} gives samples of shape {shape}")
    channels, height, width = shape
    if name == "cnn":
        if height != width:
            raise ConfigValueError(f"model 'cnn' needs square images; task {data.name!r} gives {height}x{width}")
        return {"size": height, "in_channels": channels, "classes": _classes(cfg, data)}, False
    if data.kind != "image":
        raise ConfigValueError(f"model {name!r} is image-to-image; task {data.name!r} is classification (use mlp or cnn)")
    if name == "dncnn":
        return {"image_channels": channels}, False
    if name == "srnet":
        factor = data.y_train.shape[2] // height
        if factor < 2 or data.y_train.shape[2] != factor * height:
            raise ConfigValueError(f"model 'srnet' needs targets an integer factor >= 2 larger than inputs; got {shape} -> {data.y_train.shape[1:]}")
        return {"image_channels": channels, "factor": factor}, False
    return {}, False


def _classes(cfg: TrainConfig, data: TaskData) -> int:
    if data.kind != "classification":
        raise ConfigValueError(f"model {cfg.model.name!r} is a classifier; task {data.name!r} is image-to-image (use dncnn or srnet)")
    return data.n_classes


class Run:
    """Everything a run needs, built from a config (nothing is written yet)."""

    def __init__(self, cfg: TrainConfig, callbacks=()):
        from .. import models, nn
        from ..optim import make_optimizer
        from ..rules import make_rule
        from ..train import Trainer

        self.cfg = cfg
        self.data = load_task(cfg.task)
        sizes, self.flatten = model_inputs(cfg, self.data)
        try:
            self.compute = Compute.create(cfg.compute, seed=cfg.seed)
        except RuntimeError as exc:  # no cupy or no CUDA device: the user's to fix
            raise ComputeUnavailable(f"compute: {exc}") from None
        try:
            self.model = models.build(cfg.model.name, analog=analog_config(cfg), compute=self.compute,
                                      **sizes, **cfg.model.params)
        except (TypeError, ValueError) as exc:  # the model's own check of its parameters (hidden = 0, ...)
            if isinstance(exc, UserError):
                raise
            raise ConfigValueError(f"model {cfg.model.name!r}: {' '.join(str(exc).split())}") from None
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
