"""First-party memristor (RRAM, 1T1R) backend for imc.

Registered through the ``imc`` entry point like any third-party backend.
"""

from imc import BackendInfo, hookimpl

from .device import MemristorDevice, MemristorSpec
from .presets import DEFAULT_PRESET, PRESETS
from .softbounds import SoftBoundsDevice, SoftBoundsSpec, memristor_device

__all__ = ["MemristorDevice", "MemristorSpec", "PRESETS", "SoftBoundsDevice", "SoftBoundsSpec", "imc_backends"]


@hookimpl
def imc_backends():
    return [
        BackendInfo(
            name="memristor",
            factory=memristor_device,
            presets=PRESETS,
            default_preset=DEFAULT_PRESET,
            description="RRAM 1T1R crossbar: EaPU paper's Gaussian-write device and a realistic TaOx/HfOx cell; aihwkit-style soft bounds",
        )
    ]
