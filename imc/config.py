"""Training configs: TOML files loaded into frozen attrs classes through one cattrs converter.

A config names everything a run needs: the task (data), the model, the device backend with
its preset and spec overrides, the optimiser, the update rule with its parameters, and the
loop (epochs, batch size, seed, compute, output folder). Every key is checked: an unknown
key is a :class:`ConfigKeyError` naming its dotted path and the closest valid key; a wrong
type or out-of-range value is a :class:`ConfigValueError` with the path and the unit.

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
"""

from __future__ import annotations

import difflib
import inspect
import math
import os
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from .ledger import EnergyConstants
from .spec import unknown_name_message


class ConfigKeyError(KeyError):
    """An unknown config key (the message names its path and the closest valid key)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigValueError(ValueError):
    """A config value of the wrong type or out of range (path and unit in the message).

    ``key`` names the offending field when the error is raised inside its class; the
    path of the enclosing table is added when the error reaches the top.
    """

    def __init__(self, message: str, key: str = ""):
        super().__init__(message)
        self.key = key


def _bad(attribute, message: str) -> ConfigValueError:
    return ConfigValueError(message, key=attribute.name)


# ---------------------------------------------------------------------------- validators
def _int_at_least(low: int, unit: str = ""):
    def check(instance, attribute, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(attribute, f"must be an integer{unit}, got {value!r}")
        if value < low:
            raise _bad(attribute, f"must be an integer >= {low}{unit}, got {value!r}")

    return check


def _number_in(low: float, high: float = math.inf, unit: str = "", open_low: bool = False):
    def check(instance, attribute, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _bad(attribute, f"must be a finite number{unit}, got {value!r}")
        if value < low or (open_low and value == low) or value > high:
            lo = "(" if open_low else "["
            hi = "]" if math.isfinite(high) else ")"
            raise _bad(attribute, f"must lie in {lo}{low}, {high}{hi}{unit}, got {value!r}")

    return check


def _one_of(*choices: str):
    def check(instance, attribute, value):
        if value not in choices:
            raise _bad(attribute, unknown_name_message(attribute.name, value, choices))

    return check


def _string(instance, attribute, value):
    if not isinstance(value, str):
        raise _bad(attribute, f"must be a string, got {value!r}")


def _bits(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or (value != 0 and value < 2):
        raise _bad(attribute, f"must be 0 (no quantisation) or an integer >= 2 (bits), got {value!r}")


def _to_float(value):
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


# ---------------------------------------------------------------------------- tasks
@attrs.frozen(kw_only=True)
class DigitsTask:
    """scikit-learn's 8x8 digits (1797 images, 10 classes); inputs scaled to [0, 1]."""

    name: str = attrs.field(default="digits", validator=_one_of("digits"))
    test_fraction: float = attrs.field(default=0.25, converter=_to_float, validator=_number_in(0.05, 0.9))
    split_seed: int = attrs.field(default=0, validator=_int_at_least(0))


@attrs.frozen(kw_only=True)
class DenoiseTask:
    """Gaussian denoising on gray patches of natural images; PSNR on held-out images.

    ``image_dir`` (a folder of images) replaces scikit-image's bundled pictures; then the
    last ``test_images`` files (sorted by name) are held out.
    """

    name: str = attrs.field(default="denoise", validator=_one_of("denoise"))
    noise_sigma: float = attrs.field(
        default=0.1, converter=_to_float, validator=_number_in(0.0, 1.0, " (fraction of the [0, 1] intensity range)", True)
    )
    patch_size: int = attrs.field(default=16, validator=_int_at_least(4, " pixels"))
    patches: int = attrs.field(default=768, validator=_int_at_least(1, " training patches"))
    test_size: int = attrs.field(default=64, validator=_int_at_least(8, " pixels (side of each test crop)"))
    image_scale: float = attrs.field(
        default=0.5, converter=_to_float, validator=_number_in(0.05, 1.0, " (resize factor of the source images)")
    )
    image_dir: str = attrs.field(default="", validator=_string)
    test_images: int = attrs.field(default=2, validator=_int_at_least(1, " held-out images"))
    split_seed: int = attrs.field(default=0, validator=_int_at_least(0))


