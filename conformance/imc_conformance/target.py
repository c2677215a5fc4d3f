"""What is under test: one backend and preset, on one compute, from one base seed.

A :class:`Target` makes fresh devices for the checks. It is built from the plugin registry
by backend name (:meth:`Target.from_registry`) or, for tests of the suite itself, from a
device factory and a spec (:meth:`Target.from_factory`).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np

from imc.compute import Compute
from imc.device import Device
from imc.spec import DeviceSpec

#: the default array shape: 4096 cells, enough for statistics, fast on one CPU core
DEFAULT_SHAPE = (64, 64)


@attrs.frozen(kw_only=True)
class Target:
    """One backend preset under test.

    ``factory(spec=..., shape=..., compute=...)`` builds a device; ``seed`` is the base
    seed every check derives its device seeds from; ``compute`` is "cpu" or "gpu".
    """

    backend: str
    preset: str
    spec: DeviceSpec
    factory: Callable[..., Device]
    compute: str = "cpu"
    seed: int = 0
    distribution: str = "?"
    version: str = "?"

    @classmethod
    def from_registry(cls, backend: str, preset: str | None = None, compute: str = "cpu", seed: int = 0) -> Target:
        """The installed backend ``backend`` (default preset when ``preset`` is None)."""
        from imc.registry import get_registry

        reg = get_registry().get(backend)
        info = reg.info
        name = info.default_preset if preset is None else preset
        spec = info.spec(name)
        return cls(
            backend=backend,
            preset=name,
            spec=spec,
            factory=info.factory,
            compute=compute,
            seed=seed,
            distribution=reg.distribution,
            version=reg.version,
        )

    @classmethod
    def from_factory(cls, factory, spec: DeviceSpec, backend: str | None = None, compute: str = "cpu", seed: int = 0):
        """A target from a device class or factory and a spec (no registry needed)."""
        name = backend or getattr(factory, "__name__", "device")
        return cls(backend=name, preset=spec.name, spec=spec, factory=factory, compute=compute, seed=seed)

    @property
    def label(self) -> str:
        return f"{self.backend}/{self.preset} on {self.compute}"

    def with_seed(self, seed: int) -> Target:
        return attrs.evolve(self, seed=seed)

    def device_seed(self, key: int) -> int:
        """A seed for the device a check makes under ``key``, derived from the base seed."""
        return int(np.random.SeedSequence([self.seed, int(key)]).generate_state(1)[0] % (2**31))

    def make(self, key: int = 0, shape=DEFAULT_SHAPE, compute: str | None = None, spec: DeviceSpec | None = None) -> Device:
        """A fresh device for check ``key`` (same key and base seed = same device)."""
        comp = Compute.create(compute or self.compute, seed=self.device_seed(key))
        device = self.factory(spec=spec or self.spec, shape=shape, compute=comp)
        if not isinstance(device, Device):
            raise TypeError(f"{self.backend}: the factory returned {type(device).__name__}, not an imc.Device")
        return device


def all_presets(backend: str) -> list[str]:
    """The preset names of an installed backend, default first."""
    from imc.registry import get_registry

    info = get_registry().get(backend).info
    return [info.default_preset] + [p for p in info.presets if p != info.default_preset]
