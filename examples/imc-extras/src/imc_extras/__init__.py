"""imc-extras: a task, a model and an update rule added to imc's catalogue through hooks."""

from imc import hookimpl

from .deep_mlp import INFO as DEEP_MLP
from .spirals import INFO as SPIRALS
from .threshold import INFO as THRESHOLD

__all__ = ["imc_models", "imc_tasks", "imc_update_rules"]


@hookimpl
def imc_tasks():
    return [SPIRALS]


@hookimpl
def imc_models():
    return [DEEP_MLP]


@hookimpl
def imc_update_rules():
    return [THRESHOLD]
