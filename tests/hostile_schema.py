"""Every config key the CLI accepts, enumerated from the schema (not by hand), with hostile values.

``schema_keys(data)`` walks the attrs classes of the config (``imc.config.schema``), every
installed task's ``[task]`` class, the signature of every installed model, optimiser and
update rule, and the spec class of every preset of every installed backend
(``backend.overrides.<field>``). A key comes with the context that makes it exist (``rule.name
= "tiki-taka"`` for ``rule.transfer_every``; ``backend.name``/``backend.preset`` for a spec
field) and its kind, read from the annotation (int, float, bool, str, list, optional float...).

``hostile_values(key)`` gives the family of hostile values for a key as ``--set`` text (TOML):
wrong types, nan/inf, negative, zero, huge, empty, unicode, very long, unknown names.
A new key, component or backend is covered the day it is installed.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import attrs

from imc.config import TrainConfig, component_defaults, default_config, to_dict
from imc.config.components import KINDS
from imc.registry import get_registry

TABLES = ("task", "model", "backend", "optimizer", "rule", "energy", "evaluate")
# the task each model is tried on first (others are tried if its default does not build there)
TASK_ORDER = ("digits", "denoise", "superres", "npz", "images")


@dataclass(frozen=True)
class Key:
    """One settable config key: its ``--set`` path, its kind, default, and the keys that make it exist."""

    path: str
    kind: str  # "int", "float", "bool", "str", "list", "optional-float", "optional-int", "any"
    default: Any
    context: tuple[tuple[str, Any], ...] = ()
    choices: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        ctx = ",".join(f"{k}={v}" for k, v in self.context if k in ("backend.preset", "task.name") or k.endswith(".name"))
        return f"{self.path}[{ctx}]" if ctx else self.path


def kind_of(annotation: Any, default: Any) -> str:
    """The kind of a field from its (string) annotation, else from its default."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    text = str(text).replace(" ", "")
    table = {"int": "int", "float": "float", "bool": "bool", "str": "str", "list": "list", "tuple": "list",
             "float|None": "optional-float", "int|None": "optional-int", "Optional[float]": "optional-float"}
    if text in table:
        return table[text]
    for typ, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (tuple, "list"), (list, "list")):
        if isinstance(default, typ):
            return kind
    return "any"


def _choices(attribute) -> tuple[str, ...]:
    """The names a field accepts: imc.fields.one_of's ``choices`` or attrs.validators.in_'s ``options``."""
    validator = attribute.validator
    return tuple(getattr(validator, "choices", None) or getattr(validator, "options", None) or ())


def _attrs_keys(cls, prefix: str, context=(), skip=()) -> list[Key]:
    out = []
    for a in attrs.fields(cls):
        if a.name in skip or a.name in TABLES and prefix == "":
            continue
        default = a.default.factory() if isinstance(a.default, attrs.Factory) else a.default  # type: ignore[union-attr]
        out.append(Key(f"{prefix}{a.name}", kind_of(a.type, default), default, tuple(context), _choices(a)))
    return out


# keys that exist only next to another setting (a native switch needs a natively probabilistic device)
PARAM_CONTEXT = {"rule.native": (("backend.name", "mram"),)}


def _param_keys(kind: str, name: str, context) -> list[Key]:
    defaults = component_defaults(kind, name) or {}
    factory = get_registry().records(KINDS[kind])[name].factory
    params = inspect.signature(factory).parameters
    out = []
    for param, default in defaults.items():
        default = None if default is inspect.Parameter.empty else default
        path = f"{kind}.{param}"
        ctx = tuple(context) + PARAM_CONTEXT.get(path, ())
        out.append(Key(path, kind_of(params[param].annotation, default), default, ctx))
    return out


def task_context(task: str, data: dict[str, str]) -> list[tuple[str, Any]]:
    """The overrides that select ``task`` (with its data file or folder, and a model that fits it)."""
    ctx: list[tuple[str, Any]] = [("task.name", task)]
    if task in data:
        ctx.append(("task.path", data[task]))
    if task == "denoise":
        ctx.append(("model.name", "dncnn"))
    if task == "superres":
        ctx.append(("model.name", "srnet"))
    return ctx


MODEL_TASK = {"mlp": "digits", "cnn": "digits", "layers": "digits", "dncnn": "denoise", "srnet": "superres"}
MODEL_PARAMS = {"layers": {"layers": [{"type": "flatten"}, {"type": "linear", "out": "classes"}]}}  # a model without a usable default


def model_context(model: str, data: dict[str, str]) -> list[tuple[str, Any]]:
    task = MODEL_TASK.get(model, "digits")
    ctx = [c for c in task_context(task, data) if c[0] != "model.name"] + [("model.name", model)]
    ctx += [(f"model.{k}", v) for k, v in MODEL_PARAMS.get(model, {}).items()]
    return ctx


