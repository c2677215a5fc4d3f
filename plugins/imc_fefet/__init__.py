"""First-party FeFET (HfZrO2 ferroelectric FET) backend for imc.

Registered through the ``imc`` entry point like any third-party backend.
"""

from imc import BackendInfo, hookimpl

from .device import FefetDevice, FefetSpec
from .presets import DEFAULT_PRESET, PRESETS

__all__ = ["PRESETS", "FefetDevice", "FefetSpec", "imc_backends"]


@hookimpl
def imc_backends():
    return [
        BackendInfo(
            name="fefet",
            factory=FefetDevice,
            presets=PRESETS,
            default_preset=DEFAULT_PRESET,
            description="HZO FeFET, 32 levels by partial polarisation switching (NeuroSim NL 1.75/1.46)",
        )
    ]
