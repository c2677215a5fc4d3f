"""The plugin registry: loads plugins through pluggy and builds backends by name.

Plugins come from the entry-point group ``imc`` (first-party backends included), each
loaded and each hook call made on its own, so one broken plugin is reported (a
:class:`PluginLoadWarning` naming its entry point and distribution, and an entry in
:meth:`Registry.failed_plugins`) while the rest still work:

- an entry point that fails to import, or whose hooks pluggy rejects;
- an entry-point name provided by two distributions (neither is loaded, unless one is
  imc itself: the first-party one is kept);
- a hook that raises or returns the wrong type (that plugin's contribution is dropped);
- a backend name claimed twice (imc's own backend wins; between two third-party
  plugins neither is used).

Environment switches for hermetic runs:

- ``IMC_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points at all;
- ``IMC_DISABLED_PLUGINS=a,b``: skip entry points by entry-point name or by
  distribution name (as the messages print them; case, ``-``, ``_`` and ``.`` ignored).
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from typing import Any, cast

import attrs
import pluggy

from . import hookspecs
from .arraytypes import Shape
from .compute import Compute, as_compute
from .device import Device
from .errors import PluginError, UnknownNameError
from .spec import DeviceSpec, unknown_name_message

ENTRY_POINT_GROUP = "imc"
FIRST_PARTY = "imc"  # the distribution of imc's own backends: it wins a name clash


class PluginLoadWarning(UserWarning):
    """A plugin could not be used (import, duplicate, hook failure); the others still work."""


class PluginUnavailable(PluginError, KeyError):
    """A backend name that belongs to an installed plugin which could not be used."""


@attrs.frozen
class PluginProblem:
    """An installed plugin that is (partly) unusable: who, what happened, how to fix it.

    ``stage`` is "import", "duplicate" (entry-point name in two distributions), "hook" (a
    hook raised or returned the wrong type) or "clash" (a backend name claimed twice).
    ``backends`` lists the backend names the problem removed, where known.
    """

    name: str
    distribution: str
    version: str
    stage: str
    reason: str
    backends: tuple[str, ...] = ()

    @property
    def origin(self) -> str:
        """``distribution version``, as messages print it."""
        return f"{self.distribution} {self.version}".strip()

    @property
    def verb(self) -> str:
        """What happened, as a verb phrase ("failed to import", ...)."""
        return {"import": "failed to import", "duplicate": "was not loaded", "hook": "failed in a hook",
                "clash": "is not used"}.get(self.stage, "failed")

    @property
    def fix(self) -> str:
        """How to fix or silence it."""
        return f"fix or uninstall it, or skip it with IMC_DISABLED_PLUGINS={self.distribution}"

    def message(self) -> str:
        """One line: what, where from, and how to silence it."""
        return f"imc plugin {self.name!r} from distribution {self.origin} {self.verb}: {self.reason}; {self.fix}"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", str(name)).strip().lower()


def disabled_plugins() -> set[str]:
    """The normalised names in IMC_DISABLED_PLUGINS (entry-point or distribution names)."""
    return {_normalise(n) for n in os.environ.get("IMC_DISABLED_PLUGINS", "").split(",") if n.strip()}


def record_problem(pm: Any, problem: PluginProblem) -> None:
    """Note a plugin problem on the manager (once) and warn about it."""
    if problem in pm.imc_problems:  # a second Registry over the same manager finds it again
        return
    pm.imc_problems.append(problem)
    warnings.warn(problem.message(), PluginLoadWarning, stacklevel=3)


def _spec_table(value: Any) -> dict[str, DeviceSpec]:
    table = dict(value)
    for key, spec in table.items():
        if not isinstance(spec, DeviceSpec):
            raise TypeError(f"preset {key!r} must be a DeviceSpec, got {type(spec).__name__}")
    if not table:
        raise ValueError("a backend needs at least one preset")
    return table


@attrs.frozen(kw_only=True)
class BackendInfo:
    """What a plugin declares about one backend.

    ``factory(spec=..., shape=..., compute=...)`` builds a :class:`imc.Device`;
    ``presets`` maps preset names to specs; ``default_preset`` names one of them.
    ``load_preset`` (optional) resolves a preset that is not in ``presets`` (e.g. a path
    to a fitted-device JSON file); it raises KeyError when it cannot.
    """

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    factory: Callable[..., Device] = attrs.field(validator=attrs.validators.is_callable())
    presets: Mapping[str, DeviceSpec] = attrs.field(converter=_spec_table)
    default_preset: str = attrs.field(validator=attrs.validators.instance_of(str))
    description: str = ""
    load_preset: Callable[[str], DeviceSpec] | None = None

    def __attrs_post_init__(self) -> None:
        if self.default_preset not in self.presets:
            raise ValueError(
                f"backend {self.name!r}: default_preset {self.default_preset!r} is not one of {sorted(self.presets)}"
            )

    def spec(self, preset: str | None = None, **overrides: Any) -> DeviceSpec:
        """The preset's spec with overrides applied (unknown names raise KeyError)."""
        key = self.default_preset if preset is None else preset
        if key in self.presets:
            return self.presets[key].evolve(**overrides)
        if self.load_preset is not None:
            return self.load_preset(key).evolve(**overrides)
        raise UnknownNameError(unknown_name_message("preset", key, self.presets, f"backend {self.name!r}"))


