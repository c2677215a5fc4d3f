"""``imc fit DATA.csv --name NAME``: fit a table-driven device to measured pulse trains."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from imc.cli import UsageError
from imc.cli.characterize import parse_settings


def register(sub) -> None:
    p = sub.add_parser(
        "fit",
        help="fit a table-driven device preset to a pulse-response CSV (then: imc.backend('table', preset=NAME))",
        description="Read a CSV of measured pulse number vs conductance (columns: direction, pulse, "
        "conductance_us; optional cell, sweep), fit per-direction step and write-noise tables, and save "
        "them as a preset of the 'table' backend. See docs/devices.md for the format.",
    )
    p.add_argument("csv", type=Path, help="pulse-response CSV")
    p.add_argument("--name", required=True, help="preset name (letters, digits, '_', '.', '-')")
    p.add_argument("--out", type=Path, help="write the preset here instead of the preset folder ($IMC_PRESET_DIR)")
    p.add_argument("--bins", type=int, default=10, help="conductance bins of the tables (default 10)")
    p.add_argument("--unit", help="unit of the conductance_us column if not uS: S, mS, nS, or a read current A, mA, uA, nA "
                   "(with --read-voltage)")
    p.add_argument("--read-voltage", type=float, metavar="V",
                   help="the column holds read currents taken at V volts (amperes unless --unit says otherwise): G = I / V")
    p.add_argument("--extend", type=float, default=0.25,
                   help="at an end where the data shows no saturation, extend the window along the step trend by at most "
                   "this fraction of the data's span (default 0.25; 0: the data's own range)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="set a spec field the data cannot tell, e.g. energy_per_pulse_j=2e-12 (repeatable)")
    p.add_argument("--force", action="store_true", help="overwrite an existing preset file")
    p.add_argument("--plot", type=Path, metavar="PNG",
                   help="also save the fitted device over the data as this PNG (imc.plot.plot_fit)")
    p.set_defaults(func=run)


def run(args) -> int:
    from . import store
    from .fit import fit_csv
    from .ramps import spread_table

    store.check_name(args.name)
    target = args.out or store.preset_dir() / f"{args.name}.json"
    if target.is_dir():
        raise UsageError(f"--out {target} is a folder; give the preset file to write, e.g. --out {target / (args.name + '.json')}")
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists; pass --force to overwrite it or choose another --name")
    result = fit_csv(args.csv, args.name, bins=args.bins, unit=args.unit, read_voltage=args.read_voltage,
                     extend=args.extend, **parse_settings(args.set))
    spec, info = result.spec, result.info
    spread = {label: spread_table(result.sweeps, spec, d) for d, label in ((1, "up"), (-1, "down"))}
    info["spread"] = {label: {k: v.tolist() for k, v in t.items()} for label, t in spread.items()}
    try:
        store.save(spec, target, fit=_plain(info), overwrite=args.force)
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        from imc.limits import disk_full, is_disk_full

        if is_disk_full(exc):
            raise disk_full(exc, target) from None
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(f"fitted {args.name!r} from {args.csv}: {info['sweeps']} sweeps, {info['cells']} cells, {info['steps']} steps")
    lo, hi = info["data_range_us"]
    print(f"  data {lo:.4g}-{hi:.4g} uS; window {spec.g_min_us:.4g}-{spec.g_max_us:.4g} uS, {spec.levels} pulses across (up), "
          f"median step {spec.step_us:.4g} uS")
    for side in ("top", "bottom"):
        print(f"  {side}: {info['ends'][side]['how']}")
    n = info["noise"]
    print(f"  noise per pulse: accumulating (write noise, what EaPU uses) up {n['write_noise_up_us']:.3g} +- "
          f"{n['write_noise_up_se_us']:.2g}, down {n['write_noise_down_us']:.3g} +- {n['write_noise_down_se_us']:.2g} uS "
          f"({n['write_noise_up_table']} / {n['write_noise_down_table']} over G); non-accumulating (read noise or "
          f"relaxation) {n['offset_noise_us']:.3g} +- {n['offset_noise_se_us']:.2g} uS")
    for side in ("top", "bottom"):
        d = info["drift"][f"{side}_end"]
        if d["cycles"]:
            print(f"  ramp ends at the {side} drift {d['drift_us_per_cycle']:+.3g} uS per cycle (s.e. {d['se_us_per_cycle']:.2g}; "
                  f"{d['total_us']:+.3g} uS over {d['cycles']} cycles; not modelled: the tables average over cycles)")
        else:
            print(f"  ramp ends at the {side}: drift not measurable (fewer than 3 ramps per cell)")
    print("  spread after n pulses (std about the mean curve, uS), data vs fitted device replaying the same starts:")
    print(f"  {'n':>5}  {'up data':>9}  {'fitted':>9}  |  {'down data':>9}  {'fitted':>9}")
    for k in (1, 2, 5, 10, 20, 50, 100):
        if np.isfinite(spread["up"]["data_us"][k - 1]) or np.isfinite(spread["down"]["data_us"][k - 1]):
            print(f"  {k:>5}  " + "  |  ".join(f"{spread[d]['data_us'][k - 1]:>9.3g}  {spread[d]['fitted_us'][k - 1]:>9.3g}" for d in ("up", "down")))
    drifting = [d for d in (info["drift"]["top_end"], info["drift"]["bottom_end"])
                if d["cycles"] and abs(d["drift_us_per_cycle"]) > 3 * d["se_us_per_cycle"]]
    if drifting:
        print("  (at large n the data's spread includes the ramp-to-ramp drift above, which the device does not model)")
    print(f"  {'G (uS)':>10}  {'step up':>10}  {'noise up':>10}  |  {'G (uS)':>10}  {'step down':>10}  {'noise down':>10}")
    rows = max(len(spec.grid_up_us), len(spec.grid_down_us))
    for i in range(rows):
        cells = []
        for d in ("up", "down"):
            grid = getattr(spec, f"grid_{d}_us")
            cells.append("  ".join(f"{getattr(spec, f'{k}_{d}_us')[i]:>10.4g}" for k in ("grid", "step", "noise"))
                         if i < len(grid) else " " * 34)
        print("  " + "  |  ".join(cells))
    preset = args.name if args.out is None else str(target)
    print(f"wrote {target}")
    if args.plot is not None:
        from imc.plot import plot_fit, save

        print(f"wrote {save(plot_fit(result.sweeps, 'table', preset), args.plot)} (fitted device over the data)")
    print(f"use it: imc.backend('table', preset={preset!r})   or   imc characterize table --preset {preset}")
    return 0


def _plain(value):
    """JSON-safe copy of the fit diagnostics (NaN becomes null)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
