"""``imc backends``: list the installed device backends and their presets."""

from __future__ import annotations

import json

from imc.compute import gpu_available
from imc.registry import get_registry


def register(sub) -> None:
    p = sub.add_parser(
        "backends",
        help="list installed device backends, presets and where they come from",
        description="List the device backends installed as plugins: their presets (* = default), the "
        "distribution that provides each, and whether the GPU path can run here.",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    gpu = gpu_available()
    registry = get_registry()
    problems = registry.failed_plugins()
    rows = []
    for name, reg in sorted(registry.backends().items()):
        info = reg.info
        presets = [p + ("*" if p == info.default_preset else "") for p in info.presets]
        rows.append(
            {
                "name": name,
                "presets": presets,
                "distribution": reg.distribution,
                "version": reg.version,
                "gpu": gpu,
                "description": info.description,
            }
        )
    if args.json:
        print(json.dumps({"backends": rows, "failed_plugins": [_problem_record(p) for p in problems]}, indent=2))
        return 0
    header = ("backend", "presets (* = default)", "distribution", "gpu path")
    table = [header] + [
        (r["name"], ", ".join(r["presets"]), f"{r['distribution']} {r['version']}", "yes" if gpu else "no (cupy/CUDA absent)")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if problems:
        print(f"\n{len(problems)} installed plugin(s) could not be used:")
        for problem in problems:
            print(f"  {problem.message()}")
    return 0


def _problem_record(problem) -> dict:
    """One unusable plugin as JSON: who, from where, what happened, what it removed."""
    return {
        "name": problem.name,
        "distribution": problem.distribution,
        "version": problem.version,
        "stage": problem.stage,
        "reason": problem.reason,
        "backends": list(problem.backends),
        "message": problem.message(),
    }