@attrs.frozen
class Registered:
    """A catalogue record (backend, rule, ...) together with the distribution that provided it."""

    info: Any  # the record: BackendInfo, RuleInfo, ... (one of CATALOGUE's record types)
    distribution: str
    version: str


RegisteredBackend = Registered  # the name it had when only backends were registered

# kind -> (hook, record type as "module:name", how the type is named in messages)
CATALOGUE = {
    "backend": ("imc_backends", "imc.registry:BackendInfo", "imc.BackendInfo"),
    "update rule": ("imc_update_rules", "imc.records:RuleInfo", "imc.records.RuleInfo"),
    "optimizer": ("imc_optimizers", "imc.records:OptimizerInfo", "imc.records.OptimizerInfo"),
    "model": ("imc_models", "imc.records:ModelInfo", "imc.records.ModelInfo"),
    "task": ("imc_tasks", "imc.records:TaskInfo", "imc.records.TaskInfo"),
    "subcommand": ("imc_subcommands", "imc.records:SubcommandInfo", "imc.records.SubcommandInfo"),
}


def _record_type(path: str) -> type[Any]:
    import importlib

    module, _, name = path.partition(":")
    return cast(type[Any], getattr(importlib.import_module(module), name))


def make_plugin_manager(autoload: bool | None = None, plugins: Iterable[object] = ()) -> pluggy.PluginManager:
    """A fresh plugin manager: entry points (unless disabled), then ``plugins``.

    Problems with entry-point plugins are recorded in ``pm.imc_problems`` (and warned
    about); an in-process plugin passed in ``plugins`` with an invalid hook still raises.
    """
    # a plain pluggy manager carrying two attributes of imc's (imc_distributions, imc_problems)
    pm: Any = pluggy.PluginManager("imc")
    pm.add_hookspecs(hookspecs)
    if autoload is None:
        autoload = not os.environ.get("IMC_DISABLE_PLUGIN_AUTOLOAD")
    pm.imc_distributions = {}  # plugin name -> (distribution, version)
    pm.imc_problems = []  # PluginProblem records, in the order found
    _register_builtins(pm)
    if autoload:
        _load_entry_points(pm)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    return cast(pluggy.PluginManager, pm)


# imc's own parts, registered through the same hooks as a third party's (as pytest and tox
# do with their built-in plugins). First-party backends come through entry points.
BUILTIN_PLUGINS = ("imc.rules", "imc.optim", "imc.models", "imc.tasks", "imc.cli.commands")


def _register_builtins(pm: Any) -> None:
    import importlib

    from . import __version__

    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        pm.imc_distributions[module_name] = (FIRST_PARTY, __version__)


