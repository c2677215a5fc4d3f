"""Built-in table presets.

- "example-rram": a table sampled from a TaOx/HfOx-like curve (docs/device-sources.md, memristor
  2-20 uS, 128 pulses across, NeuroSim nonlinearity 1.0 up / 0.63 down, both saturating,
  write noise 1 % of range per pulse). It shows the format and is what ``imc fit`` produces
  from measured data; fitted presets are added by ``imc fit`` (see store.py).
"""

import numpy as np

from imc import curves
from imc.spec import BOUNDS

from .device import TableSpec


def _sampled(g_min, g_max, pmax, nl_up, nl_down, noise_rel, points=12):
    a_up, a_down = curves.a_from_label(nl_up), curves.a_from_label(nl_down)
    grid = np.linspace(g_min, g_max, points)
    u = (grid - g_min) / (g_max - g_min)
    slope_up = curves.slope(u, a_up, a_down, 1) * (g_max - g_min) / pmax
    slope_down = curves.slope(u, a_up, a_down, -1) * (g_max - g_min) / pmax
    noise = np.full(points, noise_rel * (g_max - g_min))
    return {
        "grid_up_us": grid, "step_up_us": slope_up, "noise_up_us": noise,
        "grid_down_us": grid, "step_down_us": slope_down, "noise_down_us": noise,
    }


EXAMPLE_RRAM = TableSpec(
    name="example-rram",
    g_min_us=2.0,
    g_max_us=20.0,
    step_us=18.0 / 128,
    write_noise_us=0.01 * 18.0,
    program_noise_us=0.2,
    program_pulses=10,
    endurance_cycles=1e7,
    energy_per_pulse_j=1.5e-12,
    energy_per_read_j=4e-15,
    pulse_width_s=50e-9,
    read_time_s=10e-9,
    capabilities={BOUNDS},
    source="sampled from a NeuroSim curve (NL 1.0 / 0.63, 128 pulses, 2-20 uS); a demonstration table",
    **_sampled(2.0, 20.0, 128, 1.0, 0.63, 0.01),
)

BUILTIN = {EXAMPLE_RRAM.name: EXAMPLE_RRAM}
DEFAULT_PRESET = "example-rram"
