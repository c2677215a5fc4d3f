"""Dotted-key overrides (``--set rule.k=1.5``) applied to a config, and their parsing."""

from __future__ import annotations

from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ..errors import ConfigKeyError, ConfigValueError
from ..fields import unknown_key_message
from .components import component_defaults
from .convert import from_dict, to_dict
from .schema import TrainConfig
from .tasks import TASKS


def apply_overrides(cfg: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """A copy of ``cfg`` with dotted keys set: ``{"rule.k": 1.5, "epochs": 5}``.

    An unknown key raises :class:`ConfigKeyError` with the path and the closest valid key;
    a bad value raises :class:`ConfigValueError`. Setting ``task.name`` switches the task
    type (its other keys go back to that task's defaults unless also given); setting
    ``rule.name`` (or ``model.name``, ``optimizer.name``) keeps only the parameters the new
    component accepts, so ``{"rule.name": "original"}`` drops EaPU's ``k``.

    The run name follows the switch unless ``name`` itself is set: a name of the automatic
    form ``<task>-<model>-<rule>`` is derived again, and any other name ending in the old
    rule (or not naming it) gets the new rule, so ``digits-mlp-eapu`` becomes
    ``digits-mlp-original`` and ``my-run`` becomes ``my-run-original``.
    """
    data = to_dict(cfg)
    items = sorted(overrides.items(), key=lambda kv: (not kv[0].endswith(".name"), kv[0]))
    for dotted, value in items:
        parts = str(dotted).split(".")
        if not all(parts):
            raise ConfigKeyError(f"malformed config key {dotted!r}: use dotted names like 'rule.k'")
        if parts == ["task", "name"] and value != data["task"].get("name"):
            known = isinstance(value, str) and value in TASKS
            data["task"] = to_dict(TASKS[value]()) if known else {"name": value}
            continue
        if len(parts) == 2 and parts[0] in ("model", "optimizer", "rule") and parts[1] == "name":
            data[parts[0]] = _switch_component(parts[0], data[parts[0]], value)
            continue
        node = data
        for i, part in enumerate(parts[:-1]):
            if isinstance(node, dict) and part in node and not isinstance(node[part], dict):
                raise ConfigKeyError(f"config key {'.'.join(parts[: i + 1])!r} holds a value, not a table: "
                                     f"{dotted!r} names nothing; set {'.'.join(parts[: i + 1])!r} itself")
            if not isinstance(node, dict) or part not in node:
                raise ConfigKeyError(unknown_key_message(".".join(parts[: i + 1]), part, _all_paths(data)))
            node = node[part]
        leaf = parts[-1]
        open_table = parts[0] in ("model", "optimizer", "rule") or parts[:2] == ["backend", "overrides"]
        if leaf not in node and not open_table:
            raise ConfigKeyError(unknown_key_message(str(dotted), leaf, _all_paths(data)))
        node[leaf] = value
    if "name" not in overrides:
        data["name"] = _follow_name(cfg, data)
    return from_dict(data)


def _follow_name(cfg: TrainConfig, data: dict) -> str:
    """The run name after the overrides in ``data``, keeping ``cfg.name``'s intent (see above)."""
    old = (cfg.task.name, cfg.model.name, cfg.rule.name)
    if not all(isinstance(data.get(k), dict) for k in ("task", "model", "rule")):
        return cfg.name  # a table replaced by a value: from_dict reports it
    new = tuple(str(data[k].get("name", "")) for k in ("task", "model", "rule"))
    if not cfg.name or new == old:
        return cfg.name
    if cfg.name == "-".join(old):
        return "-".join(new)
    if new[2] == old[2]:
        return cfg.name
    stem = cfg.name.removesuffix(f"-{old[2]}")
    return f"{stem}-{new[2]}"


def _switch_component(kind: str, table: dict, name) -> dict:
    """A component table renamed to ``name``, keeping only parameters the new one accepts."""
    if name == table.get("name"):
        return table
    accepted = component_defaults(kind, name) if isinstance(name, str) else None
    params = {k: v for k, v in table.items() if k != "name" and accepted is not None and k in accepted}
    return {"name": name, **params}


def _all_paths(data: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        out.append(path)
        if isinstance(value, dict):
            out.extend(_all_paths(value, path + "."))
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` from the command line; the value is read as TOML (bare words = strings)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigValueError(f"override {text!r} must look like key=value, e.g. rule.k=1.5")
    from ..limits import MAX_NESTING, max_nesting

    if max_nesting(raw) > MAX_NESTING:
        raise ConfigValueError(f"override {key.strip()!r}: value nested more than {MAX_NESTING} deep")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value
