"""First-party MRAM (multi-MTJ STT/SOT) backend for imc.

Registered through the ``imc`` entry point like any third-party backend.
"""

from imc import BackendInfo, hookimpl

from .device import MramDevice, MramSpec, population_law
from .presets import DEFAULT_PRESET, PRESETS

__all__ = ["PRESETS", "MramDevice", "MramSpec", "imc_backends", "population_law"]


@hookimpl
def imc_backends():
    return [
        BackendInfo(
            name="mram",
            factory=MramDevice,
            presets=PRESETS,
            default_preset=DEFAULT_PRESET,
            description="STT/SOT MTJs, N binary junctions per weight (N + 1 levels), native probabilistic switching",
        )
    ]