def _origin_of(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown-distribution", "?"
    return dist.name, dist.version


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    blocked = disabled_plugins()
    by_name: dict[str, list[metadata.EntryPoint]] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist, _ = _origin_of(ep)
        if _normalise(ep.name) in blocked or _normalise(dist) in blocked:
            continue
        by_name.setdefault(ep.name, []).append(ep)
    for name, eps in by_name.items():
        if len(eps) > 1:
            eps = _resolve_duplicate(pm, name, eps)
        for ep in eps:
            _load_one(pm, ep)


def _resolve_duplicate(pm: pluggy.PluginManager, name: str, eps: list[metadata.EntryPoint]) -> list[metadata.EntryPoint]:
    """Two distributions use one entry-point name: keep imc's own, else load neither."""
    eps = sorted(eps, key=lambda ep: _normalise(_origin_of(ep)[0]))
    origins = [_origin_of(ep) for ep in eps]
    listed = " and ".join(f"{d} {v}" for d, v in origins)
    first_party = [ep for ep, (d, _) in zip(eps, origins) if _normalise(d) == FIRST_PARTY]
    for ep, (dist, version) in zip(eps, origins):
        if ep in first_party[:1]:
            continue
        kept = "imc's own plugin is kept" if first_party else "neither is loaded"
        record_problem(pm, PluginProblem(name, dist, version, "duplicate",
                                  f"entry-point name {name!r} is provided by {listed}; {kept}"))
    return first_party[:1]


def _load_one(pm: Any, ep: metadata.EntryPoint) -> None:
    dist, version = _origin_of(ep)
    try:
        plugin = ep.load()
    except Exception as exc:  # noqa: BLE001  (a broken plugin must not take the others down)
        record_problem(pm, PluginProblem(ep.name, dist, version, "import", f"{type(exc).__name__}: {exc}"))
        return
    try:
        pm.register(plugin, name=ep.name)
        pm.check_pending()
    except Exception as exc:  # noqa: BLE001  (pluggy rejects a misspelt or mis-signed hook)
        if pm.get_plugin(ep.name) is not None:
            pm.unregister(name=ep.name)
        record_problem(pm, PluginProblem(ep.name, dist, version, "import", f"invalid hook: {type(exc).__name__}: {exc}"))
        return
    pm.imc_distributions[ep.name] = (dist, version)


def collect_hook(pm: Any, hook_name: str, record_type: type[Any], what: str) -> list[tuple[str, str, str, list[Any]]]:
    """Call ``hook_name`` on each plugin on its own: [(plugin name, distribution, version, records)].

    A plugin whose hook raises, or returns something other than an iterable of
    ``record_type``, contributes nothing; the problem is recorded once per manager and
    warned about, naming the distribution.
    """
    hook = getattr(pm.hook, hook_name, None)
    if hook is None:
        return []
    if not hasattr(pm, "imc_problems"):  # a manager not made by make_plugin_manager
        pm.imc_problems, pm.imc_distributions = [], {}
    out = []
    for impl in hook.get_hookimpls():  # in registration order: imc's own, then entry points, then in-process
        dist, version = pm.imc_distributions.get(impl.plugin_name) or _in_process(impl.plugin)
        try:
            records = _records(impl.function(), record_type, what)
        except Exception as exc:  # noqa: BLE001  (one plugin's bug must not break every command)
            reason = str(exc) if isinstance(exc, _WrongRecords) else f"raised {type(exc).__name__}: {exc}"
            record_problem(pm, PluginProblem(impl.plugin_name, dist, version, "hook",
                                      f"hook {hook_name}() {reason}; its contribution is skipped"))
            continue
        out.append((impl.plugin_name, dist, version, records))
    return out


def _in_process(plugin: object) -> tuple[str, str]:
    """(name, version) for a plugin registered in-process rather than through an entry point."""
    name = getattr(plugin, "__name__", None) or type(plugin).__qualname__
    return f"(in-process {name})", ""


class _WrongRecords(TypeError):
    pass


def _records(result: Any, record_type: type[Any], what: str) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, (str, bytes, Mapping, record_type)) or not isinstance(result, Iterable):
        raise _WrongRecords(f"returned a {type(result).__name__}, expected a list of {what} records")
    records = list(result)
    for item in records:
        if not isinstance(item, record_type):
            raise _WrongRecords(f"returned a list holding a {type(item).__name__}, expected {what} records")
    return records


