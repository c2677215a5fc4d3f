"""Training configs: TOML files loaded into frozen attrs classes through one cattrs converter.

A config names everything a run needs: the task (data), the model, the device backend with
its preset and spec overrides, the optimiser, the update rule with its parameters, and the
loop (epochs, batch size, seed, compute, output folder). Every key is checked: an unknown
key is a :class:`ConfigKeyError` naming its dotted path and the closest valid key; a wrong
type or out-of-range value is a :class:`ConfigValueError` with the path and the unit. Both
are :class:`imc.errors.UserError` (one line, exit code 2 on the command line).

Public API::

    load_config(path) -> TrainConfig            # TOML file
    default_config() -> TrainConfig             # digits MLP, memristor "eapu-paper", EaPU
    to_dict(cfg) / from_dict(d)                 # plain TOML/JSON-able dicts
    apply_overrides(cfg, {"rule.k": 1.5, "backend.overrides.write_noise_us": 2.4})
    to_toml(cfg) -> str

Model, optimiser and rule tables hold a ``name`` plus that component's own parameters
(``[rule] name = "eapu"  k = 1.0``); the parameter names are checked against the
component's signature. Backend spec overrides live in ``[backend.overrides]`` and are
checked against the backend's spec (``write_noise_us`` etc., units in the names).

Modules: ``tasks`` (the [task] table: each task's class lives with its loader in imc.tasks),
``schema`` (TrainConfig and its tables, the default), ``components`` (component parameters
from signatures), ``convert`` (dict <-> config, cross-checks, TOML text), ``files``
(load_config), ``overrides`` (dotted ``--set`` keys).
"""

from ..errors import ConfigKeyError, ConfigValueError
from .components import component_defaults, resolved_params
from .convert import from_dict, resolved_dict, to_dict, to_toml
from .files import load_config
from .overrides import apply_overrides, parse_override
from .schema import (
    LR_SCHEDULES,
    BackendConfig,
    Component,
    EvaluateConfig,
    ModelConfig,
    OptimizerConfig,
    RuleConfig,
    TrainConfig,
    default_config,
)
from .tasks import TASKS, DenoiseTask, DigitsTask, ImageFolderTask, NpzTask, SuperResTask, TaskConfig

__all__ = [
    "LR_SCHEDULES",
    "TASKS",
    "BackendConfig",
    "Component",
    "ConfigKeyError",
    "ConfigValueError",
    "DenoiseTask",
    "DigitsTask",
    "EvaluateConfig",
    "ImageFolderTask",
    "ModelConfig",
    "NpzTask",
    "OptimizerConfig",
    "RuleConfig",
    "SuperResTask",
    "TaskConfig",
    "TrainConfig",
    "apply_overrides",
    "component_defaults",
    "default_config",
    "from_dict",
    "load_config",
    "parse_override",
    "resolved_dict",
    "resolved_params",
    "to_dict",
    "to_toml",
]
