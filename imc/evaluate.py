"""Evaluation over time: the trained network read hours to years after programming.

After training, for each time ``t`` in ``times_s`` the trained arrays are drifted by ``t``
seconds (every device's :meth:`imc.Device.drift`) and the test metric is measured. Each
time point starts again from the state at the end of training and the trainer's whole
state (devices, random streams, ledger) is restored at the end, so the run, its
checkpoint and its summary are exactly what they would be without the evaluation.

Time is counted from the end of training: training happens at one instant of simulated
time (nothing calls ``drift`` during it), so every cell's age at ``t`` is ``t``.

Rule "ideal" trains exact digital weights; for the evaluation they are programmed once
onto the array (write-verify, :meth:`imc.nn.AnalogMatrix.leave_exact`) at ``t = 0``: the
"ideal-then-programmed" deployment (train in software, program, then read for a year).

Global drift compensation (``drift_compensation = "on"`` or ``"both"``): right after
training each analog layer drives an all-ones input once and keeps the summed absolute
output as its reference; at time ``t`` it reads the same way again and scales its outputs
by ``reference / now`` (a digital per-layer gain), as IBM's aihwkit does after Le Gallo
et al. (2018) and Joshi et al. (2020). It removes a common decay of the conductances; it
cannot undo the spread of the drift exponents between cells or the growth of read noise.

A backend without the "drift" capability keeps its conductances: its rows are marked
``drift_modelled: false`` (the metric then changes only through fresh read noise).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .spec import DRIFT

COMPENSATION = ("off", "on", "both")
#: the times the issue and the PCM literature report: 1 s, 1 h, 1 day, 1 month, 1 year
STANDARD_TIMES_S = (1.0, 3600.0, 86400.0, 2.592e6, 3.1536e7)


def time_label(seconds: float) -> str:
    """A short human label: 1 s, 1 h, 1 day, 30 days, 1 year, ..."""
    units = ((3.1536e7, "year"), (86400.0, "day"), (3600.0, "h"), (60.0, "min"), (1.0, "s"))
    for size, name in units:
        if seconds >= size:
            value = seconds / size
            text = f"{value:.3g}"
            plural = "s" if name in ("year", "day") and text != "1" else ""
            return f"{text} {name}{plural}"
    return f"{seconds:.3g} s"


def _reference(tile) -> float:
    """Summed |output| of one all-ones input vector (the calibration read of a layer)."""
    xp = tile.xp
    ones = xp.ones((1, tile.shape[0]), dtype=np.float32)
    saved, tile.output_scale = tile.output_scale, 1.0
    try:
        return float(xp.abs(tile.forward(ones)).sum())
    finally:
        tile.output_scale = saved


def evaluate_over_time(trainer, test, times_s, compensation: str = "both") -> dict:
    """The metric at each time after programming, with and/or without drift compensation.

    ``test`` is (x, y) as the trainer's ``evaluate`` takes it. Returns a JSON-able dict:
    ``times_s``, ``metric``, ``drift_modelled``, ``programmed_at_end`` and, per mode in
    ``compensation``, a list of metric values (``"uncompensated"``, ``"compensated"``),
    plus the per-layer compensation gains.
    """
    if compensation not in COMPENSATION:
        raise ValueError(f"drift_compensation must be one of {', '.join(COMPENSATION)}, got {compensation!r}")
    times = [float(t) for t in times_s]
    bad = [t for t in times if not (math.isfinite(t) and t >= 0)]
    if bad:
        raise ValueError(f"times_s must be finite times >= 0 s, got {bad}")
    model = trainer.model
    tiles = model.tiles()
    x, y = test
    backup = trainer.state()
    try:
        exact = [t for t in tiles if t.exact is not None]
        for tile in exact:
            tile.leave_exact()
        devices = [d for t in tiles for d in t.devices]
        drifting = bool(devices) and all(d.spec.has(DRIFT) for d in devices)
        references = [_reference(t) for t in tiles]
        start = model.state()
        modes = ["uncompensated", "compensated"] if compensation == "both" else (
            ["compensated"] if compensation == "on" else ["uncompensated"])
        out = {mode: [] for mode in modes}
        gains = []
        for t in times:
            model.load_state(start)
            if drifting:
                for dev in devices:
                    dev.drift(t)
            if "uncompensated" in out:
                out["uncompensated"].append(trainer.evaluate(x, y)[trainer.metric])
            if "compensated" in out:
                scales = []
                for tile, ref in zip(tiles, references):
                    now = _reference(tile)
                    scales.append(ref / now if now > 0 else 1.0)
                for tile, scale in zip(tiles, scales):
                    tile.output_scale = scale
                try:
                    out["compensated"].append(trainer.evaluate(x, y)[trainer.metric])
                finally:
                    for tile in tiles:
                        tile.output_scale = 1.0
                gains.append(scales)
    finally:
        trainer.load_state(backup)
    result = {
        "times_s": times,
        "labels": [time_label(t) for t in times],
        "metric": trainer.metric,
        "compensation": compensation,
        "drift_modelled": drifting,
        "programmed_at_end": bool(exact),
        **out,
    }
    if gains:
        result["compensation_gain"] = gains
    return result


EVALUATE_TABLE = "evaluate.md"
EVALUATE_PLOT = "plots/evaluate.png"


def write_evaluation(run, config, run_dir, plots: bool = True) -> dict:
    """Evaluate a finished run (``config``: the [evaluate] table); write evaluate.md and the plot."""
    from .files import atomic_write_text

    result = evaluate_over_time(run.trainer, run.test, config.times_s, config.drift_compensation)
    name = f"{run.cfg.rule.name} on {run.cfg.backend.name}"
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / EVALUATE_TABLE, table(result, name))
    if plots:
        (run_dir / "plots").mkdir(exist_ok=True)
        from .plot.common import identity_line

        who = identity_line({"name": run.cfg.run_name, "task": run.cfg.task.name, "model": run.cfg.model.name,
                             "backend": run.cfg.backend.name, "preset": run.device.preset, "rule": run.cfg.rule.name,
                             "seed": run.cfg.seed})
        plot({name: result}, run_dir / EVALUATE_PLOT, title=f"{result['metric']} after programming", identity=who)
    return result


def brief(evaluation: dict) -> str:
    """One line for the terminal: the metric at each time (compensated / uncompensated)."""
    metric = evaluation["metric"]
    fmt = (lambda v: f"{v * 100:.1f}") if metric == "accuracy" else (lambda v: f"{v:.1f}")
    parts = []
    for i, label in enumerate(evaluation["labels"]):
        values = [fmt(evaluation[m][i]) for m in ("uncompensated", "compensated") if m in evaluation]
        parts.append(f"{label} {'/'.join(values)}")
    modes = "/".join(m[:6] + "." for m in ("uncompensated", "compensated") if m in evaluation)
    unit = "%" if metric == "accuracy" else "dB"
    note = "" if evaluation["drift_modelled"] else " (drift not modelled)"
    return f"{metric} after programming ({modes}, {unit}){note}: " + ", ".join(parts)


def table(evaluation: dict, name: str = "") -> str:
    """A Markdown table: one row per time, one column per compensation mode."""
    metric = evaluation["metric"]
    modes = [m for m in ("uncompensated", "compensated") if m in evaluation]
    fmt = (lambda v: f"{v * 100:.2f} %") if metric == "accuracy" else (lambda v: f"{v:.2f} dB")
    head = f"{metric} after programming" + (f" ({name})" if name else "")
    note = "" if evaluation["drift_modelled"] else " (drift not modelled by this backend)"
    lines = [f"### {head}{note}", "", "| time | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes)]
    for i, label in enumerate(evaluation["labels"]):
        lines.append(f"| {label} | " + " | ".join(fmt(evaluation[m][i]) for m in modes) + " |")
    return "\n".join(lines) + "\n"


def combined_table(series: dict[str, dict], title: str = "") -> str:
    """Markdown: one row per run, one column per time and mode ("unc." / "comp.")."""
    first = next(iter(series.values()))
    metric, labels = first["metric"], first["labels"]
    fmt = (lambda v: f"{v * 100:.1f}") if metric == "accuracy" else (lambda v: f"{v:.2f}")
    unit = "%" if metric == "accuracy" else "dB"
    modes = [m for m in ("uncompensated", "compensated") if m in first]
    cols = [f"{label} {m[:4]}." for label in labels for m in modes]
    lines = [f"### {metric} ({unit}) after programming" + (f": {title}" if title else ""), "",
             "| run | drift | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for name, ev in series.items():
        cells = [fmt(ev[m][i]) for i in range(len(labels)) for m in modes]
        lines.append(f"| {name} | {'yes' if ev['drift_modelled'] else 'not modelled'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(series: dict[str, dict], path, title: str = "", identity: str | None = None) -> None:
    """Save :func:`imc.plot.plot_evaluation` (metric vs time after programming) as ``path``."""
    from .plot.common import save
    from .plot.run import plot_evaluation

    save(plot_evaluation(series, title=title, identity=identity), path)