def schema_keys(data: dict[str, str] | None = None) -> list[Key]:
    """Every key of every section, each with the context that makes it exist.

    ``data`` maps task names that need files ("npz", "images") to a usable path.
    """
    data = data or {}
    registry = get_registry()
    keys = _attrs_keys(TrainConfig, "")
    for name, info in registry.tasks().items():
        keys += _attrs_keys(info.config, "task.", task_context(name, data), skip=("name",))
    for kind in ("model", "optimizer", "rule"):
        for name in registry.records(KINDS[kind]):
            ctx = model_context(name, data) if kind == "model" else [(f"{kind}.name", name)]
            keys += _param_keys(kind, name, ctx)
    keys += _attrs_keys(type(default_config().backend), "backend.", skip=("overrides", "name", "preset"))
    keys += [Key("backend.name", "str", "memristor", (), tuple(registry.records("backend")))]
    for backend, info in registry.records("backend").items():
        keys.append(Key("backend.preset", "str", info.default_preset, (("backend.name", backend),), tuple(info.presets)))
    for backend, info in registry.records("backend").items():
        for preset, spec in info.presets.items():
            ctx = (("backend.name", backend), ("backend.preset", preset))
            cls = type(spec)
            for fname in cls.settable_fields():
                a = attrs.fields_dict(cls)[fname]
                keys.append(Key(f"backend.overrides.{fname}", kind_of(a.type, getattr(spec, fname)),
                                getattr(spec, fname), ctx, _choices(a)))
    keys += _attrs_keys(type(default_config().energy), "energy.")
    keys += _attrs_keys(type(default_config().evaluate), "evaluate.")
    # component names themselves
    for kind in ("model", "optimizer", "rule"):
        keys.append(Key(f"{kind}.name", "str", to_dict(default_config())[kind]["name"], (),
                        tuple(registry.records(KINDS[kind]))))
    keys.append(Key("task.name", "str", "digits", (), tuple(registry.tasks())))
    return keys


LONG = "x" * 10_000
WRONG_TYPES = ["'x'", "true", "[1, 2]", "{a = 1}", "[]", "{}", "1979-05-27", "07:32:00"]  # TOML dates and times too
NUMBERS = ["nan", "inf", "-inf", "-1", "0", "-0.0", "1e300", "-1e300", "1e-300", "9223372036854775807",
           "9223372036854775808", "18446744073709551616", "-9223372036854775809", "3.5"]
STRINGS = ["''", "'\u00e9\u6f22\u5b57\U0001f642'", f"'{LONG}'", "'no-such-name'", "' '", "'a\\nb'", "1", "true",
           "1979-05-27T07:32:00Z"]


def hostile_values(key: Key) -> list[str]:
    """The hostile ``--set`` values (TOML text) for one key, by its kind."""
    if key.kind in ("str",):
        return STRINGS + ["[1]", "{a = 1}", "nan"]
    if key.kind == "bool":
        return ["1", "0", "'true'", "'yes'", "nan", "[true]", "{a = 1}", "''", "1979-05-27"]
    if key.kind == "list":
        return ["1", "'x'", "[nan]", "[-1]", "[1e300]", "[[1]]", "[{}]", "[9223372036854775808]", "{a = 1}",
                "['x']", "[" + ", ".join(["1"] * 10_000) + "]", "true", "[1979-05-27]"]
    return WRONG_TYPES + NUMBERS + ["''", "'\u00e9\u6f22\u5b57'", f"'{LONG}'"]


# ----------------------------------------------------------------------------- probing

def make_data(folder) -> dict[str, str]:
    """A small .npz (3 classes) and an image folder (2 classes) for the tasks that read files."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    folder = Path(folder)
    rng = np.random.default_rng(0)
    npz = folder / "data.npz"
    np.savez(npz, x=rng.random((60, 8)).astype(np.float32), y=np.arange(60) % 3)
    images = folder / "images"
    for c in "ab":
        (images / c).mkdir(parents=True)
        for i in range(6):
            Image.fromarray((rng.random((140, 140)) * 255).astype(np.uint8)).save(images / c / f"{i}.png")
    npz2 = folder / "data2.npz"
    np.savez(npz2, x=rng.random((45, 8)).astype(np.float32), y=np.arange(45) % 3)
    return {"npz": str(npz), "images": str(images), "npz2": str(npz2), "flat": str(images / "a"),
            "images2": str(images.parent / "images2")} | _copy(images, images.parent / "images2")


def _copy(src, dst) -> dict:
    import shutil

    shutil.copytree(src, dst)
    (dst / "b" / "0.png").unlink()  # a different data set: one image fewer
    return {}


def toml_text(value) -> str:
    """A value as the TOML text ``--set`` takes."""
    import tomli_w

    return tomli_w.dumps({"v": value}).partition("=")[2].strip()


def overrides_for(key: Key, value_text: str) -> dict[str, Any]:
    """The ``--set`` overrides of a key's context plus ``key = value_text``, parsed as the CLI parses them."""
    from imc.config import parse_override

    sets = [f"{k}={toml_text(v)}" for k, v in key.context] + [f"{key.path}={value_text}"]
    return dict(parse_override(s) for s in sets)