@attrs.frozen(kw_only=True)
class SuperResTask:
    """2x super-resolution: bicubic-downsampled gray patches in, the originals out."""

    name: str = attrs.field(default="superres", validator=_one_of("superres"))
    scale: int = attrs.field(default=2, validator=_int_at_least(2, " (upscaling factor)"))
    patch_size: int = attrs.field(default=16, validator=_int_at_least(4, " pixels (high-resolution side)"))
    patches: int = attrs.field(default=768, validator=_int_at_least(1, " training patches"))
    test_size: int = attrs.field(default=64, validator=_int_at_least(8, " pixels (high-resolution test crop side)"))
    image_scale: float = attrs.field(
        default=0.5, converter=_to_float, validator=_number_in(0.05, 1.0, " (resize factor of the source images)")
    )
    image_dir: str = attrs.field(default="", validator=_string)
    test_images: int = attrs.field(default=2, validator=_int_at_least(1, " held-out images"))
    split_seed: int = attrs.field(default=0, validator=_int_at_least(0))

    def __attrs_post_init__(self):
        if self.patch_size % self.scale or self.test_size % self.scale:
            raise ConfigValueError(
                f"patch_size ({self.patch_size}) and test_size ({self.test_size}) must be multiples of scale ({self.scale})"
            )


@attrs.frozen(kw_only=True)
class NpzTask:
    """The user's own arrays: a .npz with ``x`` and ``y`` (and optionally ``x_test``, ``y_test``).

    Integer ``y`` means classification (accuracy); float ``y`` shaped like an image means
    image-to-image regression (PSNR, values in [0, 1]).
    """

    name: str = attrs.field(default="npz", validator=_one_of("npz"))
    path: str = attrs.field(default="", validator=_string)
    test_fraction: float = attrs.field(default=0.2, converter=_to_float, validator=_number_in(0.05, 0.9))
    split_seed: int = attrs.field(default=0, validator=_int_at_least(0))


@attrs.frozen(kw_only=True)
class ImageFolderTask:
    """Classification from a folder with one sub-folder of images per class."""

    name: str = attrs.field(default="images", validator=_one_of("images"))
    path: str = attrs.field(default="", validator=_string)
    size: int = attrs.field(default=16, validator=_int_at_least(4, " pixels (images are resized to size x size)"))
    test_fraction: float = attrs.field(default=0.2, converter=_to_float, validator=_number_in(0.05, 0.9))
    split_seed: int = attrs.field(default=0, validator=_int_at_least(0))


TASKS = {cls().name: cls for cls in (DigitsTask, DenoiseTask, SuperResTask, NpzTask, ImageFolderTask)}
TaskConfig = DigitsTask | DenoiseTask | SuperResTask | NpzTask | ImageFolderTask


# ---------------------------------------------------------------------------- components
@attrs.frozen(kw_only=True)
class Component:
    """A named component (model, optimiser, rule) with its own parameters."""

    name: str = attrs.field(validator=_string)
    params: dict = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ModelConfig(Component):
    """``imc.models.build(name, **params)``: "mlp", "cnn", "dncnn", "srnet"."""

    name: str = attrs.field(default="mlp", validator=_string)


@attrs.frozen(kw_only=True)
class OptimizerConfig(Component):
    """``imc.optim.make_optimizer(name, **params)``: "sgd" (lr, momentum, ...), "adam"."""

    name: str = attrs.field(default="sgd", validator=_string)


@attrs.frozen(kw_only=True)
class RuleConfig(Component):
    """``imc.rules.make_rule(name, **params)``: "ideal", "original", "eapu" (k), ..."""

    name: str = attrs.field(default="eapu", validator=_string)


@attrs.frozen(kw_only=True)
class BackendConfig:
    """The device backend, its preset and spec overrides, and how weights map onto it.

    TOML has no null, so 0 or "" mean "automatic"/"off": ``r_wg_per_us = 0`` picks 1/80 per
    uS for unbounded devices (the paper) and fills the window for bounded ones; ``mapping =
    ""`` picks a differential pair for bounded devices; tile sizes 0 = one array; converter
    bits 0 = no quantisation.
    """

    name: str = attrs.field(default="memristor", validator=_string)
    preset: str = attrs.field(default="", validator=_string)  # "" = the backend's default preset
    overrides: dict = attrs.field(factory=dict)
    r_wg_per_us: float = attrs.field(
        default=0.0, converter=_to_float, validator=_number_in(0.0, unit=" (weight per uS; 0 = automatic)")
    )
    w_max: float = attrs.field(
        default=1.0, converter=_to_float, validator=_number_in(0.0, unit=" (largest |weight| a bounded window holds)", open_low=True)
    )
    mapping: str = attrs.field(default="", validator=_one_of("", "pair", "reference"))
    max_tile_rows: int = attrs.field(default=0, validator=_int_at_least(0, " cells (0 = one array)"))
    max_tile_cols: int = attrs.field(default=0, validator=_int_at_least(0, " cells (0 = one array)"))
    dac_bits: int = attrs.field(default=0, validator=_bits)
    adc_bits: int = attrs.field(default=0, validator=_bits)


