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
    annotations = parameter_kinds(kind, comp.name)
    for key, value in comp.params.items():
        _check_kind(f"{kind}.{key}", annotations.get(key, ""), value)
    if kind in ("optimizer", "rule"):  # cheap to build: let the component check its own values
        try:
            factories[comp.name](**comp.params)
        except (TypeError, ValueError) as exc:
            raise ConfigValueError(f"{kind} {comp.name!r}: {exc}") from None


# a parameter's annotation (as its factory writes it) -> (accepts, what the message says it must be)
_KINDS = {
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "float": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "list": (lambda v: isinstance(v, list), "a list"),
}


def parameter_kinds(kind: str, name: str) -> dict[str, str]:
    """Parameter name -> its annotation's kind ("int", "float", "bool", "str", "list"; "" = any)."""
    records = _records(kind)
    if name not in records:
        return {}
    try:
        params = inspect.signature(records[name].factory).parameters
    except (TypeError, ValueError):
        return {}
    out = {}
    for p in params.values():
        text = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        text = str(text).replace(" ", "").replace("|None", "").replace("Optional[", "").rstrip("]")
        out[p.name] = text if text in _KINDS else ""
    return out


def _check_kind(path: str, annotation: str, value: Any) -> None:
    """Refuse a value of the wrong kind for an annotated parameter, naming the key."""
    if not annotation:
        return
    accepts, wanted = _KINDS[annotation]
    if not accepts(value):
        raise ConfigValueError(f"{path} must be {wanted}, got {value!r}")


def resolved_params(kind: str, comp: Component) -> dict:
    """The component's parameters with its defaults filled in (for display and records)."""
    defaults = component_defaults(kind, comp.name) or {}
    out = {k: v for k, v in defaults.items() if v is not inspect.Parameter.empty and tomlable(v)}
    out.update(comp.params)
    return out
