"""PCM presets, with the sources of their numbers (details and units in docs/devices.md).

- "pcm-joshi" (default): a doped-Ge2Sb2Te5 mushroom cell as in IBM's PCM inference studies
  (Joshi et al., Nat. Commun. 11, 2473, 2020; the statistical model of Nandakumar et al.,
  ICECS 2019, as implemented in IBM's aihwkit): window 0-25 uS; write-verify error with the
  measured quadratic profile, 1.09 uS at its peak; drift exponent nu = 0.05 +- 0.01 per cell
  (the fit's mean over the upper 80 % of the window is 0.049 with a spread of 0.008, rising
  towards 0.1 near the RESET state), t0 = 20 s; read noise 1/f with t_read = 250 ns,
  4 % of G one second after the write. SET: 20 pulses across the window on a saturating
  curve (NeuroSim label 1.75: the last step is a quarter of the first) with a per-pulse
  spread of 0.8 uS, step spread 0.3 between devices (Nandakumar et al., J. Appl. Phys. 124,
  152135, 2018: gradual, strongly saturating and highly stochastic SET).
- "pcm-gst": the same cell with undoped-GST drift, nu = 0.1 +- 0.03 (the RESET-state value
  of Le Gallo et al., Adv. Electron. Mater. 4, 1700627, 2018), a stress preset for
  retention.
"""

from imc.spec import ABRUPT_RESET, BOUNDS, DEVICE_VARIATION, DRIFT, READ_NOISE

from .device import PcmSpec

PCM_JOSHI = PcmSpec(
    name="pcm-joshi",
    g_min_us=0.0,
    g_max_us=25.0,
    step_us=25.0 / 20,
    write_noise_us=0.8,
    read_noise_rel=0.04,
    program_noise_us=1.09,
    program_noise_model="joshi",
    program_pulses=10,
    nonlinearity_up=1.75,
    step_d2d=0.3,
    bounds_d2d=0.0,
    reset_noise_us=0.1,
    drift_nu_mean=0.05,
    drift_nu_std=0.01,
    drift_t0_s=20.0,
    read_noise_ref_s=1.0,
    endurance_cycles=1e8,
    energy_per_pulse_j=5e-12,
    energy_per_read_j=1.25e-13,
    pulse_width_s=50e-9,
    read_time_s=250e-9,
    capabilities={BOUNDS, READ_NOISE, DEVICE_VARIATION, DRIFT, ABRUPT_RESET},
    source="Joshi et al. Nat. Commun. 2020; Nandakumar et al. ICECS 2019 and JAP 2018; Le Gallo et al. 2018 (docs/devices.md)",
)

PCM_GST = PCM_JOSHI.evolve(
    name="pcm-gst",
    drift_nu_mean=0.1,
    drift_nu_std=0.03,
    source="pcm-joshi with undoped-GST RESET-state drift, Le Gallo et al. Adv. Electron. Mater. 2018",
)

PRESETS = {p.name: p for p in (PCM_JOSHI, PCM_GST)}
DEFAULT_PRESET = "pcm-joshi"
