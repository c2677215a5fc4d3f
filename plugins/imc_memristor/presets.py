"""Memristor presets, with the sources of their numbers (see docs/device-sources.md).

- "eapu-paper": the device the EaPU authors simulate (Liu et al., Nat. Commun. 2025;
  docs/device-sources.md): every actual write lands with additive Gaussian error sigma = 2 uS; no bounds,
  no read noise, no nonlinearity. The window [0, 160] uS is the nominal mapping range
  (a weight of +-1 at R_wg = 1/80 per uS around an 80 uS reference); it is not enforced.
  The pulse step equals sigma, so EaPU's fixed step dG_th = sigma is one pulse.
  Energy for this window: one write pulse ``V_w^2 * G * t_p`` at the window's mean 80 uS with
  the Wu'18 pulse (1.6 V, 50 ns; the paper does not give its array's pulse) = 10.2 pJ; one
  read ``V_r^2 * G * t_r`` at 0.2 V, 10 ns = 32 fJ (docs/energy.md).
- "rram-realistic": a TaOx/HfOx 1T1R cell with the defaults in docs/device-sources.md:
  2-20 uS window (Wu'18 on/off 10); 128 pulses across it; NeuroSim nonlinearity 0.04 up and
  0.63 (saturating) down (Wu'18); cycle-to-cycle 3.7 % of range per pulse (Wu'18);
  device-to-device step and window spread 0.3 (aihwkit ReRAM presets); read noise 1 % of G
  per read; stuck-at 0.1 % low + 0.1 % high; endurance 1e7 pulses [assumed];
  1.41 pJ per 1.6 V / 50 ns pulse and 4.4 fJ per cell read (0.2 V, 10 ns), both at the
  window's mean 11 uS;
  write-verify error with the NeuRRAM profile, ~1 uS at mid-window; relaxation after the
  write with the CMO/HfOx law scaled to the range (IBM aihwkit's ReRamCMONoiseModel, after
  Falcone et al. 2025 / Lombardo et al. 2024: mean -0.089 ln t uS and spread 0.042 ln t uS
  on an 82 uS window, i.e. 0.11 % and 0.05 % of the range per e-fold of time).
- "rram-stress": rram-realistic with Ag:a-Si nonlinearity (2.4 / 4.88) and the 4-Mb HfO2
  chip's fault rates (1.75 % stuck low, 9.04 % stuck high) to stress update rules.
- "soft-bounds": aihwkit's SoftBoundsDevice (softbounds.py) with dw_min 0.005 at
  w_max 0.6, 30 % device-to-device spread of the step and of both bounds, 30 % cycle-to-cycle
  spread of each pulse (the setting of aihwkit's Tiki-Taka comparisons). In conductance: a
  40-80 uS window (so the 30 % bound spread about the 60 uS middle never reaches 0 uS), a
  step of 20 uS * 0.005 / 0.6 = 1/6 uS at the middle (120 nominal steps to each bound).
  With ``mapping = "reference"`` and ``w_max = 0.6`` it is aihwkit's device in weight units
  (docs/devices.md gives the mapping). Energy, timing and endurance are rram-realistic's.
"""

from imc.spec import ANALOG_WRITE, BOUNDS, DEVICE_VARIATION, DRIFT, FAULTS, READ_NOISE

from .device import MemristorSpec
from .softbounds import SoftBoundsSpec

# V^2 * G * t energies of one write pulse (Wu'18: 1.6 V, 50 ns) and one read (0.2 V, 10 ns)
# at a window's mean conductance (docs/energy.md)
_WRITE_V, _WRITE_S, _READ_V, _READ_S = 1.6, 50e-9, 0.2, 10e-9


def _pulse_j(g_mean_us: float) -> float:
    return _WRITE_V**2 * g_mean_us * 1e-6 * _WRITE_S


def _read_j(g_mean_us: float) -> float:
    return _READ_V**2 * g_mean_us * 1e-6 * _READ_S


EAPU_PAPER = MemristorSpec(
    name="eapu-paper",
    g_min_us=0.0,
    g_max_us=160.0,
    step_us=2.0,
    write_noise_us=2.0,
    read_noise_rel=0.0,
    program_noise_us=0.0,
    program_pulses=1,
    endurance_cycles=1e7,
    energy_per_pulse_j=_pulse_j(80.0),
    energy_per_read_j=_read_j(80.0),
    pulse_width_s=50e-9,
    read_time_s=10e-9,
    capabilities={ANALOG_WRITE},
    source="EaPU, Nat. Commun. 2025 (DOI 10.1038/s41467-025-66240-7): additive Gaussian write error 2 uS",
)

_RANGE = 18.0
RRAM_REALISTIC = MemristorSpec(
    name="rram-realistic",
    g_min_us=2.0,
    g_max_us=20.0,
    step_us=_RANGE / 128,
    write_noise_us=0.037 * _RANGE,
    read_noise_rel=0.01,
    program_noise_us=1.0,
    program_noise_model="neurram",
    program_pulses=10,
    nonlinearity_up=0.04,
    nonlinearity_down=0.63,
    step_d2d=0.3,
    bounds_d2d=0.3,
    stuck_low_prob=0.001,
    stuck_high_prob=0.001,
    endurance_cycles=1e7,
    energy_per_pulse_j=_pulse_j(11.0),
    energy_per_read_j=_read_j(11.0),
    pulse_width_s=50e-9,
    read_time_s=10e-9,
    relax_mean_per_ln=0.089 / 82,
    relax_std_per_ln=0.042 / 82,
    capabilities={BOUNDS, FAULTS, READ_NOISE, DEVICE_VARIATION, DRIFT},
    source="Wu'18 (NeuroSim V3), aihwkit ReRAM presets, NeuRRAM (Wan 2022), CMO relaxation (Falcone 2025)",
)

RRAM_STRESS = RRAM_REALISTIC.evolve(
    name="rram-stress",
    nonlinearity_up=2.4,
    nonlinearity_down=4.88,
    stuck_low_prob=0.0175,
    stuck_high_prob=0.0904,
    source="Ag:a-Si nonlinearity (NeuroSim), 4-Mb HfO2 chip fault rates (Chen 2015)",
)

# aihwkit SoftBoundsDevice: dw_min 0.005 at w_max 0.6 -> 20 uS half-window / 120 steps
_HALF = 20.0
SOFT_BOUNDS = SoftBoundsSpec(
    name="soft-bounds",
    g_min_us=60.0 - _HALF,
    g_max_us=60.0 + _HALF,
    step_us=_HALF * 0.005 / 0.6,
    step_c2c=0.3,
    step_d2d=0.3,
    bounds_d2d=0.3,
    read_noise_rel=0.0,
    program_noise_us=0.0,
    program_pulses=10,
    endurance_cycles=1e7,
    energy_per_pulse_j=_pulse_j(60.0),  # the window's mean conductance, rram-realistic's pulses
    energy_per_read_j=_read_j(60.0),
    pulse_width_s=50e-9,
    read_time_s=10e-9,
    capabilities={BOUNDS, DEVICE_VARIATION},
    source="aihwkit SoftBoundsDevice (LinearStep, slope 1, multiplicative noise): dw_min 0.005, w_max 0.6, "
    "dtod 0.3, dw_min_std 0.3; pulses and timing as rram-realistic, energy V^2 G t at the window's mean 60 uS",
)

PRESETS = {p.name: p for p in (EAPU_PAPER, RRAM_REALISTIC, RRAM_STRESS, SOFT_BOUNDS)}
DEFAULT_PRESET = "eapu-paper"