class Registry:
    """A typed facade over the plugin manager: the rest of imc never calls pm.hook directly."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm: Any = pm  # carries imc_problems and imc_distributions (make_plugin_manager)
        self._cache: dict[str, dict[str, Registered]] = {}

    def _catalogue(self, kind: str) -> dict[str, Registered]:
        """name -> Registered record of one kind, from every plugin, each name checked for clashes.

        The one collector for every kind: a name claimed by imc itself and by a plugin keeps
        imc's own; a name claimed by two other plugins is used from neither. Each clash is
        recorded as a :class:`PluginProblem` and warned about once.
        """
        if kind in self._cache:
            return self._cache[kind]
        hook_name, record_type, label = CATALOGUE[kind]
        claims: dict[str, list[tuple[str, Registered]]] = {}
        for plugin, dist, version, records in collect_hook(self.pm, hook_name, _record_type(record_type), label):
            for info in records:
                claims.setdefault(info.name, []).append((plugin, Registered(info, dist, version)))
        found: dict[str, Registered] = {}
        for name, claimants in claims.items():
            if len(claimants) == 1:
                found[name] = claimants[0][1]
                continue
            claimants.sort(key=lambda c: _normalise(c[1].distribution) != FIRST_PARTY)  # imc's own first
            first_party = [c for c in claimants if _normalise(c[1].distribution) == FIRST_PARTY]
            keep = first_party[0] if len(first_party) == 1 else None
            listed = " and ".join(f"{r.distribution} {r.version}".strip() for _, r in claimants)
            outcome = f"imc's own {name!r} is kept" if keep else "neither is used"
            for plugin, reg in claimants:
                if keep is None or reg is not keep[1]:
                    removed = (name,) if kind == "backend" else ()
                    record_problem(self.pm, PluginProblem(plugin, reg.distribution, reg.version, "clash",
                                                          f"{kind} name {name!r} is claimed by {listed}; {outcome}", removed))
            if keep is not None:
                found[name] = keep[1]
        self._cache[kind] = found
        return found

    @property
    def _backends(self) -> dict[str, Registered]:
        return self._catalogue("backend")

    def registered(self, kind: str) -> dict[str, Registered]:
        """name -> :class:`Registered` (record, distribution, version) of one kind, imc's own first."""
        table = self._catalogue(kind)
        return dict(sorted(table.items(), key=lambda item: _normalise(item[1].distribution) != FIRST_PARTY))

    def records(self, kind: str) -> dict[str, Any]:
        """name -> record (BackendInfo, RuleInfo, ...) of one kind of :data:`CATALOGUE`."""
        return {name: reg.info for name, reg in self.registered(kind).items()}

    def lookup(self, kind: str, name: str) -> Any:
        """One record by kind and name; an unknown name lists the known ones and the closest."""
        if kind == "backend":
            return self.get(name).info
        table = self._catalogue(kind)
        if isinstance(name, str) and name in table:
            return table[name].info
        raise UnknownNameError(unknown_name_message(kind, name, table))

    def rules(self) -> dict[str, Any]:
        """Update rules by name (:class:`imc.records.RuleInfo`)."""
        return self.records("update rule")

    def optimizers(self) -> dict[str, Any]:
        """Digital optimisers by name (:class:`imc.records.OptimizerInfo`)."""
        return self.records("optimizer")

    def models(self) -> dict[str, Any]:
        """Models by name (:class:`imc.records.ModelInfo`)."""
        return self.records("model")

    def tasks(self) -> dict[str, Any]:
        """Tasks by name (:class:`imc.records.TaskInfo`)."""
        return self.records("task")

    def subcommands(self) -> dict[str, Any]:
        """``imc`` subcommands by name (:class:`imc.records.SubcommandInfo`)."""
        return self.records("subcommand")

    def backends(self) -> dict[str, RegisteredBackend]:
        """Every usable installed backend by name."""
        return dict(self._backends)

    def failed_plugins(self) -> list[PluginProblem]:
        """Installed plugins that could not be used, with the reason (import, duplicate, hook, clash)."""
        for kind in CATALOGUE:  # calling the hooks records their failures
            self._catalogue(kind)
        return list(self.pm.imc_problems)

    def get(self, name: str) -> RegisteredBackend:
        """One backend by name; an unknown name lists the installed ones and the closest.

        A name that belongs to an installed plugin which could not be used raises
        :class:`PluginUnavailable` (a KeyError and a :class:`imc.errors.PluginError`) with the reason.
        """
        if name in self._backends:
            return self._backends[name]
        for problem in self.pm.imc_problems:
            if (problem.stage != "clash" and name == problem.name) or name in problem.backends:
                raise PluginUnavailable(
                    f"backend {name!r} is installed but {problem.verb}: {problem.reason} "
                    f"(distribution {problem.origin}); {problem.fix}"
                )
        raise UnknownNameError(unknown_name_message("backend", name, self._backends))

    def spec(self, name: str, preset: str | None = None, **overrides: Any) -> DeviceSpec:
        """The spec of backend ``name``'s preset (default preset when None) with overrides applied."""
        return cast(DeviceSpec, self.get(name).info.spec(preset, **overrides))

    def create(
        self,
        name: str,
        shape: Shape = (64, 64),
        preset: str | None = None,
        compute: Compute | str | None = None,
        seed: int = 0,
        **overrides: Any,
    ) -> Device:
        """Build a device of backend ``name`` with a preset and spec overrides."""
        info = self.get(name).info
        spec = info.spec(preset, **overrides)
        return cast(Device, info.factory(spec=spec, shape=shape, compute=as_compute(compute, seed)))


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, built on first use (never at import)."""
    return make_plugin_manager()


@functools.cache
def get_registry() -> Registry:
    """The process's registry (over :func:`get_plugin_manager`), built on first use."""
    return Registry(get_plugin_manager())


def backend(name: str, shape: Shape = (64, 64), preset: str | None = None, compute: Compute | str | None = None, seed: int = 0,
            **overrides: Any) -> Device:
    """Build a device by backend name: ``imc.backend("memristor", (64, 32), preset="eapu-paper")``."""
    return get_registry().create(name, shape, preset=preset, compute=compute, seed=seed, **overrides)
