"""Dicts <-> configs through one strict cattrs converter, with errors naming the key's path."""

from __future__ import annotations

import math
import re

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

from ..errors import ConfigKeyError, ConfigValueError
from ..fields import tomlable, unknown_key_message
from ..limits import FLOAT32_MAX, INT_MAX
from ..spec import unknown_name_message
from .components import check_component, resolved_params
from .schema import ModelConfig, OptimizerConfig, RuleConfig, TrainConfig
from .tasks import TASKS, TaskConfig

_converter = cattrs.Converter(forbid_extra_keys=True)


def _structure_task(data, _type):
    if not isinstance(data, dict):
        raise ConfigValueError(f"must be a table, got {data!r}")
    name = data.get("name", "digits")
    if not isinstance(name, str) or name not in TASKS:
        raise ConfigValueError(unknown_name_message("task", name, TASKS), key="name")
    return _converter.structure(data, TASKS[name])


def _component_hook(cls):
    def structure(data, _type):
        if not isinstance(data, dict):
            raise ConfigValueError(f"must be a table, got {data!r}")
        data = dict(data)
        name = data.pop("name", attrs.fields(cls).name.default)
        for key, value in data.items():
            if not tomlable(value):
                raise ConfigValueError(f"{key} must be a number, string, boolean, list or table, got {value!r}")
            _check_held(key, value)
        return cls(name=name, params=data)

    return structure


def _check_held(key: str, value) -> None:
    """Component parameters end up in int64 / float32 arrays: refuse numbers they cannot hold."""
    if isinstance(value, dict):
        for sub, item in value.items():
            _check_held(f"{key}.{sub}", item)
        return
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, (list, dict)):
            _check_held(key, item)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and abs(item) > INT_MAX:
            raise ConfigValueError(f"{key} must be an integer within +-{INT_MAX}, got {item}")
        elif isinstance(item, float) and not (math.isfinite(item) and abs(item) <= FLOAT32_MAX):
            raise ConfigValueError(f"{key} must be a finite number within +-{FLOAT32_MAX:.4g} (float32), got {item!r}")


def _unstructure_component(comp) -> dict:
    return {"name": comp.name, **comp.params}


def _structure_overrides(data, _type):
    if not isinstance(data, dict):
        raise ConfigValueError(f"must be a table of spec field = value, got {data!r}")
    return dict(data)


def _strict_str(value, _type):
    if not isinstance(value, str):
        raise ConfigValueError(f"must be a string, got {value!r}")
    return value


def _strict_int(value, _type):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigValueError(f"must be an integer, got {value!r}")
    return value


def _strict_float(value, _type):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigValueError(f"must be a number, got {value!r}")
    return float(value)


_converter.register_structure_hook(TaskConfig, _structure_task)
_converter.register_unstructure_hook(TaskConfig, lambda task: _converter.unstructure(task, type(task)))
for _cls in (ModelConfig, OptimizerConfig, RuleConfig):
    _converter.register_structure_hook(_cls, _component_hook(_cls))
    _converter.register_unstructure_hook(_cls, _unstructure_component)
_converter.register_structure_hook(str, _strict_str)
_converter.register_structure_hook(int, _strict_int)
_converter.register_structure_hook(float, _strict_float)
_converter.register_structure_hook(dict, _structure_overrides)


def _field_paths(cls, prefix: str) -> list[str]:
    return [f"{prefix}{a.name}" for a in attrs.fields(cls)]


def _first_error(exc: BaseException, path: str) -> Exception:
    """Turn a cattrs error tree into one ConfigKeyError/ConfigValueError with the key's path."""
    if isinstance(exc, ForbiddenExtraKeysError):
        key = min(exc.extra_fields)
        prefix = f"{path}." if path else ""
        return ConfigKeyError(unknown_key_message(prefix + key, key, _field_paths(exc.cl, prefix)))
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        with_notes, without_notes = exc.group_exceptions()
        for inner in without_notes:  # e.g. extra keys at this level
            return _first_error(inner, path)
        for inner, note in with_notes:
            name = getattr(note, "name", None)
            if name is None:
                name = f"[{getattr(note, 'index', '?')}]"
            sub = f"{path}.{name}" if path else str(name)
            return _first_error(inner, sub)
        return ConfigValueError(f"{path}: {exc}")
    if isinstance(exc, ConfigKeyError):
        return exc
    if isinstance(exc, ConfigValueError) and exc.key:
        full = f"{path}.{exc.key}" if path else exc.key
        return ConfigValueError(f"{full}: {exc}")
    if isinstance(exc, KeyError):  # e.g. a required field missing
        return ConfigValueError(f"{path}: missing required key {exc}")
    message = str(exc)
    named = re.match(r"'(\w+)' (must .*)", message)  # attrs' own validators: "'field' must be <= 24: 25"
    if named:
        path, message = (f"{path}.{named[1]}" if path else named[1]), named[2]
    elif isinstance(exc, TypeError):
        message = f"wrong type: {message}"
    return ConfigValueError(f"{path}: {message}" if path else message)


