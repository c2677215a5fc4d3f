"""MRAM presets, with the sources of their numbers (see docs/device-sources.md).

- "stt" (default): STT-MTJ weight cells of N = 4 junctions (5 levels); R_P 3.5 kOhm and
  TMR 130 % (NeuroSim V3 STT-MRAM: G_P 286 uS, G_AP 124 uS per junction); thermal switching
  law with Delta = 45, tau0 = 1 ns, 10 ns pulses; Ic0 150 uA (P -> AP) [assumed] with
  Ic0(AP -> P) / Ic0(P -> AP) = 0.7 [assumed]; device-to-device spread 5 % of Ic0 and Delta,
  3 % of R_P and TMR; a plain pulse is set to P_sw = 0.5; read noise 0.5 % of G [assumed];
  endurance 1e12 (conservative, breakdown-limited); 1 pJ per STT pulse (1 V x ~100 uA x
  10 ns); 30 fJ per cell read (0.1 V, 286 uS, 10 ns). Retention from the same thermal law
  at zero current: mean time to flip tau0 e^Delta per junction (~1100 years at Delta = 45).
- "sot": the same junctions written by spin-orbit torque: 0.3 pJ per pulse [assumed],
  endurance 1e15 (the read path never carries write current; TDDB projection > 1e15).
- "stt-binary": one junction per cell (2 levels), the stochastic binary synapse of
  Vincent et al.
"""

from imc.spec import BOUNDS, DEVICE_VARIATION, DRIFT, NATIVE_PROBABILISTIC, READ_NOISE, SWITCHING_LAW

from .device import MramSpec

STT = MramSpec(
    name="stt",
    n_mtj=4,
    r_p_kohm=3.5,
    tmr=1.3,
    delta=45.0,
    tau0_s=1e-9,
    ic0_ua=150.0,
    ic0_ratio=0.7,
    ic0_d2d=0.05,
    delta_d2d=0.05,
    r_p_d2d=0.03,
    tmr_d2d=0.03,
    pulse_switch_prob=0.5,
    read_noise_rel=0.005,
    program_noise_us=0.0,
    program_pulses=4,
    endurance_cycles=1e12,
    energy_per_pulse_j=1e-12,
    energy_per_read_j=30e-15,
    pulse_width_s=10e-9,
    read_time_s=10e-9,
    capabilities={BOUNDS, READ_NOISE, DEVICE_VARIATION, NATIVE_PROBABILISTIC, DRIFT, SWITCHING_LAW},
    source="NeuroSim V3 STT-MRAM (R_P, TMR), thermal law (Delta 45, tau0 1 ns)",
)

SOT = STT.evolve(
    name="sot",
    energy_per_pulse_j=0.3e-12,
    endurance_cycles=1e15,
    source="stt junctions with SOT writes: 0.3 pJ per pulse [assumed], endurance > 1e15 (Kan et al., TED 2017)",
)

STT_BINARY = STT.evolve(name="stt-binary", n_mtj=1, source="one STT-MTJ per cell: a stochastic binary synapse (Vincent et al.)")

PRESETS = {p.name: p for p in (STT, SOT, STT_BINARY)}
DEFAULT_PRESET = "stt"
