"""Figures of a device's pulse response (``imc characterize``) and of a fitted device against its data.

:func:`plot_device_response` (what aihwkit's ``plot_device`` gives): pulse trains up and down
(conductance in uS against pulse number), the mean step and the write noise per pulse against
conductance, measured by pulsing simulated cells (points with standard errors) over what the
backend declares (lines: its ``declared_step_us`` / ``declared_write_noise_us``), the visited
states and, for probabilistic cells, the switching probability.

:func:`plot_fit` puts a fitted device (``imc fit data.csv --name mydev`` makes the table
preset ``mydev``) over the measurements it was fitted to: the same ramps, from the same start
states, pulsed on the fitted device, and the fitted tables themselves.
"""

from __future__ import annotations

import numpy as np

from .common import new_figure

COLORS = {1: "tab:red", -1: "tab:blue"}
NAMES = {1: "up", -1: "down"}


def device_identity(backend: str, preset: str, *, cells=None, seed=None, what: str = "device response") -> str:
    """``device response: backend:preset, N cells, seed S``."""
    parts = [f"{backend}:{preset}" if preset else backend]
    if cells:
        parts.append(f"{cells} cells")
    if seed is not None:
        parts.append(f"seed {seed}")
    return f"{what}: " + ", ".join(parts)


def plot_device_response(backend, preset: str | None = None, *, cells: int = 64, pulses: int | None = None,
                         cycles: int = 1, seed: int = 0, identity: str | None = None, **overrides):
    """The pulse response of ``backend``/``preset`` (measured on ``cells`` simulated cells) against
    what it declares. ``backend`` may also be a :class:`~imc.characterize.Characterisation`
    (what ``imc characterize`` measured; the CLI's characterization.png is this figure)."""
    from imc.characterize import Characterisation, characterize

    if isinstance(backend, Characterisation):
        ch = backend
    else:
        ch = characterize(backend, preset, cells=cells, pulses=pulses, cycles=cycles, seed=seed, **overrides)
    who = identity if identity is not None else device_identity(
        ch.backend, ch.preset, cells=ch.summary["cells"], seed=getattr(ch, "seed", None))
    fig, axes = new_figure(2, 3, figsize=(14, 8), identity=who)
    _pulse_trains(axes[0, 0], ch)
    for ax, key, title in ((axes[0, 1], "step", "mean step per pulse"), (axes[0, 2], "noise", "write noise per pulse (std)")):
        _versus_g(ax, ch.bins, key, title)
    _states(axes[1, 0], ch)
    _switching(axes[1, 1], ch)
    _summary_text(axes[1, 2], ch)
    return fig


def _declared_trajectory(bins, direction: int, start: float, pulses: int, lo: float, hi: float) -> np.ndarray:
    """G after each pulse when every pulse moves by the declared mean step (interpolated between bins)."""
    rows = sorted((r for r in bins if r["direction"] == direction and np.isfinite(r["declared_step_us"])),
                  key=lambda r: r["g_mean_us"])
    g = np.empty(pulses + 1)
    g[0] = start
    if not rows:
        g[1:] = np.nan
        return g
    centres = [r["g_mean_us"] for r in rows]
    steps = [r["declared_step_us"] for r in rows]
    for n in range(pulses):
        g[n + 1] = min(max(g[n] + direction * float(np.interp(g[n], centres, steps)), lo), hi)
    return g