LR_SCHEDULES = ("constant", "cosine")  # cosine: lr * (1 + cos(pi * step / steps)) / 2


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Everything one training run needs (see examples/configs/ for commented files)."""

    name: str = attrs.field(default="", validator=_string)  # run name; "" = "<task>-<model>-<rule>"
    seed: int = attrs.field(default=0, validator=_int_at_least(0))
    compute: str = attrs.field(default="cpu", validator=_one_of("cpu", "gpu"))
    epochs: int = attrs.field(default=3, validator=_int_at_least(1))
    batch_size: int = attrs.field(default=32, validator=_int_at_least(1, " samples"))
    output_dir: str = attrs.field(default="runs", validator=_string)
    checkpoint_every: int = attrs.field(default=0, validator=_int_at_least(0, " steps (0 = only at the end)"))
    lr_schedule: str = attrs.field(default="constant", validator=_one_of(*LR_SCHEDULES))
    task: TaskConfig = attrs.field(factory=DigitsTask)
    model: ModelConfig = attrs.field(factory=ModelConfig)
    backend: BackendConfig = attrs.field(factory=BackendConfig)
    optimizer: OptimizerConfig = attrs.field(factory=OptimizerConfig)
    rule: RuleConfig = attrs.field(factory=RuleConfig)
    energy: EnergyConstants = attrs.field(factory=EnergyConstants)  # [energy]: docs/energy.md

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


# ---------------------------------------------------------------------------- component params
def _component_factories(kind: str) -> dict[str, Any] | None:
    """name -> callable whose signature lists the component's parameters; None if unknown yet."""
    try:
        if kind == "rule":
            from .rules import rules

            return {name: info.factory for name, info in rules().items()}
        if kind == "optimizer":
            from .optim import OPTIMIZERS

            return dict(OPTIMIZERS)
        if kind == "model":
            from .models import MODELS

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


def _check_component(kind: str, comp: Component) -> None:
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
                _unknown_key_message(f"{kind}.{key}", key, [f"{kind}.{k}" for k in ["name", *accepted]])
            )
    if kind in ("optimizer", "rule"):  # cheap to build: let the component check its own values
        try:
            factories[comp.name](**comp.params)
        except (TypeError, ValueError) as exc:
            raise ConfigValueError(f"{kind} {comp.name!r}: {exc}") from None


def resolved_params(kind: str, comp: Component) -> dict:
    """The component's parameters with its defaults filled in (for display and records)."""
    defaults = component_defaults(kind, comp.name) or {}
    out = {k: v for k, v in defaults.items() if v is not inspect.Parameter.empty and _tomlable(v)}
    out.update(comp.params)
    return out


def _tomlable(value) -> bool:
    if isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_tomlable(v) for v in value)
    return False


# ---------------------------------------------------------------------------- converter
_converter = cattrs.Converter(forbid_extra_keys=True)


def _structure_task(data, _type):
    if not isinstance(data, dict):
        raise ConfigValueError(f"must be a table, got {data!r}")
    name = data.get("name", "digits")
    if name not in TASKS:
        raise ConfigValueError(unknown_name_message("task", name, TASKS))
    return _converter.structure(data, TASKS[name])


def _component_hook(cls):
    def structure(data, _type):
        if not isinstance(data, dict):
            raise ConfigValueError(f"must be a table, got {data!r}")
        data = dict(data)
        name = data.pop("name", attrs.fields(cls).name.default)
        for key, value in data.items():
            if not _tomlable(value):
                raise ConfigValueError(f"{key} must be a number, string, boolean or list, got {value!r}")
        return cls(name=name, params=data)

    return structure


def _unstructure_component(comp: Component) -> dict:
    return {"name": comp.name, **comp.params}


def _structure_overrides(data, _type):
    if not isinstance(data, dict):
        raise ConfigValueError(f"must be a table of spec field = value, got {data!r}")
    return dict(data)


_converter.register_structure_hook(TaskConfig, _structure_task)
for _cls in (ModelConfig, OptimizerConfig, RuleConfig):
    _converter.register_structure_hook(_cls, _component_hook(_cls))
    _converter.register_unstructure_hook(_cls, _unstructure_component)


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


_converter.register_structure_hook(str, _strict_str)
_converter.register_structure_hook(int, _strict_int)
_converter.register_structure_hook(float, _strict_float)
_converter.register_structure_hook(dict, _structure_overrides)


