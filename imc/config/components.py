"""The parameters of named components (model, optimiser, rule), read from their signatures."""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import ConfigKeyError, ConfigValueError
from ..spec import unknown_name_message
from .checks import tomlable, unknown_key_message
from .schema import Component


def _component_factories(kind: str) -> dict[str, Any] | None:
    """name -> callable whose signature lists the component's parameters; None if unknown yet."""
    try:
        if kind == "rule":
            from ..rules import rules

            return {name: info.factory for name, info in rules().items()}
        if kind == "optimizer":
            from ..optim import OPTIMIZERS

            return dict(OPTIMIZERS)
        if kind == "model":
            from ..models import MODELS

            return dict(MODELS)
    except ImportError:
        return None
    return None


# Arguments the engine or the runner supplies (the runner derives model sizes from the data).
_ENGINE_ARGS = {"analog", "compute", "self", "f", "pm"}
DATA_PARAMS = {"inputs", "classes", "size", "in_channels", "image_channels", "factor"}


def component_defaults(kind: str, name: str) -> dict[str, Any] | None:
    """Parameter name -> default (``inspect.Parameter.empty`` if required) of one component.

    None when the component's module cannot tell (not installed, or takes ``**kwargs``).
    """
    factories = _component_factories(kind)
    if factories is None or name not in factories:
        return None
    try:
        sig = inspect.signature(factories[name])
    except (TypeError, ValueError):
        return None
    out = {}
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind is p.VAR_POSITIONAL or p.kind is p.POSITIONAL_ONLY or p.name in _ENGINE_ARGS:
            continue
        if kind == "model" and p.name in DATA_PARAMS:
            continue
        out[p.name] = p.default
    return out


def check_component(kind: str, comp: Component) -> None:
    """Refuse an unknown component name or parameter; let optimisers and rules check values."""
    factories = _component_factories(kind)
    if factories is None:
        return
    if comp.name not in factories:
        raise ConfigValueError(f"{kind}.name: " + unknown_name_message(kind, comp.name, factories))
    accepted = component_defaults(kind, comp.name)
    if accepted is None:
        return
    for key in comp.params:
        if key not in accepted:
            raise ConfigKeyError(
                unknown_key_message(f"{kind}.{key}", key, [f"{kind}.{k}" for k in ["name", *accepted]])
            )
    if kind in ("optimizer", "rule"):  # cheap to build: let the component check its own values
        try:
            factories[comp.name](**comp.params)
        except (TypeError, ValueError) as exc:
            raise ConfigValueError(f"{kind} {comp.name!r}: {exc}") from None


def resolved_params(kind: str, comp: Component) -> dict:
    """The component's parameters with its defaults filled in (for display and records)."""
    defaults = component_defaults(kind, comp.name) or {}
    out = {k: v for k, v in defaults.items() if v is not inspect.Parameter.empty and tomlable(v)}
    out.update(comp.params)
    return out
