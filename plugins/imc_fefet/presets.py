"""FeFET presets, with the sources of their numbers (see docs/device-sources.md).

- "fefet": a Si-channel HZO FeFET (Jerry et al., IEDM 2017, as benchmarked in NeuroSim V3):
  window 0.04-1.8 uS (R_on 559 kOhm, on/off 45); 32 pulses across it (32 levels);
  NeuroSim nonlinearity 1.75 up (saturating) / 1.46 down (NL_LTD > 0: accelerating toward
  G_min, i.e. -1.46 in imc.curves' convention); cycle-to-cycle 0.5 % of range per pulse;
  device-to-device step spread 0.2 and window spread 0.1 [assumed]; read noise 1 % of G
  (WOx-channel FeFET); endurance 1e5 pulses (Si-channel, interlayer-limited); 5 fJ per
  3.5 V / 75 ns gate pulse including the local line; 0.2 fJ per cell read (0.1 V, 10 ns);
  write-verify error 1 % of range [assumed]; no stuck cells (parameter exposed).
- "fefet-highk": the same cell with a high-k interlayer: endurance 1e10 (Tan'21, > 1e10).
- "fefet-scaled": a scaled device with N_d = 20 ferroelectric domains, each switching with
  probability 0.5 per pulse: every pulse's effect is binomially random, relative spread
  sqrt((1 - p) / (N_d p)) = 22 % of the step [assumed, docs/device-sources.md].
"""

from imc.spec import BOUNDS, DEVICE_VARIATION, READ_NOISE

from .device import FefetSpec

_G_MIN, _G_MAX = 0.04, 1.8
_RANGE = _G_MAX - _G_MIN

FEFET = FefetSpec(
    name="fefet",
    g_min_us=_G_MIN,
    g_max_us=_G_MAX,
    step_us=_RANGE / 32,
    write_noise_us=0.005 * _RANGE,
    read_noise_rel=0.01,
    program_noise_us=0.01 * _RANGE,
    program_pulses=10,
    nonlinearity_up=1.75,
    nonlinearity_down=-1.46,
    step_d2d=0.2,
    bounds_d2d=0.1,
    endurance_cycles=1e5,
    energy_per_pulse_j=5e-15,
    energy_per_read_j=0.2e-15,
    pulse_width_s=75e-9,
    read_time_s=10e-9,
    capabilities={BOUNDS, READ_NOISE, DEVICE_VARIATION},
    source="Jerry IEDM'17 via NeuroSim V3 (window, 32 levels, NL 1.75/1.46, c2c 0.5 %)",
)

FEFET_HIGHK = FEFET.evolve(
    name="fefet-highk",
    endurance_cycles=1e10,
    source="fefet with a high-k interlayer: endurance > 1e10 (Tan et al., arXiv 2103.08806)",
)

FEFET_SCALED = FEFET.evolve(
    name="fefet-scaled",
    domains=20,
    domain_switch_prob=0.5,
    source="fefet scaled to N_d = 20 domains, binomial pulse response [assumed N_d]",
)

PRESETS = {p.name: p for p in (FEFET, FEFET_HIGHK, FEFET_SCALED)}
DEFAULT_PRESET = "fefet"