def names_key(key: Key, line: str) -> bool:
    """Whether a one-line message names the key (its dotted path or its own name)."""
    leaf = key.path.rpartition(".")[2]
    return key.path in line or leaf in line


def build(overrides: dict[str, Any], step: bool = True):
    """Validate ``overrides`` on the default config, build the run and (``step``) train one 4-sample step.

    Returns the Run; raises what the config, the build or the step raise.
    """
    from imc.config import apply_overrides
    from imc.runner import Run

    cfg = apply_overrides(default_config(), overrides)
    run = Run(cfg)
    if step:
        x, y = run.train
        xb, yb = run.trainer._arrays((x[:4], y[:4]), "train")
        run.trainer.train_step(xb, yb)
    return run


def _plain(value, depth: int, seen: set[int], out: dict, path: str) -> None:
    import numpy as np

    if isinstance(value, (bool, int, float, str, type(None))):
        out[path] = value
        return
    if isinstance(value, np.ndarray) or type(value).__module__.startswith(("numpy", "cupy")):
        arr = np.asarray(value)
        out[path] = (arr.shape, str(arr.dtype), hash(arr.tobytes()) if arr.size < 10_000_000 else arr.size)
        return
    out[f"{path}.__class__"] = type(value).__name__  # a different activation is a different class
    if depth <= 0 or id(value) in seen or callable(value) and not hasattr(value, "__dict__"):
        return
    seen.add(id(value))
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = [(str(i), v) for i, v in enumerate(sorted(value, key=repr) if isinstance(value, (set, frozenset))
                                                       else value)]
    elif attrs.has(type(value)):
        items = [(a.name, getattr(value, a.name)) for a in attrs.fields(type(value))]
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        items = list(vars(value).items())
    else:
        return
    for name, item in items:
        if name in ("cfg", "callbacks") or type(item).__name__ in ("module", "Generator", "RandomState"):
            continue
        _plain(item, depth - 1, seen, out, f"{path}.{name}")


def fingerprint(run) -> dict[str, Any]:
    """Path -> value (arrays by shape, dtype and content hash) of everything the built run holds."""
    out: dict[str, Any] = {}
    _plain(run, 9, set(), out, "run")
    return out


def alternatives(key: Key, data: dict[str, str]) -> list[Any]:
    """Valid-looking non-default values for a key, in the order to try them."""
    d = dict(key.context).get(key.path, key.default)
    return [v for v in _alternatives(key, d, data) if v != d]


def _alternatives(key: Key, d: Any, data: dict[str, str]) -> list[Any]:
    if key.choices:
        return list(key.choices)
    if key.kind == "bool":
        return [not d]
    if key.kind == "int":
        base = d if isinstance(d, int) else 1
        return [v for v in (base + 1, base * 2, max(base - 1, 0), 3, 2, 1) if v != d]
    if d is None:  # "None = the component's own default", which may be any of these
        return [0.5, 0.1, 0.9, 2.0, 1e-3]
    if key.kind in ("float", "optional-float", "any") and isinstance(d, (int, float)):
        base = float(d)
        return [base * 1.5, base * 0.5, base + 0.1, base - 0.1, 0.5, 0.1, 0.9, 1.0, 2.0, 1e-3]
    if key.path == "task.image_dir":
        return [data["flat"]]
    if key.path == "task.path":
        return [data["images2"] if dict(key.context).get("task.name") == "images" else data["npz2"]]
    if key.kind == "str":
        return ["other-name", "relu", "tanh"] if d != "tanh" else ["sigmoid"]
    if key.kind == "list" or isinstance(d, (list, tuple)):
        if key.path == "evaluate.times_s":
            return [[1.0, 3600.0]]
        if key.path == "model.layers":
            return [[{"type": "flatten"}, {"type": "linear", "out": 16}, {"type": "relu"},
                     {"type": "linear", "out": "classes"}]]
        if d and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in d):
            return [[type(v)(v * 2) for v in d], [type(v)(v + 1) for v in d]]
    return []


def extra_for(path: str, value: Any, data: dict[str, str]) -> dict[str, Any]:
    """Keys that must come with a switch of ``path`` to ``value`` (a task's data and a model that fits it)."""
    if path == "task.name":
        return {k: v for k, v in task_context(value, data) if k != "task.name"}
    if path == "model.name":
        return {k: v for k, v in model_context(value, data) if k != "model.name"}
    return {}
