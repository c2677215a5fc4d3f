"""What every figure shares: a bare matplotlib ``Figure``, its identity line, saving, log floors.

Figures are made with :class:`matplotlib.figure.Figure`, not pyplot: nothing opens a window,
nothing is kept by pyplot's figure manager, and a notebook shows the returned figure once.
The figure's identity (run name, task, model, backend:preset, rule, seed) is its suptitle and
its label (``fig.get_label()``); :func:`save` writes it into the PNG's ``Title`` metadata.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np

DPI = 110


def identity_line(record: Mapping) -> str:
    """``name: task / model on backend:preset, rule R, seed S``, leaving out what is not known."""
    backend = str(record.get("backend") or "")
    if backend and record.get("preset"):
        backend += f":{record['preset']}"
    what = " / ".join(str(record[k]) for k in ("task", "model") if record.get(k))
    parts = []
    if what or backend:
        parts.append(" on ".join(p for p in (what, backend) if p))
    if record.get("rule"):
        parts.append(f"rule {record['rule']}")
    if record.get("seed") is not None:
        parts.append(f"seed {record['seed']}")
    text = ", ".join(parts)
    name = record.get("name")
    return f"{name}: {text}" if name and text else str(name or text)


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize, identity: str = "", **subplots):
    """(figure, 2-D array of axes) with the identity on top and as the figure's label."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplots)
    set_identity(fig, identity)
    return fig, axes


def set_identity(fig, identity: str) -> None:
    """Put ``identity`` on top of ``fig`` (small grey line) and into its label (PNG Title)."""
    if identity:
        fig.suptitle(identity, fontsize=8, color="0.35")
        fig.set_label(identity)


def png_metadata(fig) -> dict | None:
    label = fig.get_label()
    return {"Title": label} if label else None


def png_bytes(fig, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes, its identity in the Title metadata."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata=png_metadata(fig))
    return buffer.getvalue()


def save(fig, path, dpi: int = DPI) -> Path:
    """Write ``fig`` as a PNG whole or not at all (a temporary file renamed into place)."""
    from imc.files import atomic_write

    path = Path(path)
    atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=dpi, metadata=png_metadata(fig)))
    return path


def log_floor(values, counts: bool = False) -> float:
    """Where a log axis starts so the smallest positive value shows: half a count for counts,
    otherwise a third of the smallest positive value (1.0 when nothing is positive)."""
    positive = [float(v) for v in values if v is not None and np.isfinite(v) and v > 0]
    if counts:
        return 0.5
    return min(positive) / 3 if positive else 1.0


def mark_at_floor(ax, positions, floor: float, text: str, *, horizontal: bool = True, color="0.2") -> None:
    """A visible marker and a label at the log axis floor for values a log axis cannot show
    (zero, or unlimited when ``text`` says so): nothing vanishes without a word."""
    for pos in positions:
        if horizontal:  # bars along x: the floor is on the x axis
            ax.plot([floor], [pos], marker="|", markersize=12, mew=2.5, color=color, clip_on=False, zorder=5)
            ax.annotate(text, (floor, pos), xytext=(6, 0), textcoords="offset points", va="center", ha="left",
                        fontsize=8, color=color, fontweight="bold")
        else:
            ax.plot([pos], [floor], marker="_", markersize=12, mew=2.5, color=color, clip_on=False, zorder=5)
            ax.annotate(text, (pos, floor), xytext=(0, 5), textcoords="offset points", ha="center", va="bottom",
                        fontsize=8, color=color, fontweight="bold")


UNITS = {"_us": "uS", "_j": "J", "_s": "s", "_db": "dB", "_ua": "uA", "_v": "V"}  # name suffix -> unit


def unit_of(key: str) -> str:
    """The unit :func:`axis_label` reads from a key ("" when it has none)."""
    label = axis_label(key)
    return label[len(key) + 2 : -1] if label != key else ""


def axis_label(key: str) -> str:
    """A config key or metric with its unit from the name's suffix: ``..._us`` -> ``... (uS)``;
    a table's unit applies to its entries (``energy_by_category_j.array_write`` -> J)."""
    parts = key.lower().split(".")
    last = parts[-1]
    unit = next((u for part in reversed(parts) for suffix, u in UNITS.items() if part.endswith(suffix)), None)
    named = {"psnr": "dB", "write_events": "cell writes", "cells_written_distinct": "cells", "write_events_step": "cell writes",
             "pulses": "pulses", "accuracy": "fraction", "steps": "steps", "epochs": "epochs"}
    if unit is None:
        unit = named.get(last)
    if unit is None and last.startswith("lifetime"):
        unit = "trainings"
    if unit is None and last.startswith("update_ratio"):
        unit = "cells written / weights"
    return f"{key} ({unit})" if unit else key
