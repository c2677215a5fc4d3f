"""ECRAM presets. Illustrative numbers in the range reported for Li-ion and proton ECRAM
(hundreds to ~1000 near-linear states, small asymmetry, fJ-scale pulses); they are an
example for backend authors, not a fit to one published device.

- "li-ecram": 1-10 uS window crossed in 500 pulses (step 0.018 uS), cycle-to-cycle noise
  half a step per pulse, 5 % asymmetry, 10 % device-to-device step spread, 0.5 % read
  noise, write-verify to 0.05 uS, retention time constant 1e6 s towards 1 uS.
- "fast-ecram": a noisier, shorter-retention variant (100 states, noise one step per
  pulse, 1e3 s retention) to show how a preset is derived with ``evolve``.
"""

from imc.spec import BOUNDS, DEVICE_VARIATION, DRIFT, READ_NOISE

from .device import EcramSpec

LI_ECRAM = EcramSpec(
    name="li-ecram",
    g_min_us=1.0,
    g_max_us=10.0,
    step_us=9.0 / 500,
    write_noise_us=0.5 * 9.0 / 500,
    asymmetry=0.05,
    step_d2d=0.1,
    read_noise_rel=0.005,
    program_noise_us=0.05,
    program_pulses=20,
    endurance_cycles=1e9,
    energy_per_pulse_j=10e-15,
    energy_per_read_j=1e-15,
    pulse_width_s=100e-9,
    read_time_s=10e-9,
    g_rest_us=1.0,
    retention_tau_s=1e6,
    capabilities={BOUNDS, DRIFT, READ_NOISE, DEVICE_VARIATION},
    source="example plugin: illustrative Li-ion ECRAM numbers",
)

FAST_ECRAM = LI_ECRAM.evolve(
    name="fast-ecram",
    step_us=9.0 / 100,
    write_noise_us=9.0 / 100,
    retention_tau_s=1e3,
    source="example plugin: a noisier, shorter-retention variant",
)

PRESETS = {p.name: p for p in (LI_ECRAM, FAST_ECRAM)}
DEFAULT_PRESET = "li-ecram"