def _pulse_trains(ax, ch) -> None:
    """The first cycle's up and down trains: a few cells thin, the mean over all cells thick,
    the declared mean-step trajectory dashed."""
    first = {}
    for sw in ch.sweeps:  # the first sweep of each cell and direction: cycle 1
        first.setdefault((sw.cell, sw.direction), sw)
    offset = 0
    for direction in (1, -1):
        sweeps = [sw for (cell, d), sw in first.items() if d == direction]
        if not sweeps:
            continue
        pulses = np.asarray(sweeps[0].pulses) + offset
        traces = np.stack([np.asarray(sw.g_us) for sw in sweeps])
        for trace in traces[:8]:
            ax.plot(pulses, trace, color=COLORS[direction], lw=0.5, alpha=0.35)
        ax.plot(pulses, traces.mean(axis=0), color=COLORS[direction], lw=2, label=f"{NAMES[direction]}: measured mean")
        start = float(traces.mean(axis=0)[0])
        declared = _declared_trajectory(ch.bins, direction, start, len(pulses) - 1, ch.spec.g_min_us, ch.spec.g_max_us)
        ax.plot(pulses, declared, "k--", lw=1.2, label="declared mean step" if direction == 1 else None)
        offset = int(pulses[-1])
    ax.set(xlabel="pulse number (pulses)", ylabel="conductance G (uS)",
           title=f"pulse trains up, then down ({len({c for c, _ in first})} cells)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def _versus_g(ax, bins, key: str, title: str, *, label: str = "measured", marker: str = "o", declared: bool = True) -> None:
    for d in (1, -1):
        rows = [r for r in bins if r["direction"] == d and np.isfinite(r[f"{key}_us"])]
        if not rows:
            continue
        g = [r["g_mean_us"] for r in rows]
        ax.errorbar(g, [r[f"{key}_us"] for r in rows], yerr=[r[f"{key}_se_us"] for r in rows], fmt=marker,
                    color=COLORS[d], ms=4, capsize=2, label=f"{NAMES[d]} {label}")
        if declared:
            ax.plot(g, [r[f"declared_{key}_us"] for r in rows], "-", color=COLORS[d], alpha=0.7, label=f"{NAMES[d]} declared")
    ax.set(xlabel="conductance G (uS)", ylabel=f"{key} per pulse (uS)", title=title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def _states(ax, ch) -> None:
    states = np.concatenate([np.asarray(sw.g_us) for sw in ch.sweeps])
    ax.hist(states, bins=120, color="gray")
    ax.set(xlabel="conductance G (uS)", ylabel="visits (cell x pulse)",
           title=f"visited states (levels: {ch.summary['levels_measured']:.3g} measured, "
                 f"{ch.summary['levels_declared']:.3g} declared)")


def _switching(ax, ch) -> None:
    if not ch.switching:
        ax.text(0.5, 0.5, "no native probabilistic switching", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    for d in (1, -1):
        rows = [r for r in ch.switching if r["direction"] == d]
        x = [r.get("current_ua", r["requested_p"]) for r in rows]
        ax.errorbar(x, [r["measured_p"] for r in rows], yerr=[r["se"] for r in rows], fmt="o", color=COLORS[d],
                    ms=4, capsize=2, label=f"{NAMES[d]} measured")
        ax.plot(x, [r["declared_p"] for r in rows], "-", color=COLORS[d], alpha=0.7, label=f"{NAMES[d]} declared")
    xlabel = "pulse current (uA)" if "current_ua" in ch.switching[0] else "requested probability"
    ax.set(xlabel=xlabel, ylabel="P_sw (fraction of cells switched)", title="switching probability of one pulse")
    ax.legend(fontsize=7)


def _summary_text(ax, ch) -> None:
    ax.set_axis_off()
    s = ch.summary
    text = [
        "measured / declared",
        f"levels: {s['levels_measured']:.3g} / {s['levels_declared']:.3g}",
        f"pulses across: up {s['pulses_across_up']:.3g}, down {s['pulses_across_down']:.3g}",
        f"asymmetry mid (up/down): {s['asymmetry_mid_measured']:.3g} / {s['asymmetry_mid_declared']:.3g}",
        f"read noise rel: {s['read_noise_rel_measured']:.3g} / {s['read_noise_rel_declared']:.3g}",
        f"write energy: {s['energy_j']['write']:.3g} J / {s['energy_expected_j']['write']:.3g} J",
        "",
        "declared spec",
        f"window: {ch.spec.g_min_us:.4g}-{ch.spec.g_max_us:.4g} uS",
        f"endurance: {ch.spec.endurance_cycles:.3g} pulses",
        f"energy per pulse: {ch.spec.energy_per_pulse_j:.3g} J",
    ]
    ax.text(0.0, 1.0, "\n".join(text), va="top", family="monospace", fontsize=9, transform=ax.transAxes)


# ------------------------------------------------------------------------------- fitted vs measured
def plot_fit(measured, backend: str = "table", preset: str | None = None, *, bins: int = 10, max_cells: int = 512,
             seed: int = 0, identity: str | None = None):
    """A fitted device over the measurements it was fitted to.

    ``measured``: the ramps as :class:`imc.characterize.Sweep` objects (for a CSV:
    ``imc_table.fit.read_sweeps_csv(path)``). Each measured ramp is replayed on the fitted
    device (``backend``/``preset``) from its first measured state with the same pulses; the
    figure shows the mean ramps (+- 1 std) of both, and the step and write noise per pulse
    against conductance: measured data, the replay on the fitted device, and the fitted
    device's declared tables."""
    from imc.characterize.analysis import Sweep, bin_statistics, records
    from imc.registry import get_registry

    measured = [sw for sw in measured if isinstance(sw, Sweep)]
    if not measured:
        raise ValueError("no measured ramps: give a list of imc.characterize.Sweep (imc_table.fit.read_sweeps_csv)")
    registry = get_registry()
    preset = registry.get(backend).info.default_preset if preset is None else preset
    replayed, device = _replay(measured, backend, preset, max_cells, seed)
    all_g = np.concatenate([np.asarray(sw.g_us, dtype=np.float64) for sw in measured])
    edges = np.linspace(all_g.min(), all_g.max(), bins + 1)
    who = identity if identity is not None else device_identity(backend, preset, cells=None, seed=seed,
                                                                  what=f"fitted vs measured ({len(measured)} ramps)")
    fig, axes = new_figure(1, 3, figsize=(15, 4.8), identity=who)

    ax = axes[0, 0]
    for d in (1, -1):
        for source, style, label in ((measured, "-", "measured"), (replayed, "--", "fitted device")):
            ramps = [sw for sw in source if sw.direction == d]
            if not ramps:
                continue
            n = min(len(sw.g_us) for sw in ramps)
            g = np.stack([np.asarray(sw.g_us[:n], dtype=np.float64) for sw in ramps])
            x = np.asarray(ramps[0].pulses[:n])
            mean, std = g.mean(axis=0), g.std(axis=0)
            ax.plot(x, mean, style, color=COLORS[d], lw=1.6, label=f"{NAMES[d]}: {label}")
            ax.fill_between(x, mean - std, mean + std, color=COLORS[d], alpha=0.12 if style == "-" else 0.06)
    ax.set(xlabel="pulse number within the ramp (pulses)", ylabel="conductance G (uS)", title="mean ramp +- 1 std")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)

    rec_m, rec_f = records(measured), records(replayed)
    grid = np.linspace(edges[0], edges[-1], 200)
    xp, to_np = device.xp, device.compute.to_numpy
    for ax, key, title in ((axes[0, 1], "step", "mean step per pulse"), (axes[0, 2], "noise", "write noise per pulse (std)")):
        for d in (1, -1):
            for rec, marker, label in ((rec_m, "o", "measured"), (rec_f, "s", "fitted device, replayed")):
                rows = [r for r in bin_statistics(rec, edges, d) if np.isfinite(getattr(r, f"{key}_us"))]
                ax.errorbar([r.g_mean_us for r in rows], [getattr(r, f"{key}_us") for r in rows],
                            yerr=[getattr(r, f"{key}_se_us") for r in rows], fmt=marker, mfc="none" if marker == "s" else None,
                            color=COLORS[d], ms=4, capsize=2, label=f"{NAMES[d]} {label}")
            g32 = xp.asarray(grid, dtype=np.float32)
            hook = device.declared_step_us if key == "step" else device.declared_write_noise_us
            ax.plot(grid, to_np(hook(g32, d)), "-", color=COLORS[d], alpha=0.6, label=f"{NAMES[d]} fitted table (declared)")
        ax.set(xlabel="conductance G (uS)", ylabel=f"{key} per pulse (uS)", title=title)
        ax.legend(fontsize=6)
        ax.grid(alpha=0.3)
    return fig


def _replay(measured, backend: str, preset: str, max_cells: int, seed: int):
    """Each measured ramp (up to ``max_cells`` of them) pulsed on the fitted device from its first state."""
    from imc.characterize.analysis import Sweep
    from imc.registry import get_registry

    ramps = measured[:max_cells]
    n = len(ramps)
    device = get_registry().create(backend, (1, n), preset=preset, seed=seed)
    xp, to_np = device.xp, device.compute.to_numpy
    device.program(xp.asarray(np.array([[float(sw.g_us[0]) for sw in ramps]]), dtype=np.float32))
    top = max(int(np.asarray(sw.pulses)[-1] - np.asarray(sw.pulses)[0]) for sw in ramps)
    signs = xp.asarray(np.array([[sw.direction for sw in ramps]], dtype=np.int8))
    ones = xp.ones((1, n), dtype=np.float32)
    trace = [to_np(device.peek()).reshape(-1).astype(np.float64)]
    for _ in range(top):  # one pulse to every cell, each in its ramp's direction
        device.pulse(ones, signs)
        trace.append(to_np(device.peek()).reshape(-1).astype(np.float64))
    trace = np.stack(trace)
    out = []
    for c, sw in enumerate(ramps):
        index = np.asarray(sw.pulses) - int(np.asarray(sw.pulses)[0])
        out.append(Sweep(("fit", c), sw.direction, np.asarray(sw.pulses), trace[index, c]))
    return out, device
