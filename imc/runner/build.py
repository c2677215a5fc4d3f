"""The build step: a config becomes ready objects, every name resolved here and only here.

``Run(cfg)`` resolves the task, model, optimiser, rule and backend through the catalogue
once and holds the objects (task data, the device source with its resolved spec, the
model on that device, optimiser, rule, trainer); everything below receives objects.
"""

from __future__ import annotations

import numpy as np

from ..compute import Compute
from ..config import TrainConfig
from ..errors import ComputeUnavailable, ConfigValueError, UserError
from ..spec import NATIVE_PROBABILISTIC
from ..tasks import TaskData, check_task_size


def _short(value, limit: int = 60) -> str:
    """A config value as the message shows it (long ones cut)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def analog_config(cfg: TrainConfig, device=None):
    """The engine's AnalogConfig for the config's [backend] table (see BackendConfig.to_analog)."""
    return cfg.backend.to_analog(device)


def model_inputs(cfg: TrainConfig, data: TaskData) -> tuple[dict, bool]:
    """(parameters the model takes from the data, whether inputs are flattened): the model's own ``needs``."""
    from ..registry import get_registry

    info = get_registry().lookup("model", cfg.model.name)
    return info.needs(data), info.flatten


class Run:
    """Everything a run needs, built from a config (nothing is written yet)."""

    def __init__(self, cfg: TrainConfig, callbacks=()):
        from .. import nn
        from ..models import LayerFactory
        from ..registry import get_registry
        from ..train import Trainer

        catalogue = get_registry()
        self.cfg = cfg
        check_task_size(cfg.task)  # before any patch is cut
        self.data = catalogue.lookup("task", cfg.task.name).load(cfg.task)
        model = catalogue.lookup("model", cfg.model.name)
        sizes = model.needs(self.data)
        self.flatten = model.flatten
        try:
            self.compute = Compute.create(cfg.compute, seed=cfg.seed)
        except RuntimeError as exc:  # no cupy or no CUDA device: the user's to fix
            raise ComputeUnavailable(f"compute: {exc}") from None
        self.device = cfg.backend.device()  # resolved spec + factory: the one lookup of the backend
        self.analog = cfg.backend.to_analog(self.device)
        try:
            self.model = model.factory(LayerFactory(self.compute, self.analog), **sizes, **cfg.model.params)
        except (TypeError, ValueError, UserError) as exc:  # the model's own check of its parameters (hidden = 0, ...)
            if isinstance(exc, UserError) and "model." in str(exc):  # names its key already
                raise
            given = ", ".join(f"model.{k} = {_short(v)}" for k, v in cfg.model.params.items())
            text = f"model {cfg.model.name!r}" + (f" with {given}" if given else "") + f": {' '.join(str(exc).split())}"
            raise (type(exc)(text) if isinstance(exc, UserError) else ConfigValueError(text)) from None
        self.optimizer = catalogue.lookup("optimizer", cfg.optimizer.name).factory(**cfg.optimizer.params)
        self.rule = catalogue.lookup("update rule", cfg.rule.name).factory(**cfg.rule.params)
        if getattr(self.rule, "native", False) and NATIVE_PROBABILISTIC not in self.device.spec.capabilities:
            raise ConfigValueError(
                f"rule.native = true needs a device with native probabilistic switching (e.g. backend.name = "
                f"\"mram\"); {cfg.backend.name} {self.device.spec.name!r} has none: set rule.native = false"
            )
        self.loss = nn.CrossEntropyLoss() if self.data.kind == "classification" else nn.MSELoss()
        self.trainer = Trainer(
            self.model, self.loss, self.optimizer, self.rule, self.compute,
            batch_size=cfg.batch_size, seed=cfg.seed, metric=self.data.metric, callbacks=callbacks, energy=cfg.energy,
        )

    @property
    def spec(self):
        """The device spec the run's weights live on."""
        return self.device.spec

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
