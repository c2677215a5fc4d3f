"""Figures of a sweep (``imc sweep report``): the metrics against one axis, mean and spread over seeds.

One panel per metric, the axis on x and one line per combination of the other axes (one per
update rule, say: the shape of the paper's accuracy-vs-write-noise figure). Axis labels carry
the unit from the key's suffix (``write_noise_us`` -> uS). A categorical axis (rule names)
is drawn as points side by side, never joined by lines. A metric axis goes logarithmic only
when its values are all positive and span more than two decades, so zeros never vanish.
"""

from __future__ import annotations

import math

from .common import axis_label, new_figure, unit_of

#: identity parts and the config keys they come from
IDENTITY_KEYS = (("task", "task.name"), ("model", "model.name"), ("backend", "backend.name"),
                 ("preset", "backend.preset"), ("rule", "rule.name"), ("seed", "seed"))


def sweep_identity(plan: dict) -> str:
    """``sweep NAME: task / model on backend:preset, rule R, seed S``; varied parts list their values."""
    base, axes = plan.get("base") or {}, plan.get("axes") or {}

    def value(key):
        if key in axes:
            values = list(dict.fromkeys(axes[key]))
            return ", ".join(map(_fmt, values)) if len(values) <= 4 else f"{len(values)} values"
        node = base
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return None if node is None or node == "" else _fmt(node)

    got = {name: value(key) for name, key in IDENTITY_KEYS}
    what = " / ".join(got[k] for k in ("task", "model") if got[k])
    where = (got["backend"] or "") + (f":{got['preset']}" if got["backend"] and got["preset"] else "")
    parts = [" on ".join(p for p in (what, where) if p)]
    if got["rule"]:
        parts.append(("rules " if "rule.name" in axes and len(axes["rule.name"]) > 1 else "rule ") + got["rule"])
    if got["seed"]:
        parts.append(f"seed {got['seed']}")
    return f"sweep {plan.get('name', '?')}: " + ", ".join(p for p in parts if p)


def plot_sweep(source, axis: str | None = None, *, metrics=None, identity: str | None = None):
    """The sweep's metrics against ``axis`` (default: its first non-seed axis) from a sweep folder."""
    from imc.sweep.report import summarise

    s = summarise(source, metrics=metrics)
    if not s.group_axes:
        raise ValueError("this sweep varies only seeds: there is no axis to plot against")
    if not s.metrics:
        raise ValueError(f"no point of {s.root} has finished with numbers yet: nothing to plot")
    axis = s.group_axes[0] if axis is None else axis
    if axis not in s.group_axes:
        raise ValueError(f"{axis!r} is not an axis of this sweep; its axes: {', '.join(s.group_axes)}")
    return axis_figure(s.plan, axis, s.group_axes, s.groups, s.metrics, identity=identity)


def axis_figure(plan: dict, axis: str, group_axes, groups, metrics, identity: str | None = None):
    """The figure of one axis from the report's groups (what ``imc sweep report`` saves as vs_<axis>.png)."""
    from imc.sweep.report import is_seed_axis

    others = [a for a in group_axes if a != axis]
    x_values = list(plan["axes"][axis])
    for group in groups:
        if group["params"][axis] not in x_values:
            x_values.append(group["params"][axis])
    numeric_x = all(_is_number(v) for v in x_values)
    lines: dict[tuple, list] = {}
    for group in groups:
        lines.setdefault(tuple(group["params"][a] for a in others), []).append(group)

    ncols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    seeds = [a for a in plan["axes"] if is_seed_axis(a)]
    spread = f"mean ± std over {', '.join(seeds)}" if seeds else "one run per point"
    who = sweep_identity(plan) if identity is None else identity
    fig, axes = new_figure(nrows, ncols, figsize=(4.8 * ncols, 3.7 * nrows + 0.5), identity=who)
    for panel, metric in zip(axes.flat, metrics):
        for line_no, (key, members) in enumerate(lines.items()):
            dodge = 0.0 if numeric_x else 0.08 * (line_no - (len(lines) - 1) / 2)  # categories: side by side
            members = sorted(members, key=lambda g: x_values.index(g["params"][axis]))
            points = [(g["params"][axis], g["stats"][metric]) for g in members if g["stats"][metric]["n"]]
            if not points:
                continue
            xs = [x if numeric_x else x_values.index(x) + dodge for x, _ in points]
            label = ", ".join(f"{a}={_fmt(v)}" + (f" {unit_of(a)}" if unit_of(a) else "") for a, v in zip(others, key)) or None
            panel.errorbar(xs, [s["mean"] for _, s in points], yerr=[s["std"] for _, s in points], marker="o", capsize=3,
                           label=label, linestyle="-" if numeric_x else "none")
        if not numeric_x:
            panel.set_xticks(range(len(x_values)), [_fmt(v) for v in x_values])
        _maybe_log(panel)
        panel.set_xlabel(axis_label(axis))
        panel.set_ylabel(axis_label(metric))
        panel.set_title(f"{metric} ({spread.split(' over')[0]})", fontsize=9)
        panel.grid(alpha=0.3)
    for panel in list(axes.flat)[len(metrics):]:
        panel.set_visible(False)
    if len(lines) > 1:
        axes.flat[0].legend(fontsize="small")
    fig.supxlabel(f"metrics vs {axis_label(axis)}: {spread}", fontsize=8, color="0.3")
    return fig


def _maybe_log(panel) -> None:
    """Log y when the data are positive and span more than two decades (writes, energy)."""
    ys = [y for line in panel.get_lines() for y in line.get_ydata() if _is_number(y)]
    if ys and min(ys) > 0 and max(ys) / min(ys) > 100:
        panel.set_yscale("log")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
