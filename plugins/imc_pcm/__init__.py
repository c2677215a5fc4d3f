"""First-party phase-change memory (PCM) backend for imc.

Registered through the ``imc`` entry point like any third-party backend.
"""

from imc import BackendInfo, hookimpl

from .device import PcmDevice, PcmSpec
from .presets import DEFAULT_PRESET, PRESETS

__all__ = ["PRESETS", "PcmDevice", "PcmSpec", "imc_backends"]


@hookimpl
def imc_backends():
    return [
        BackendInfo(
            name="pcm",
            factory=PcmDevice,
            presets=PRESETS,
            default_preset=DEFAULT_PRESET,
            description="phase-change memory: gradual SET, abrupt RESET, power-law drift, 1/f read noise",
        )
    ]
