"""Sweep files: a base training config plus axes, expanded into a list of points.

A sweep file is TOML::

    name = "noise"                      # optional; defaults to the file's stem
    mode = "product"                    # "product" (every combination) or "zip" (side by side)
    base = "../configs/digits.toml"     # a config file, relative to the sweep file, ...
    # [base]                            # ... or the config written inline as a table
                                        # (no base: the built-in default, as `imc train`)

    [axes]                              # dotted config key -> values
    "rule.name" = ["original", "eapu"]
    "backend.overrides.write_noise_us" = {start = 0.0, stop = 2.0, num = 5}
    seed = {start = 0, stop = 2}        # ranges include their stop; step 1 by default

Every point is validated against the config schema while expanding, so an unknown key,
an empty axis or a bad value is reported before anything runs. A point is identified by
a stable hash of its resolved config.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from imc.spec import unknown_name_message

from ..errors import ConfigKeyError, ConfigValueError, InputFileError

MODES = ("product", "zip")
TOP_LEVEL_KEYS = ("name", "description", "mode", "base", "axes")
RANGE_KEYS = ("start", "stop", "step", "num", "log")
MAX_POINTS = 100_000


@attrs.frozen
class ConfigSchema:
    """How a sweep reads and changes training configs, as plain dicts.

    ``default()`` is the built-in config; ``load(path)`` reads a config file;
    ``normalise(table)`` validates an inline config; ``apply(base, {"dotted.key": value})``
    returns the changed, validated config. Each raises KeyError for an unknown key and
    ValueError for a bad value.
    """

    default: Callable[[], dict]
    load: Callable[[Path], dict]
    normalise: Callable[[dict], dict]
    apply: Callable[[dict, dict], dict]
    check: Callable[[dict], None] | None = None  # builds a point without running it (UserError if it cannot)


def training_schema() -> ConfigSchema:
    """The real schema: imc.config's TrainConfig, as resolved dicts (defaults filled in).

    Resolved, so that a point's identity is what actually runs: ``rule.k = 1.0`` and an
    unset k (default 1.0) are the same point, and a changed default makes a new one.
    """
    from imc import config

    return ConfigSchema(
        default=lambda: config.resolved_dict(config.default_config()),
        load=lambda path: config.resolved_dict(config.load_config(path)),
        normalise=lambda table: config.resolved_dict(config.from_dict(table)),
        apply=lambda base, overrides: config.resolved_dict(config.apply_overrides(config.from_dict(base), overrides)),
        check=_build_point,
    )


def _build_point(resolved: dict) -> None:
    """Build what a point's run needs (data, model on its device, rule) without training: what only the
    build can refuse (model.hidden = 0, a missing task.image_dir, ...) is refused before the sweep runs."""
    from imc.config import from_dict
    from imc.runner import Run

    Run(from_dict(resolved))


MAX_CHECKED_POINTS = 200  # beyond this, each axis value is built once (on the first point that has it)


def check_points(points, schema: ConfigSchema, source: str) -> None:
    """Build the points (all of them, or one per axis value in a big sweep) before anything runs."""
    from ..errors import UserError

    if schema.check is None:
        return
    chosen, seen = [], set()
    for point in points:
        new = {(k, json.dumps(_canonical(v), sort_keys=True)) for k, v in point.params.items()} - seen
        if len(points) <= MAX_CHECKED_POINTS or new:
            chosen.append(point)
            seen |= new
    for point in chosen:
        try:
            schema.check(point.config)
        except UserError as exc:
            message = f"{source}: point {point.index} ({point.label()}): {' '.join(str(exc).split())}"
            try:
                refusal = type(exc)(message)
            except TypeError:  # a family member with a richer constructor
                refusal = ConfigValueError(message)
            raise refusal from None


@attrs.frozen
class Point:
    """One training run of a sweep: its axis values and its resolved config."""

    index: int
    params: dict  # axis key -> value, in axis order
    config: dict  # the full resolved training config
    point_id: str  # stable hash of ``config``

    def label(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.params.items())


@attrs.frozen
class Sweep:
    """A validated, expanded sweep."""

    name: str
    mode: str
    base: dict
    axes: dict  # axis key -> tuple of values, in file order
    points: tuple
    description: str = ""

    def plan(self) -> dict:
        """The JSON-able record of this sweep that the sweep folder keeps."""
        return {
            "name": self.name,
            "description": self.description,
            "mode": self.mode,
            "axes": {key: list(values) for key, values in self.axes.items()},
            "base": self.base,
            "points": [{"index": p.index, "point_id": p.point_id, "params": p.params} for p in self.points],
        }


def load_sweep(path, *, schema: ConfigSchema | None = None) -> Sweep:
    """Read, validate and expand a sweep file."""
    from imc.limits import read_toml

    path = Path(path)
    data = read_toml(path, "sweep file")
    return sweep_from_dict(data, base_dir=path.parent, default_name=path.stem, source=str(path), schema=schema)


def sweep_from_dict(
    data: Mapping,
    *,
    base_dir=".",
    default_name: str = "sweep",
    source: str = "sweep",
    schema: ConfigSchema | None = None,
) -> Sweep:
    """Validate and expand a sweep given as a dict (the parsed TOML)."""
    schema = schema or training_schema()
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigKeyError(f"{source}: {unknown_name_message('sweep key', key, TOP_LEVEL_KEYS)}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ConfigValueError(f"{source}: name must be letters, digits, '.', '_' or '-' (it names a folder), got {name!r}")
    mode = data.get("mode", "product")
    if mode not in MODES:
        raise ConfigValueError(f"{source}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigValueError(f"{source}: description must be a string, got {description!r}")

    axes_table = data.get("axes")
    if not isinstance(axes_table, Mapping) or not axes_table:
        raise ConfigValueError(f"{source}: a sweep needs an [axes] table with at least one axis (dotted config key = values)")
    axes = {str(key): axis_values(key, spec, source) for key, spec in axes_table.items()}
    if mode == "zip":
        lengths = {key: len(values) for key, values in axes.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{key} has {n}" for key, n in lengths.items())
            raise ConfigValueError(f"{source}: mode 'zip' needs axes of equal length ({shown}); use mode 'product'")

    base = _load_base(data.get("base"), Path(base_dir), source, schema)

    count = math.prod(map(len, axes.values())) if mode == "product" else len(next(iter(axes.values())))
    if count > MAX_POINTS:
        raise ConfigValueError(f"{source}: the sweep expands to {count} points, more than {MAX_POINTS}; shrink an axis")
    combos = itertools.product(*axes.values()) if mode == "product" else zip(*axes.values())
    points, seen = [], {}
    for index, combo in enumerate(combos):
        params = dict(zip(axes, combo))
        label = ", ".join(f"{k}={v!r}" for k, v in params.items())
        try:
            config = schema.apply(base, params)
        except KeyError as exc:
            raise ConfigKeyError(f"{source}: point {index} ({label}): {_message(exc)}") from None
        except (ValueError, TypeError) as exc:
            raise ConfigValueError(f"{source}: point {index} ({label}): {_message(exc)}") from None
        pid = point_id(config)
        if pid in seen:
            raise ConfigValueError(
                f"{source}: points {seen[pid]} and {index} ({label}) resolve to the same config; "
                "remove the repeated axis value"
            )
        seen[pid] = index
        points.append(Point(index=index, params=params, config=config, point_id=pid))
    check_points(points, schema, source)
    return Sweep(name=name, mode=mode, base=base, axes=axes, points=tuple(points), description=description)


def axis_values(key, spec, source: str = "sweep") -> tuple:
    """The values of one axis: a list as given, or a range table expanded (stop included)."""
    if isinstance(spec, list):
        values = tuple(spec)
    elif isinstance(spec, Mapping):
        values = _range_values(key, spec, source)
    else:
        raise ConfigValueError(
            f"{source}: axis {key!r} must be a list of values or a range table "
            f"{{start, stop, step|num[, log]}}, got {spec!r}"
        )
    if not values:
        raise ConfigValueError(f"{source}: axis {key!r} is empty; give it at least one value")
    for value in values:
        if isinstance(value, (Mapping, list)) or not _is_plain(value):
            raise ConfigValueError(f"{source}: axis {key!r} value {value!r} must be a number, string or boolean")
    return values


def point_id(config: Mapping) -> str:
    """A stable 12-hex-digit hash of a resolved config (key order and 1 vs 1.0 do not matter)."""
    text = json.dumps(_canonical(config), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _canonical(value):
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _range_values(key, spec: Mapping, source: str) -> tuple:
    where = f"{source}: axis {key!r}"
    for name in spec:
        if name not in RANGE_KEYS:
            raise ConfigKeyError(f"{where}: {unknown_name_message('range key', name, RANGE_KEYS)}")
    if "start" not in spec or "stop" not in spec:
        raise ConfigValueError(f"{where}: a range needs start and stop (and step or num), e.g. {{start = 0, stop = 2}}")
    if "step" in spec and "num" in spec:
        raise ConfigValueError(f"{where}: give step or num, not both")
    start, stop = spec["start"], spec["stop"]
    for name in ("start", "stop", "step"):
        value = spec.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigValueError(f"{where}: range {name} must be a finite number, got {value!r}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigValueError(f"{where}: range log must be true or false, got {log!r}")
    if "num" in spec:
        num = spec["num"]
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise ConfigValueError(f"{where}: range num must be a positive integer, got {num!r}")
        if num > MAX_POINTS:
            raise ConfigValueError(f"{where}: range num {num} is more than {MAX_POINTS}")
        if log:
            if start <= 0 or stop <= 0:
                raise ConfigValueError(f"{where}: a log range needs start and stop > 0, got {start} and {stop}")
            lo, hi = math.log(start), math.log(stop)
            raw = [math.exp(lo + (hi - lo) * i / (num - 1)) if num > 1 else start for i in range(num)]
        else:
            raw = [start + (stop - start) * i / (num - 1) if num > 1 else start for i in range(num)]
        return tuple(_clean(v) for v in raw)
    if log:
        raise ConfigValueError(f"{where}: a log range needs num (values evenly spaced in log), not step")
    step = spec.get("step", 1)
    if step == 0 or (stop - start) * step < 0:
        raise ConfigValueError(f"{where}: step {step} never gets from {start} to {stop}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_POINTS:
        raise ConfigValueError(f"{where}: the range has {count} values, more than {MAX_POINTS}; use a bigger step")
    if all(isinstance(v, int) for v in (start, stop, step)):
        return tuple(start + i * step for i in range(count))
    return tuple(_clean(start + i * step) for i in range(count))


def _clean(value: float) -> float:
    """Drop float noise (0.30000000000000004 -> 0.3) so hashes and labels stay tidy."""
    return float(f"{value:.12g}")


def _is_plain(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int, bool))


def _load_base(base, base_dir: Path, source: str, schema: ConfigSchema) -> dict:
    if base is None:
        return schema.default()
    if isinstance(base, str):
        path = (base_dir / base).resolve()
        if not path.is_file():
            raise InputFileError(f"{source}: base config {base!r} not found (looked at {path})")
        try:
            return schema.load(path)
        except KeyError as exc:
            raise ConfigKeyError(f"{source}: base config {base!r}: {_message(exc)}") from None
        except (ValueError, TypeError) as exc:
            raise ConfigValueError(f"{source}: base config {base!r}: {_message(exc)}") from None
    if isinstance(base, Mapping):
        try:
            return schema.normalise(dict(base))
        except KeyError as exc:
            raise ConfigKeyError(f"{source}: [base]: {_message(exc)}") from None
        except (ValueError, TypeError) as exc:
            raise ConfigValueError(f"{source}: [base]: {_message(exc)}") from None
    raise ConfigValueError(f"{source}: base must be a config file path or an inline table, got {base!r}")


def _message(exc: BaseException) -> str:
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)

