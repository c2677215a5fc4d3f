"""Run the whole suite under many base seeds and count outcomes: proof that it does not flake.

``python -m imc_conformance.flakiness --seeds 20`` runs every check on every preset of every
installed backend (or ``--backend NAME``, repeatable) once per base seed 0..N-1 and prints,
per backend and preset, how many checks passed, failed and were skipped, with the time per
run. Exit code 1 if anything failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

from .runner import run_checks
from .target import Target, all_presets


def flakiness(backends, seeds: int, compute: str = "cpu", first_seed: int = 0) -> dict:
    """{backend: {preset: {"counts": {...}, "failures": [...], "seconds": [...]}}}."""
    report = {}
    for backend in backends:
        report[backend] = {}
        for preset in all_presets(backend):
            counts, failures, seconds = Counter(), [], []
            for seed in range(first_seed, first_seed + seeds):
                target = Target.from_registry(backend, preset, compute=compute, seed=seed)
                start = time.perf_counter()
                for outcome in run_checks(target):
                    counts[outcome.status] += 1
                    if outcome.status == "fail":
                        failures.append({"seed": seed, "check": outcome.check, "message": outcome.message})
                seconds.append(time.perf_counter() - start)
            report[backend][preset] = {"counts": dict(counts), "failures": failures, "seconds": seconds}
    return report


def main(argv=None) -> int:
    from imc.registry import get_registry

    parser = argparse.ArgumentParser(prog="python -m imc_conformance.flakiness", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="number of base seeds (default 20)")
    parser.add_argument("--first-seed", type=int, default=0, help="first base seed (default 0)")
    parser.add_argument("--backend", action="append", help="backend to run (repeatable; default: all installed)")
    parser.add_argument("--compute", default="cpu", choices=("cpu", "gpu"))
    parser.add_argument("--json", metavar="PATH", help="also write the full report as JSON")
    args = parser.parse_args(argv)
    backends = args.backend or sorted(get_registry().backends())
    report = flakiness(backends, args.seeds, args.compute, args.first_seed)
    failed = 0
    print(f"{'backend/preset':32s} {'pass':>6s} {'fail':>5s} {'skip':>5s}  s/run (mean, max)")
    for backend, presets in report.items():
        for preset, r in presets.items():
            c, s = r["counts"], r["seconds"]
            failed += c.get("fail", 0)
            print(f"{backend + '/' + preset:32s} {c.get('pass', 0):6d} {c.get('fail', 0):5d} {c.get('skip', 0):5d}  "
                  f"{sum(s) / len(s):.2f}, {max(s):.2f}")
            for f in r["failures"]:
                print(f"    seed {f['seed']}: {f['check']}: {f['message']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    print(f"{args.seeds} base seeds x {sum(len(p) for p in report.values())} presets: {failed} failures")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
