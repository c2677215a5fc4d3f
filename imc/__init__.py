"""imc: train neural networks on simulated analog in-memory-computing hardware."""

from importlib import metadata as _metadata
from types import ModuleType as _ModuleType

from .compute import Compute
from .device import Counters, Device
from .hookspecs import hookimpl
from .registry import BackendInfo, backend, get_registry
from .spec import DeviceSpec

try:
    __version__ = _metadata.version("imc")
except _metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"

# The training engine's modules load on first attribute access (``imc.nn``, ``imc.models``...),
# so ``import imc`` stays light.
_LAZY_SUBMODULES = ("nn", "optim", "rules", "ledger", "train", "models")


def __getattr__(name: str) -> _ModuleType:
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "BackendInfo",
    "Compute",
    "Counters",
    "Device",
    "DeviceSpec",
    "backend",
    "get_registry",
    "hookimpl",
    "__version__",
]
