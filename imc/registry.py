"""The plugin registry: loads plugins through pluggy and builds backends by name.

Plugins come from the entry-point group ``imc`` (first-party backends included), each
loaded on its own so one that fails to import is reported as a warning naming its
distribution while the rest still work. Environment switches for hermetic runs:

- ``IMC_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points at all;
- ``IMC_DISABLED_PLUGINS=a,b``: skip the named entry points.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Mapping
from importlib import metadata

import attrs
import pluggy

from . import hookspecs
from .compute import Compute, as_compute
from .device import Device
from .errors import UnknownNameError
from .spec import DeviceSpec, unknown_name_message

ENTRY_POINT_GROUP = "imc"


class PluginLoadWarning(UserWarning):
    """A plugin could not be imported; the others still work."""


def _spec_table(value) -> dict:
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

    def __attrs_post_init__(self):
        if self.default_preset not in self.presets:
            raise ValueError(
                f"backend {self.name!r}: default_preset {self.default_preset!r} is not one of {sorted(self.presets)}"
            )

    def spec(self, preset: str | None = None, **overrides) -> DeviceSpec:
        """The preset's spec with overrides applied (unknown names raise KeyError)."""
        key = self.default_preset if preset is None else preset
        if key in self.presets:
            return self.presets[key].evolve(**overrides)
        if self.load_preset is not None:
            return self.load_preset(key).evolve(**overrides)
        raise UnknownNameError(unknown_name_message("preset", key, self.presets, f"backend {self.name!r}"))


@attrs.frozen
class RegisteredBackend:
    """A backend together with the distribution that provided it."""

    info: BackendInfo
    distribution: str
    version: str


def make_plugin_manager(autoload: bool | None = None, plugins=()) -> pluggy.PluginManager:
    """A fresh plugin manager: entry points (unless disabled), then ``plugins``."""
    pm = pluggy.PluginManager("imc")
    pm.add_hookspecs(hookspecs)
    if autoload is None:
        autoload = not os.environ.get("IMC_DISABLE_PLUGIN_AUTOLOAD")
    pm.imc_distributions = {}  # plugin name -> (distribution, version)
    if autoload:
        _load_entry_points(pm)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    return pm


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    blocked = {n.strip() for n in os.environ.get("IMC_DISABLED_PLUGINS", "").split(",") if n.strip()}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in blocked or pm.get_plugin(ep.name) is not None:
            continue
        dist = getattr(ep, "dist", None)
        dist_name = dist.name if dist is not None else "unknown distribution"
        version = dist.version if dist is not None else "?"
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            warnings.warn(
                f"imc plugin {ep.name!r} from distribution {dist_name} {version} failed to import "
                f"and was skipped: {type(exc).__name__}: {exc}",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        pm.register(plugin, name=ep.name)
        pm.imc_distributions[ep.name] = (dist_name, version)


class Registry:
    """A typed facade over the plugin manager: the rest of imc never calls pm.hook directly."""

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm

    def _origin(self, impl) -> tuple[str, str]:
        dists = getattr(self.pm, "imc_distributions", {})
        return dists.get(impl.plugin_name, (f"plugin {impl.plugin_name}", "?"))

    @functools.cached_property
    def _backends(self) -> dict[str, RegisteredBackend]:
        found: dict[str, RegisteredBackend] = {}
        for impl in self.pm.hook.imc_backends.get_hookimpls():
            dist, version = self._origin(impl)
            for info in impl.function() or ():
                if not isinstance(info, BackendInfo):
                    raise TypeError(f"{dist}: imc_backends must return BackendInfo records, got {type(info).__name__}")
                if info.name in found:
                    raise ValueError(
                        f"backend name {info.name!r} is claimed by two plugins: "
                        f"{found[info.name].distribution} and {dist}; uninstall one or block it "
                        "with IMC_DISABLED_PLUGINS"
                    )
                found[info.name] = RegisteredBackend(info, dist, version)
        return found

    def backends(self) -> dict[str, RegisteredBackend]:
        """Every installed backend by name."""
        return dict(self._backends)

    def get(self, name: str) -> RegisteredBackend:
        """One backend by name; an unknown name lists the installed ones and the closest."""
        try:
            return self._backends[name]
        except KeyError:
            raise UnknownNameError(unknown_name_message("backend", name, self._backends)) from None

    def spec(self, name: str, preset: str | None = None, **overrides) -> DeviceSpec:
        return self.get(name).info.spec(preset, **overrides)

    def create(
        self,
        name: str,
        shape=(64, 64),
        preset: str | None = None,
        compute: Compute | str | None = None,
        seed: int = 0,
        **overrides,
    ) -> Device:
        """Build a device of backend ``name`` with a preset and spec overrides."""
        info = self.get(name).info
        spec = info.spec(preset, **overrides)
        return info.factory(spec=spec, shape=shape, compute=as_compute(compute, seed))


@functools.cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, built on first use (never at import)."""
    return make_plugin_manager()


@functools.cache
def get_registry() -> Registry:
    return Registry(get_plugin_manager())


def backend(name: str, shape=(64, 64), preset: str | None = None, compute=None, seed: int = 0, **overrides) -> Device:
    """Build a device by backend name: ``imc.backend("memristor", (64, 32), preset="eapu-paper")``."""
    return get_registry().create(name, shape, preset=preset, compute=compute, seed=seed, **overrides)
