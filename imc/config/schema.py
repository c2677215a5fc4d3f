"""The config's schema: ``TrainConfig`` and its tables (components, backend), and the default."""

from __future__ import annotations

import math
from typing import Any

import attrs

from ..fields import MAX_EPOCHS, bad, bits, int_at_least, number_in, one_of, path_string, run_name, string, to_float
from ..ledger import EnergyConstants
from .tasks import DigitsTask, TaskConfig


@attrs.frozen(kw_only=True)
class Component:
    """A named component (model, optimiser, rule) with its own parameters."""

    name: str = attrs.field(validator=string)
    params: dict = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ModelConfig(Component):
    """``imc.models.build(name, **params)``: "mlp", "cnn", "dncnn", "srnet"."""

    name: str = attrs.field(default="mlp", validator=string)


@attrs.frozen(kw_only=True)
class OptimizerConfig(Component):
    """``imc.optim.make_optimizer(name, **params)``: "sgd" (lr, momentum, ...), "adam"."""

    name: str = attrs.field(default="sgd", validator=string)


@attrs.frozen(kw_only=True)
class RuleConfig(Component):
    """``imc.rules.make_rule(name, **params)``: "ideal", "original", "eapu" (k), ..."""

    name: str = attrs.field(default="eapu", validator=string)


@attrs.frozen(kw_only=True)
class BackendConfig:
    """The device backend, its preset and spec overrides, and how weights map onto it.

    This is the TOML face of the engine's :class:`imc.nn.AnalogConfig`: the backend is named
    here and resolved once by :meth:`device`; :meth:`to_analog` gives the engine's object.

    TOML has no null, so 0 or "" mean "automatic"/"off": ``r_wg_per_us = 0`` picks 1/80 per
    uS for unbounded devices (the paper) and fills the window for bounded ones; ``mapping =
    ""`` picks a differential pair for bounded devices; tile sizes 0 = one array; converter
    bits 0 = no quantisation.
    """

    name: str = attrs.field(default="memristor", validator=string)
    preset: str = attrs.field(default="", validator=path_string)  # "" = the backend's default; a name or a file
    overrides: dict = attrs.field(factory=dict)
    r_wg_per_us: float = attrs.field(
        default=0.0, converter=to_float, validator=number_in(0.0, unit=" (weight per uS; 0 = automatic)")
    )
    w_max: float = attrs.field(
        default=1.0, converter=to_float, validator=number_in(0.0, unit=" (largest |weight| a bounded window holds)", open_low=True)
    )
    mapping: str = attrs.field(default="", validator=one_of("", "pair", "reference"))
    max_tile_rows: int = attrs.field(default=0, validator=int_at_least(0, " cells (0 = one array)"))
    max_tile_cols: int = attrs.field(default=0, validator=int_at_least(0, " cells (0 = one array)"))
    dac_bits: int = attrs.field(default=0, validator=bits)
    adc_bits: int = attrs.field(default=0, validator=bits)

    def device(self):
        """The cells this table names, resolved once: an :class:`imc.nn.DeviceSource`."""
        from ..nn.analog import DeviceSource

        return DeviceSource.from_registry(self.name, self.preset or None, **self.overrides)

    def to_analog(self, device=None):
        """The engine's :class:`imc.nn.AnalogConfig` for this table: the one place where the
        TOML conventions (0 and "" = automatic/off) become the engine's (None)."""
        from ..nn.analog import AnalogConfig

        return AnalogConfig(
            device=device if device is not None else self.device(),
            r_wg_per_us=self.r_wg_per_us or None,
            w_max=self.w_max,
            mapping=self.mapping or None,
            max_tile_rows=self.max_tile_rows or None,
            max_tile_cols=self.max_tile_cols or None,
            dac_bits=self.dac_bits or None,
            adc_bits=self.adc_bits or None,
        )


def _times(value):
    """A list of times in s (TOML array) as a tuple; anything else is left for the validator."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _times_s(instance, attribute, value):
    if not isinstance(value, tuple):
        raise bad(attribute, f"must be a list of times in s, e.g. [1, 3600, 86400, 3.15e7], got {value!r}")
    for t in value:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (math.isfinite(t) and t >= 0):
            raise bad(attribute, f"must hold finite times >= 0 s, got {t!r}")


@attrs.frozen(kw_only=True)
class EvaluateConfig:
    """Evaluation over time after training (``imc.evaluate``); ``times_s = []`` = off.

    For each time (s after the end of training) the trained arrays are drifted on a copy and
    the test metric measured. ``drift_compensation``: "off", "on" (a per-layer gain from a
    reference read) or "both" side by side.
    """

    times_s: Any = attrs.field(default=(), converter=_times, validator=_times_s)  # Any: the validator words the error
    drift_compensation: str = attrs.field(default="both", validator=one_of("off", "on", "both"))


LR_SCHEDULES = ("constant", "cosine")  # cosine: lr * (1 + cos(pi * step / steps)) / 2


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Everything one training run needs (see examples/configs/ for commented files)."""

    name: str = attrs.field(default="", validator=run_name)  # run name; "" = "<task>-<model>-<rule>"
    seed: int = attrs.field(default=0, validator=int_at_least(0))
    compute: str = attrs.field(default="cpu", validator=one_of("cpu", "gpu"))
    epochs: int = attrs.field(default=3, validator=int_at_least(1, high=MAX_EPOCHS))
    batch_size: int = attrs.field(default=32, validator=int_at_least(1, " samples"))
    output_dir: str = attrs.field(default="runs", validator=path_string)
    checkpoint_every: int = attrs.field(default=0, validator=int_at_least(0, " steps (0 = at each epoch end only)"))
    lr_schedule: str = attrs.field(default="constant", validator=one_of(*LR_SCHEDULES))
    task: TaskConfig = attrs.field(factory=DigitsTask)
    model: ModelConfig = attrs.field(factory=ModelConfig)
    backend: BackendConfig = attrs.field(factory=BackendConfig)
    optimizer: OptimizerConfig = attrs.field(factory=OptimizerConfig)
    rule: RuleConfig = attrs.field(factory=RuleConfig)
    energy: EnergyConstants = attrs.field(factory=EnergyConstants)  # [energy]: docs/energy.md
    evaluate: EvaluateConfig = attrs.field(factory=EvaluateConfig)

    @property
    def run_name(self) -> str:
        return self.name or f"{self.task.name}-{self.model.name}-{self.rule.name}"


def default_config() -> TrainConfig:
    """The built-in default: digits MLP on memristor "eapu-paper", SGD with momentum, EaPU.

    A small learning rate over 30 epochs (about two seconds on a laptop CPU) puts the
    proposed changes well below the 2 uS write noise, the regime the paper studies.
    """
    return TrainConfig(
        name="digits-mlp-eapu",
        epochs=30,
        batch_size=32,
        model=ModelConfig(name="mlp", params={"hidden": 64}),
        optimizer=OptimizerConfig(name="sgd", params={"lr": 0.005, "momentum": 0.9}),
        rule=RuleConfig(name="eapu", params={"k": 1.0}),
    )