def from_dict(data: dict) -> TrainConfig:
    """Build and fully validate a config from a plain dict (as read from TOML or JSON)."""
    if not isinstance(data, dict):
        raise ConfigValueError(f"a config is a table of keys, got {type(data).__name__}")
    try:
        cfg = _converter.structure(data, TrainConfig)
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        raise _first_error(exc, "") from None
    _validate_cross(cfg)
    return cfg


def _validate_cross(cfg: TrainConfig) -> None:
    """Checks that need more than one field or an installed plugin."""
    from ..registry import get_registry

    try:
        info = get_registry().get(cfg.backend.name).info
    except KeyError as exc:
        raise ConfigValueError("backend.name: " + str(exc.args[0])) from None
    preset = cfg.backend.preset or info.default_preset
    try:  # through BackendInfo.spec: also presets a backend resolves itself (table: a .json path)
        preset_spec = info.spec(preset)
    except KeyError as exc:
        raise ConfigValueError("backend.preset: " + str(exc.args[0])) from None
    except ValueError as exc:
        raise ConfigValueError(f"backend.preset: {exc}") from None
    spec_cls = type(preset_spec)
    settable = spec_cls.settable_fields()
    for key in cfg.backend.overrides:
        if key in spec_cls.derived_fields:
            raise ConfigValueError(
                f"backend.overrides.{key}: {spec_cls.__name__} derives {key} ({spec_cls.derived_fields[key]}); "
                "it cannot be set"
            )
        if key not in settable:
            valid = [f"backend.overrides.{f}" for f in settable]
            raise ConfigKeyError(unknown_key_message(f"backend.overrides.{key}", key, valid))
    for key, value in cfg.backend.overrides.items():  # one at a time: the message names the key
        try:
            preset_spec.evolve(**{key: value})
        except (TypeError, ValueError) as exc:
            raise ConfigValueError(f"backend.overrides.{key}: {_spec_message(key, value, exc)}") from None
    try:
        info.spec(preset, **cfg.backend.overrides)
    except (TypeError, ValueError) as exc:
        keys = ", ".join(f"backend.overrides.{k}" for k in cfg.backend.overrides)
        raise ConfigValueError(f"{keys}: {exc}") from None
    for kind in ("model", "optimizer", "rule"):
        check_component(kind, getattr(cfg, kind))


def _spec_message(key: str, value, exc: BaseException) -> str:
    """A spec's refusal of one value, worded for the user (a bare float() failure says what is expected)."""
    text = " ".join(str(exc).split()).removeprefix(f"{key}: ")  # the path is added by the caller
    if text.startswith(("could not convert", "float() argument")):
        return f"must be {'a list of numbers' if isinstance(value, list) else 'a number'}, got {value!r}"
    return text


def to_dict(cfg: TrainConfig) -> dict:
    """A plain nested dict (TOML and JSON-able) that :func:`from_dict` turns back into ``cfg``."""
    return _converter.unstructure(cfg)


def resolved_dict(cfg: TrainConfig) -> dict:
    """Like :func:`to_dict`, with the backend preset and component defaults filled in."""
    out = to_dict(cfg)
    if not out["backend"]["preset"]:
        from ..registry import get_registry

        out["backend"]["preset"] = get_registry().get(cfg.backend.name).info.default_preset
    for kind in ("model", "optimizer", "rule"):
        comp = getattr(cfg, kind)
        out[kind] = {"name": comp.name, **resolved_params(kind, comp)}
    return out


def to_toml(cfg: TrainConfig, resolved: bool = True) -> str:
    """The config as TOML text (defaults filled in when ``resolved``)."""
    import tomli_w

    return tomli_w.dumps(resolved_dict(cfg) if resolved else to_dict(cfg))
