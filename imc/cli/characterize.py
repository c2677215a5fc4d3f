"""``imc characterize BACKEND``: measure a backend's pulse response against what it declares."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from imc.cli import UsageError


def parse_settings(pairs) -> dict:
    """``["key=value", ...]`` to spec overrides (numbers become int or float)."""
    out = {}
    for pair in pairs or ():
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set needs KEY=VALUE, got {pair!r}")
        text = text.strip()
        for convert in (int, float):
            try:
                value = convert(text)
                break
            except ValueError:
                continue
        else:
            value = text
        out[key.strip()] = value
    return out


def register(sub) -> None:
    p = sub.add_parser(
        "characterize",
        help="pulse trains on a sample of cells: measured vs declared step, noise, levels, P_sw (table + PNG)",
        description="Apply pulse trains up and down across the window on a sample of cells and compare the "
        "measured step, write noise, asymmetry, levels, read noise and (for native-probabilistic cells) "
        "switching probability with what the backend declares. Writes table.txt, bins.csv, summary.json "
        "and characterization.png into --out (default runs/characterize/BACKEND-PRESET-TIME).",
    )
    p.add_argument("backend", help="backend name (see `imc backends`)")
    p.add_argument("--preset", help="preset name (default: the backend's default; table presets may be a .json path)")
    p.add_argument("--cells", type=int, default=256, help="cells in the sample (default 256)")
    p.add_argument("--pulses", type=int, help="pulses per sweep (default 1.5x the nominal pulses across the window)")
    p.add_argument("--cycles", type=int, default=2, help="up/down cycles (default 2)")
    p.add_argument("--bins", type=int, help="conductance bins (default 10, or one per level for discrete cells)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--compute", default="cpu", help="cpu (numpy) or gpu (cupy)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a spec field (repeatable)")
    p.add_argument("--out", type=Path, help="output folder (default: runs/characterize/BACKEND-PRESET-TIME)")
    p.set_defaults(func=run)


def run(args) -> int:
    from imc.characterize import characterize
    from imc.characterize.report import format_table, write_report
    from imc.compute import Compute
    from imc.limits import check_int

    check_int("--seed", args.seed)  # seeds are int64 in numpy's generators
    overrides = parse_settings(args.set)
    try:
        compute = Compute.create(args.compute, seed=args.seed)
    except RuntimeError as exc:  # no cupy / no CUDA device: say so in one line
        raise UsageError(str(exc)) from None
    ch = characterize(
        args.backend, args.preset, cells=args.cells, pulses=args.pulses, cycles=args.cycles, bins=args.bins,
        seed=args.seed, compute=compute, **overrides,
    )
    if args.out is None:  # under runs/, like training runs, never loose in the current folder
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / "characterize" / f"{ch.backend}-{Path(ch.preset).stem}-{stamp}"
    else:
        out = args.out
    paths = write_report(ch, out)
    print(format_table(ch))
    print()
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
