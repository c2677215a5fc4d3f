"""``imc conformance NAME``: run the conformance suite on an installed backend and print a table."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import attrs

from imc.cli import UsageError


def register(sub) -> None:
    p = sub.add_parser(
        "conformance",
        help="check that a backend keeps the device protocol's promises",
        description="Run the conformance suite on an installed backend: one row per check "
        "(pass/fail/skip/xfail) with the reason for every failure. Exit code 1 if any check fails "
        "or (with --all) any installed plugin could not be loaded; 2 for a usage error.",
    )
    p.add_argument("backend", nargs="?", help="installed backend name (see: imc backends)")
    p.add_argument("--all", action="store_true", help="run every installed backend (all presets each)")
    p.add_argument("--preset", help="one preset (default: every preset of the backend)")
    p.add_argument("--compute", default="cpu", choices=("cpu", "gpu"), help="numpy (cpu) or cupy (gpu); default cpu")
    p.add_argument("--seed", type=int, default=0, help="base seed the checks derive their device seeds from")
    p.add_argument("--check", action="append", metavar="NAME", help="run only this check (repeatable)")
    p.add_argument("--xfail", action="append", default=[], metavar="CHECK=REASON",
                   help="expected failure with its reason (repeatable); a stale entry warns")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    p.add_argument("--list-checks", action="store_true", help="list the checks and exit")
    p.set_defaults(func=run)


def _expected(items) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, reason = item.partition("=")
        if not sep or not reason.strip():
            raise UsageError(f"--xfail {item!r}: write CHECK=REASON")
        out[name.strip()] = reason.strip()
    return out


def run(args) -> int:
    from imc_conformance import get_check
    from imc_conformance.registry import check_names

    from imc.registry import get_registry

    if args.list_checks:
        for name in check_names():
            chk = get_check(name)
            needs = f"  [needs {chk.requires}]" if chk.requires else ""
            print(f"{name:32s} {chk.summary}{needs}")
        return 0
    if args.all == bool(args.backend):
        raise UsageError("name one backend (imc conformance NAME) or pass --all; installed: see imc backends")
    if args.all and args.preset:
        raise UsageError("--preset needs a backend name, not --all")
    from imc.limits import check_int

    check_int("--seed", args.seed)  # the checks derive int64 device seeds from it
    checks = args.check or None
    for name in checks or ():
        get_check(name)
    expected = _expected(args.xfail)
    for name in expected:  # before any check runs: an unknown name is a typo, not a late surprise
        get_check(name)
    if args.json:
        target = Path(args.json)
        if target.is_dir():
            raise UsageError(f"--json {target} is a folder; give a file path, e.g. {target / 'conformance.json'}")
        if not target.parent.is_dir():
            raise UsageError(f"--json {target}: folder {target.parent} does not exist; create it first")
    if args.compute == "gpu":
        from imc.compute import Compute

        try:
            Compute.create("gpu")
        except RuntimeError as exc:
            raise UsageError(str(exc)) from None
    registry = get_registry()
    if args.backend:
        registry.get(args.backend)  # an unknown name, or an installed plugin that failed, is one line
    backends = sorted(registry.backends()) if args.all else [args.backend]
    failed = 0
    reports = []
    for backend in backends:
        n, report = _run_backend(args, backend, checks, expected)
        failed += n
        reports.append(report)
    broken = registry.failed_plugins() if args.all else []
    if args.json:
        path = Path(args.json)
        if args.all:
            import imc_conformance

            document = {
                "suite_version": imc_conformance.__version__,
                "backends": reports,
                "failed_plugins": [attrs.asdict(p) | {"message": p.message()} for p in broken],
                "failed": failed,
            }
        else:
            document = reports[0]
        try:
            path.write_text(json.dumps(document, indent=2) + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write --json {path}: {exc.strerror or exc}") from None
        print(f"report written to {path}")
    if broken:
        print(f"\n{len(broken)} installed plugin problem(s): their backends were not checked", file=sys.stderr)
        for problem in broken:
            print(f"  {problem.message()}", file=sys.stderr)
    if failed:
        print(f"{failed} check(s) FAILED", file=sys.stderr)
    return 1 if failed or broken else 0


def _run_backend(args, backend, checks, expected) -> tuple[int, dict]:
    import imc_conformance
    from imc_conformance import Target, all_presets, run_checks

    from imc.registry import get_registry

    reg = get_registry().get(backend)
    if args.preset is not None:
        reg.info.spec(args.preset)  # KeyError naming the closest preset
    presets = [args.preset] if args.preset else all_presets(backend)
    print(
        f"imc conformance suite {imc_conformance.__version__}: backend {backend!r} from "
        f"{reg.distribution} {reg.version}; compute {args.compute}; base seed {args.seed}"
    )
    report = {
        "suite_version": imc_conformance.__version__,
        "backend": backend,
        "distribution": reg.distribution,
        "version": reg.version,
        "compute": args.compute,
        "seed": args.seed,
        "presets": {},
    }
    failed = 0
    for preset in presets:
        target = Target.from_registry(backend, preset, compute=args.compute, seed=args.seed)
        start = time.perf_counter()
        outcomes = run_checks(target, checks, expected)
        seconds = time.perf_counter() - start
        _print_table(preset, outcomes, seconds)
        failed += sum(o.status == "fail" for o in outcomes)
        report["presets"][preset] = {
            "seconds": round(seconds, 3),
            "checks": [
                {"check": o.check, "status": o.status, "message": o.message, "seconds": round(o.seconds, 4)}
                for o in outcomes
            ],
        }
    report["failed"] = failed
    return failed, report


def _print_table(preset: str, outcomes, seconds: float) -> None:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("pass", "fail", "skip", "xfail", "xpass")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    print(f"\npreset {preset}: {summary} ({seconds:.1f} s)")
    width = max(len(o.check) for o in outcomes)
    for o in outcomes:
        reason = o.message if o.status != "pass" else ""
        print(f"  {o.check:{width}s}  {o.status.upper():5s}  {reason}".rstrip())
