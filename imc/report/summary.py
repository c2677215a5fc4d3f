"""summary.json's headline numbers and the run's console lines.

Every energy figure names its accounting boundary (``energy_array_j``, ``energy_chip_j``,
``energy_system_j``; see docs/energy.md), wear is counted three ways (``write_events``,
``cells_written_distinct``, ``pulses``), lifetime from the worst and from the mean cell,
and ``warnings`` lists what :mod:`imc.verdicts` found degenerate. ``device`` records the
resolved spec, weight mapping and ``r_wg_per_us`` the run actually used.
"""

from __future__ import annotations

from ..verdicts import judge


def device_record(model) -> dict:
    """The resolved spec, mapping and r_wg_per_us of the model's analog matrices.

    All matrices of a model share one config; where one differs, ``matrices`` lists each.
    Exact (digital) matrices still report the device they were programmed from."""
    tiles = list(model.tiles())
    if not tiles:
        return {}
    records = [
        {"backend": t.config.backend, "spec": t.spec.to_dict(), "mapping": t.mapping, "r_wg_per_us": float(t.r_wg_per_us)}
        for t in tiles
    ]
    out = dict(records[0])
    if any(r != records[0] for r in records[1:]):
        out["matrices"] = records
    return out


def resolved_comment(model) -> str:
    """TOML comment lines for config.toml: what "automatic" resolved to in this run.

    Comments, so loading the file again (or resuming) sees the config exactly as given."""
    record = device_record(model)
    if not record:
        return ""
    lines = ["", "# resolved by this run (summary.json 'device' holds the full spec):",
             f"#   backend.mapping = {record['mapping']!r}", f"#   backend.r_wg_per_us = {record['r_wg_per_us']!r}",
             f"#   device: {record['backend']} {record['spec']['name']!r}, window {record['spec']['g_min_us']}-"
             f"{record['spec']['g_max_us']} uS, {record['spec']['energy_per_pulse_j']:.3g} J per pulse"]
    return "\n".join(lines) + "\n"


def headline(cfg, run, result: dict, preset: str) -> dict:
    """The headline part of summary.json (the trainer's full summary follows it)."""
    ledger = result["ledger"]
    metric = run.data.metric
    value = result["final"].get(metric)
    lifetime = ledger["lifetime"]
    boundary = ledger["energy_by_boundary_j"]
    warnings = judge(metric=metric, value=value, baseline=dict(run.data.baseline),
                     y_test=run.data.y_test if metric == "accuracy" else (), ledger=ledger)
    return {
        "name": cfg.run_name,
        "task": cfg.task.name,
        "model": cfg.model.name,
        "backend": cfg.backend.name,
        "preset": preset,
        "rule": cfg.rule.name,
        "seed": cfg.seed,
        "metric": metric,
        metric: value,
        "baseline": dict(run.data.baseline),
        "warnings": warnings,
        "steps": result["steps"],
        "epochs": result["epochs"],
        "update_ratio_mean": ledger["update_ratio_mean"],
        "update_ratio_mean_after_first_epoch": ledger["update_ratio_mean_after_first_epoch"],
        "write_events": ledger["write_events"],
        "cells_written_distinct": ledger["cells_written_distinct"],
        "pulses": ledger["pulses"],
        "energy_array_j": boundary["array"],
        "energy_chip_j": boundary["chip"],
        "energy_system_j": boundary["system"],
        "energy_by_category_j": ledger["energy_by_category_j"],
        "gpu_energy_flop_bound_j": ledger["gpu_energy_flop_bound_j"],
        "gpu_energy_power_time_j": ledger["gpu_energy_power_time_j"],
        "max_cell_writes": ledger["wear"]["max_writes"],
        "max_cell_pulses": ledger["wear"]["max_pulses"],
        "mean_cell_pulses": ledger["wear"]["mean_pulses"],
        "lifetime_worst_cell": lifetime["trainings_worst_cell"],
        "lifetime_mean_cell": lifetime["trainings_mean_cell"],
        "device": device_record(run.model),
    }


def warning_line(summary: dict) -> str:
    """One console line naming what is degenerate about a run ("" when nothing is)."""
    found = summary.get("warnings") or []
    if not found:
        return ""
    return f"WARNING: {summary['rule']} on {summary['backend']} ({summary['preset']}) did not train: " + "; ".join(found)


def _x(value) -> str:
    return f" ({value:.3g}x)" if value else ""


def format_lines(summary: dict) -> list[str]:
    """A few human-readable lines for the terminal (the warning line last, if any)."""
    metric = summary["metric"]
    value = summary.get(metric)
    if value is None:
        shown = "n/a"
    else:
        shown = f"{value * 100:.2f} %" if metric == "accuracy" else f"{value:.2f} dB"
    baselines = "".join(f"   {k}: {v:.2f}" for k, v in summary["baseline"].items() if isinstance(v, float))
    system = summary["energy_system_j"]
    flop, power = summary["gpu_energy_flop_bound_j"], summary["gpu_energy_power_time_j"]
    lines = [
        (f"{summary['name']}: {summary['task']} / {summary['model']} on {summary['backend']} "
         f"({summary['preset']}), rule {summary['rule']}, {summary['epochs']} epochs, {summary['steps']} steps"),
        f"  test {metric}: {shown}{baselines}",
        (f"  update ratio (mean): {summary['update_ratio_mean']:.3e}   write events: {summary['write_events']:,}"
         f"   cells written: {summary['cells_written_distinct']:,}   pulses: {summary['pulses']:,}"
         f"   worst cell: {summary['max_cell_pulses']:,} pulses"),
        (f"  training energy: array {summary['energy_array_j']:.3e} J   chip {summary['energy_chip_j']:.3e} J"
         f"   system {system:.3e} J"),
        (f"  GPU estimate: {flop:.3e} J FLOP-bound{_x(flop / system if system else None)}"
         f"   {power:.3e} J power x time{_x(power / system if system else None)} (vs system)"),
        "  lifetime: " + (
            f"{summary['lifetime_worst_cell']:.3g} such trainings (worst cell), "
            f"{summary['lifetime_mean_cell']:.3g} (mean cell)"
            if summary.get("lifetime_worst_cell") else "unlimited (no device writes)"
        ),
    ]
    if summary.get("evaluate"):
        from ..evaluate import brief

        lines.append("  " + brief(summary["evaluate"]))
    warning = warning_line(summary)
    if warning:
        lines.append(warning)
    return lines
