"""The records plugins register, one kind per hook (see :mod:`imc.hookspecs`).

Every record has a ``name`` (unique within its kind across all plugins, imc's own
included) and a ``description``. First-party parts are registered through the same hooks
as a third party's, from an explicit list of imc modules (:data:`imc.registry.BUILTIN_PLUGINS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

_name: Any = attrs.field(validator=attrs.validators.instance_of(str))
_callable: Any = attrs.field(validator=attrs.validators.is_callable())


@attrs.frozen(kw_only=True)
class RuleInfo:
    """An update rule: ``factory(**params)`` builds an :class:`imc.rules.UpdateRule`."""

    name: str = _name
    factory: Callable[..., Any] = _callable
    description: str = ""


@attrs.frozen(kw_only=True)
class OptimizerInfo:
    """A digital optimiser: ``factory(**params)`` builds an :class:`imc.optim.Optimizer`."""

    name: str = _name
    factory: Callable[..., Any] = _callable
    description: str = ""


@attrs.frozen(kw_only=True)
class ModelInfo:
    """A model: ``factory(layers, **params)`` builds an :class:`imc.nn.Module`.

    ``layers`` is an :class:`imc.models.LayerFactory` (analog or digital layers, each with its
    own random stream). ``needs(data) -> dict`` declares what the model takes from the task's
    data: it returns the size parameters the factory gets on top of the user's (e.g.
    ``{"inputs": 64, "classes": 10}``) and raises :class:`imc.errors.ConfigValueError` when the
    data does not fit the model (a classifier on an image-to-image task). ``flatten`` says
    whether inputs are flattened to (batch, features) before the model. ``data_params`` names
    the factory parameters ``needs`` fills in (they are not config keys).
    """

    name: str = _name
    factory: Callable[..., Any] = _callable
    needs: Callable[[Any], dict[str, Any]] = _callable
    data_params: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    flatten: bool = False
    description: str = ""


@attrs.frozen(kw_only=True)
class TaskInfo:
    """A task: ``config`` is the attrs class of its ``[task]`` table (a ``name`` field whose
    default is the task's name), ``load(task_config) -> imc.tasks.TaskData`` reads its data."""

    name: str = _name
    config: type[Any] = attrs.field(validator=attrs.validators.instance_of(type))
    load: Callable[[Any], Any] = _callable
    description: str = ""


@attrs.frozen(kw_only=True)
class SubcommandInfo:
    """An ``imc`` subcommand: ``register(subparsers)`` adds its argparse parser and sets ``func``."""

    name: str = _name
    register: Callable[[Any], Any] = _callable
    description: str = ""


__all__ = ["ModelInfo", "OptimizerInfo", "RuleInfo", "SubcommandInfo", "TaskInfo"]
