"""The parameters of named components (model, optimiser, rule), read from their signatures."""

from __future__ import annotations

import inspect
from typing import Any

from ..errors import ConfigKeyError, ConfigValueError
from ..fields import tomlable, unknown_key_message
from ..spec import unknown_name_message
from .schema import Component

KINDS = {"model": "model", "optimizer": "optimizer", "rule": "update rule"}  # config table -> catalogue kind


def _records(kind: str) -> dict:
    from ..registry import get_registry

    return get_registry().records(KINDS[kind])


def _component_factories(kind: str) -> dict[str, Any]:
    """name -> callable whose signature lists the component's parameters, from the catalogue."""
    return {name: info.factory for name, info in _records(kind).items()}


# Arguments the engine supplies (a model's layer factory, the compute); a model's ModelInfo
# names the parameters its ``needs`` fills in from the task's data.
_ENGINE_ARGS = {"analog", "compute", "self", "f", "pm"}


def component_defaults(kind: str, name: str) -> dict[str, Any] | None:
    """Parameter name -> default (``inspect.Parameter.empty`` if required) of one component.

    None when the component cannot tell (not installed, or takes ``**kwargs``).
    """
    records = _records(kind)
    if name not in records:
        return None
    info = records[name]
    try:
        sig = inspect.signature(info.factory)
    except (TypeError, ValueError):
        return None
    skip = _ENGINE_ARGS | set(getattr(info, "data_params", ()))
    out = {}
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind is p.VAR_POSITIONAL or p.kind is p.POSITIONAL_ONLY or p.name in skip:
            continue
        out[p.name] = p.default
    return out


def check_component(kind: str, comp: Component) -> None:
    """Refuse an unknown component name or parameter; let optimisers and rules check values."""
    factories = _component_factories(kind)
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
