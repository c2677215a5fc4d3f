"""imc-ecram: an example third-party imc backend (an electrochemical RAM cell).

The whole plugin interface is this hook: return one :class:`imc.BackendInfo` per backend.
"""

import imc

from .device import EcramDevice, EcramSpec
from .presets import DEFAULT_PRESET, PRESETS

__version__ = "0.1.0"
__all__ = ["PRESETS", "EcramDevice", "EcramSpec", "imc_backends"]


@imc.hookimpl
def imc_backends():
    return [
        imc.BackendInfo(
            name="ecram",
            factory=EcramDevice,
            presets=PRESETS,
            default_preset=DEFAULT_PRESET,
            description="electrochemical RAM: linear symmetric pulses, many states, retention drift (example plugin)",
        )
    ]