def _unknown_key_message(path: str, key: str, valid_paths) -> str:
    valid = sorted(valid_paths)
    close = difflib.get_close_matches(path, valid, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    parent = path.rpartition(".")[0]
    siblings = [p.rpartition(".")[2] for p in valid if p.rpartition(".")[0] == parent]
    known = f" (valid keys here: {', '.join(siblings)})" if siblings else ""
    return f"unknown config key {path!r}{hint}{known}"


def _field_paths(cls, prefix: str) -> list[str]:
    return [f"{prefix}{a.name}" for a in attrs.fields(cls)]


def _first_error(exc: BaseException, path: str) -> Exception:
    """Turn a cattrs error tree into one ConfigKeyError/ConfigValueError with the key's path."""
    if isinstance(exc, ForbiddenExtraKeysError):
        key = min(exc.extra_fields)
        prefix = f"{path}." if path else ""
        return ConfigKeyError(_unknown_key_message(prefix + key, key, _field_paths(exc.cl, prefix)))
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
    if isinstance(exc, TypeError):
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
    from .registry import get_registry

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
    spec_fields = [a.name for a in attrs.fields(type(preset_spec))]
    for key in cfg.backend.overrides:
        if key not in spec_fields or key in ("name", "capabilities", "source"):
            valid = [f"backend.overrides.{f}" for f in spec_fields if f not in ("name", "capabilities", "source")]
            raise ConfigKeyError(_unknown_key_message(f"backend.overrides.{key}", key, valid))
    try:
        info.spec(preset, **cfg.backend.overrides)
    except (TypeError, ValueError) as exc:
        raise ConfigValueError(f"backend.overrides: {exc}") from None
    for kind in ("model", "optimizer", "rule"):
        _check_component(kind, getattr(cfg, kind))


def to_dict(cfg: TrainConfig) -> dict:
    """A plain nested dict (TOML and JSON-able) that :func:`from_dict` turns back into ``cfg``."""
    return _converter.unstructure(cfg)


def resolved_dict(cfg: TrainConfig) -> dict:
    """Like :func:`to_dict`, with the backend preset and component defaults filled in."""
    out = to_dict(cfg)
    if not out["backend"]["preset"]:
        from .registry import get_registry

        out["backend"]["preset"] = get_registry().get(cfg.backend.name).info.default_preset
    for kind in ("model", "optimizer", "rule"):
        comp = getattr(cfg, kind)
        out[kind] = {"name": comp.name, **resolved_params(kind, comp)}
    return out


def to_toml(cfg: TrainConfig, resolved: bool = True) -> str:
    """The config as TOML text (defaults filled in when ``resolved``)."""
    import tomli_w

    return tomli_w.dumps(resolved_dict(cfg) if resolved else to_dict(cfg))


def load_config(path) -> TrainConfig:
    """Read and validate a TOML config; relative data paths are taken from the file's folder."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileNotFoundError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigValueError(f"{path}: malformed TOML: {exc}") from None
    try:
        cfg = from_dict(data)
    except ConfigKeyError as exc:
        raise ConfigKeyError(f"{path}: {exc}") from None
    except ConfigValueError as exc:
        raise ConfigValueError(f"{path}: {exc}") from None
    return _resolve_paths(cfg, path.parent)


def _resolve_paths(cfg: TrainConfig, base: Path) -> TrainConfig:
    task = cfg.task
    for field in ("path", "image_dir"):
        value = getattr(task, field, "")
        if value and not os.path.isabs(os.path.expanduser(value)):
            task = attrs.evolve(task, **{field: str((base / value).resolve())})
    return attrs.evolve(cfg, task=task)


# ---------------------------------------------------------------------------- overrides
def apply_overrides(cfg: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """A copy of ``cfg`` with dotted keys set: ``{"rule.k": 1.5, "epochs": 5}``.

    An unknown key raises :class:`ConfigKeyError` with the path and the closest valid key;
    a bad value raises :class:`ConfigValueError`. Setting ``task.name`` switches the task
    type (its other keys go back to that task's defaults unless also given); setting
    ``rule.name`` (or ``model.name``, ``optimizer.name``) keeps only the parameters the new
    component accepts, so ``{"rule.name": "original"}`` drops EaPU's ``k``.
    """
    data = to_dict(cfg)
    items = sorted(overrides.items(), key=lambda kv: (not kv[0].endswith(".name"), kv[0]))
    for dotted, value in items:
        parts = str(dotted).split(".")
        if not all(parts):
            raise ConfigKeyError(f"malformed config key {dotted!r}: use dotted names like 'rule.k'")
        if parts == ["task", "name"] and value != data["task"].get("name"):
            data["task"] = to_dict(TASKS[value]()) if value in TASKS else {"name": value}
            continue
        if len(parts) == 2 and parts[0] in ("model", "optimizer", "rule") and parts[1] == "name":
            data[parts[0]] = _switch_component(parts[0], data[parts[0]], value)
            continue
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node or not isinstance(node[part], dict):
                raise ConfigKeyError(_unknown_key_message(".".join(parts[: i + 1]), part, _all_paths(data)))
            node = node[part]
        leaf = parts[-1]
        open_table = parts[0] in ("model", "optimizer", "rule") or parts[:2] == ["backend", "overrides"]
        if leaf not in node and not open_table:
            raise ConfigKeyError(_unknown_key_message(str(dotted), leaf, _all_paths(data)))
        node[leaf] = value
    return from_dict(data)


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
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value
