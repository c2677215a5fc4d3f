"""``imc fit DATA.csv --name NAME``: fit a table-driven device to measured pulse trains."""

from __future__ import annotations

from pathlib import Path

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
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="set a spec field the data cannot tell, e.g. energy_per_pulse_j=2e-12 (repeatable)")
    p.add_argument("--force", action="store_true", help="overwrite an existing preset file")
    p.set_defaults(func=run)


def run(args) -> int:
    from imc_table import store

    from imc.characterize.fit import fit_csv

    store.check_name(args.name)
    target = args.out or store.preset_dir() / f"{args.name}.json"
    if target.is_dir():
        raise UsageError(f"--out {target} is a folder; give the preset file to write, e.g. --out {target / (args.name + '.json')}")
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists; pass --force to overwrite it or choose another --name")
    result = fit_csv(args.csv, args.name, bins=args.bins, **parse_settings(args.set))
    try:
        store.save(result.spec, target, fit=result.info, overwrite=args.force)
    except FileExistsError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        from imc.limits import disk_full, is_disk_full

        if is_disk_full(exc):
            raise disk_full(exc, target) from None
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    spec = result.spec
    print(f"fitted {args.name!r} from {args.csv}: {result.info['sweeps']} sweeps, {result.info['cells']} cells, "
          f"{result.info['steps']} steps")
    print(f"  window {spec.g_min_us:.4g}-{spec.g_max_us:.4g} uS, {spec.levels} pulses across (up), "
          f"median step {spec.step_us:.4g} uS, median write noise {spec.write_noise_us:.4g} uS")
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
    print(f"use it: imc.backend('table', preset={preset!r})   or   imc characterize table --preset {preset}")
    return 0
