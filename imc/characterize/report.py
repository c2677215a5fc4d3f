"""Characterisation output: a printed table, CSV / JSON files and a PNG plot.

Files written into the output folder (each atomically: a temporary file renamed into place,
so an interrupted run never leaves a half-written file):

- ``bins.csv``: one row per direction and conductance bin, measured vs declared;
- ``switching.csv``: switching probability sweep (native-probabilistic backends only);
- ``summary.json``: the spec, the summary figures and both tables;
- ``characterization.png``: traces, step and noise vs G, visited states, P_sw
  (:func:`imc.plot.plot_device_response`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from imc.files import atomic_write_bytes

from ..errors import RunFolderError

BIN_COLUMNS = (
    "direction", "g_lo_us", "g_hi_us", "g_mean_us", "n_steps", "n_cells", "step_us", "step_se_us",
    "declared_step_us", "n_pairs", "noise_us", "noise_se_us", "declared_noise_us", "offset_us", "offset_se_us",
    "declared_offset_us",
)
SWITCH_COLUMNS = ("direction", "requested_p", "current_ua", "declared_p", "measured_p", "se", "cells")


def _csv_text(rows, columns) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in columns})
    return buf.getvalue()


def _fmt(value, digits=4) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}g}"
    return str(value)


def format_table(ch) -> str:
    """The characterisation as text: spec, per-bin table, switching sweep, summary."""
    title = (f"imc characterize {ch.backend} --preset {ch.preset}  ({ch.summary['cells']} cells, "
             f"{ch.summary['pulses_per_sweep']} pulses per sweep)")
    lines = [title, "", "declared spec:"]
    for key, value in ch.spec.to_dict().items():
        lines.append(f"  {key:22s} {_fmt(value) if not isinstance(value, (list, tuple)) else value}")
    lines += ["", "step, accumulating write noise and non-accumulating offset per pulse, by conductance "
              "(measured +- s.e. | declared), uS:"]
    header = ("dir", "G bin (uS)", "steps", "step measured", "declared", "noise measured", "declared", "offset measured", "declared")
    rows = [header]
    for r in ch.bins:
        rows.append((
            "up" if r["direction"] > 0 else "down",
            f"{r['g_lo_us']:.4g}-{r['g_hi_us']:.4g}",
            str(r["n_steps"]),
            f"{_fmt(r['step_us'])} +- {_fmt(r['step_se_us'], 2)}",
            _fmt(r["declared_step_us"]),
            f"{_fmt(r['noise_us'])} +- {_fmt(r['noise_se_us'], 2)}",
            _fmt(r["declared_noise_us"]),
            f"{_fmt(r['offset_us'])} +- {_fmt(r['offset_se_us'], 2)}",
            _fmt(r.get("declared_offset_us", float("nan"))),
        ))
    lines += _columns(rows)
    if ch.spec.step_d2d > 0 or ch.spec.bounds_d2d > 0:
        lines += ["", "note: the cells' steps spread from cell to cell (step_d2d, bounds_d2d) and a sweep spends",
                  "more pulses on slow cells, so the measured steps (means over pulses) fall below the declared",
                  "ones, which are means over cells at the same place in their own windows;",
                  f"`imc conformance {ch.backend} --check steps_across_window` weighs every cell once."]
    if ch.switching:
        lines += ["", "note: in a pulse train a junction that fails to switch is retried, so hard-to-switch",
                  "junctions are over-sampled and train steps fall below the declared (population) step;",
                  "the switching sweep below gives every cell exactly one trial."]
        lines += ["", "switching probability of one pulse (measured +- s.e. | declared):"]
        rows = [("dir", "requested p", "current (uA)", "declared P_sw", "measured", "s.e.")]
        for r in ch.switching:
            rows.append(("up" if r["direction"] > 0 else "down", _fmt(r["requested_p"]), _fmt(r.get("current_ua", float("nan"))),
                         _fmt(r["declared_p"]), _fmt(r["measured_p"]), _fmt(r["se"], 2)))
        lines += _columns(rows)
    s = ch.summary
    lines += [
        "",
        (f"levels: measured {_fmt(s['levels_measured'])} ({'distinct states' if s['quantized'] else 'pulses across the window going up'}), "
         f"declared {_fmt(s['levels_declared'])}; pulses across: up {_fmt(s['pulses_across_up'])}, down {_fmt(s['pulses_across_down'])}"),
        f"asymmetry (up step / down step at mid-window): measured {_fmt(s['asymmetry_mid_measured'])}, declared {_fmt(s['asymmetry_mid_declared'])}",
        f"read noise (fraction of G): measured {_fmt(s['read_noise_rel_measured'])}, declared {_fmt(s['read_noise_rel_declared'])}",
        f"pulses counted {s['pulses_counted']} (expected {s['pulses_expected']}); energy J: "
        + ", ".join(f"{k} {v:.4g} (expected {s['energy_expected_j'][k]:.4g})" for k, v in s["energy_j"].items()),
    ]
    return "\n".join(lines)


def _columns(rows) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (frozenset, set, tuple)):
        return sorted(value) if isinstance(value, (frozenset, set)) else list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _clean(value):
    """NaN and inf become null so the JSON is standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_report(ch, out_dir) -> dict[str, Path]:
    """Write the table, CSV / JSON files and the plot into ``out_dir``; return their paths."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"output folder {out} exists and is not a folder; choose another --out")
    payload = {"backend": ch.backend, "preset": ch.preset, "spec": ch.spec.to_dict(), "summary": ch.summary,
               "bins": ch.bins, "switching": ch.switching}
    # everything is rendered before the folder is touched, so a failure writes nothing
    files = {
        "table.txt": (format_table(ch) + "\n").encode(),
        "bins.csv": _csv_text(ch.bins, BIN_COLUMNS).encode(),
        "summary.json": json.dumps(_clean(payload), indent=2, default=_json_default, allow_nan=False).encode(),
        "characterization.png": plot_png(ch),
    }
    if ch.switching:
        files["switching.csv"] = _csv_text(ch.switching, SWITCH_COLUMNS).encode()
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in files.items():
        atomic_write_bytes(out / name, data)
        paths[name.split(".")[0]] = out / name
    return paths


def plot_png(ch) -> bytes:
    """characterization.png: the figure of :func:`imc.plot.plot_device_response` as PNG bytes."""
    from imc.plot.common import png_bytes
    from imc.plot.device import plot_device_response

    return png_bytes(plot_device_response(ch))
