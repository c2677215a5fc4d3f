"""Run the benchmarks in one process; print a Markdown table of ratios; save JSON + Markdown.

    python -m benchmarks.run                     # everything (several minutes on 2 cores)
    python -m benchmarks.run --quick             # B1 (eapu only), B2 at 1024, B3, B4 small, B5-B8 short
    python -m benchmarks.run --only B2 --b2-size 2048 --reps 7
    python -m benchmarks.run --compute gpu --b2-size 8192 --sizes 1024,4096,8192

Results go to benchmarks/results/<label>.json and .md (label defaults to the UTC time)
together with a description of the machine, so a regression is visible in review.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make "benchmarks" importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

import numpy as np

from benchmarks import cases, timing

RESULTS = Path(__file__).resolve().parent / "results"
ALL = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8")


def machine(compute_name: str) -> dict:
    """CPU model, cores, numpy and BLAS, git commit, date: what the ratios were measured on."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = {}
    try:
        cfg = np.show_config(mode="dicts")
        info = cfg.get("Build Dependencies", {}).get("blas", {})
        blas = {k: info.get(k) for k in ("name", "version", "openblas configuration") if k in info}
    except Exception:  # older numpy: no dict mode
        pass
    try:
        from threadpoolctl import threadpool_info

        blas["threads"] = [p.get("num_threads") for p in threadpool_info() if p.get("user_api") == "blas"]
    except ImportError:
        pass
    try:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, check=False).stdout.strip()
    except OSError:
        commit = ""
    out = {
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores_logical": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "git_commit": commit,
        "compute": compute_name,
    }
    if compute_name in ("gpu", "cupy", "cuda"):
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        out["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        out["cupy"] = cupy.__version__
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a quick subset at smaller sizes")
    p.add_argument("--only", default=",".join(ALL), help="comma-separated cases (default: all)")
    p.add_argument("--reps", type=int, default=None, help="repetitions per ratio (default 7, quick 3)")
    p.add_argument("--compute", default="cpu", help="cpu (numpy) or gpu (cupy)")
    p.add_argument("--b2-size", type=int, default=None, help="B2 matrix side (default 4096, quick 1024)")
    p.add_argument("--b2-batch", type=int, default=256)
    p.add_argument("--vs-numpy", action="store_true", help="with --compute gpu: also time B2 on cupy vs numpy")
    p.add_argument("--b3-size", type=int, default=1024)
    p.add_argument("--b3-batch", type=int, default=64)
    p.add_argument("--sizes", default=None, help="B4 sides (default 256,512,1024,2048,4096; quick 256,512,1024)")
    p.add_argument("--b4-batch", type=int, default=64)
    p.add_argument("--mem-size", type=int, default=None, help="B4 memory side (default 1024, quick 256)")
    p.add_argument("--rules", default=",".join(cases.RULES), help="B1 rules")
    p.add_argument("--batches", default=",".join(str(b) for b in cases.BATCHES), help="B1/B6 batch sizes")
    p.add_argument("--ledger-epochs", type=int, default=None, help="B8 epochs (default 30, quick 3)")
    p.add_argument("--blas-threads", type=int, default=None,
                   help="limit BLAS threads (threadpoolctl); default: the library's own choice")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall time, or this process's CPU time (steadier on a shared machine; use with --blas-threads 1)")
    p.add_argument("--block-scale", type=float, default=1.0,
                   help="scale the duration of each repetition (smaller = faster, noisier)")
    p.add_argument("--label", default=None, help="results file name (default: UTC time)")
    p.add_argument("--out", default=str(RESULTS), help="results folder")
    p.add_argument("--no-save", action="store_true")
    return p


def parse_args(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    q = args.quick
    args.reps = args.reps or (3 if q else 7)
    args.b2_size = args.b2_size or (1024 if q else 4096)
    args.sizes = [int(s) for s in (args.sizes or ("256,512,1024" if q else "256,512,1024,2048,4096")).split(",")]
    args.mem_size = args.mem_size or (256 if q else 1024)
    args.only = [s.strip().upper() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(args.only) - set(ALL))
    if unknown:
        p.error(f"unknown cases {unknown}; choose from {list(ALL)}")
    args.rules = [r for r in args.rules.split(",") if r]
    args.batches = [int(b) for b in args.batches.split(",") if b]
    args.ledger_epochs = args.ledger_epochs or (3 if q else 30)
    if q and args.rules == list(cases.RULES):
        args.rules = ["eapu"]
    return args


def run(args) -> list[dict]:
    results = []
    c = args.compute
    timing.BLOCK_SCALE = args.block_scale
    timing.CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    for key in args.only:
        print(f"# running {key} ...", file=sys.stderr, flush=True)
        if key == "B1":
            results += cases.b1(c, args.reps, rules=args.rules, batches=args.batches)
            results += cases.b1_norule(c, args.reps, batches=args.batches)
            if c == "cpu":  # the hand-written numpy EaPU step: what bounds B1 (numpy only)
                results += cases.b1_bound(c, args.reps, batches=args.batches)
        elif key == "B2":
            results += cases.b2(c, args.reps, n=args.b2_size, batch=args.b2_batch)
            if args.vs_numpy:
                results += cases.b2_vs_numpy(args.reps, n=args.b2_size, batch=args.b2_batch, compute_name=c)
        elif key == "B3":
            results += cases.b3(c, args.reps, n=args.b3_size, batch=args.b3_batch)
        elif key == "B4":
            results += cases.b4(c, args.reps, args.sizes, batch=args.b4_batch, mem_size=args.mem_size)
        elif key == "B5":
            results += cases.b5(c, args.reps)
        elif key == "B6":
            results += cases.b6(c, args.reps, batches=args.batches)
        elif key == "B7":
            results += cases.b7(c, args.reps)
        elif key == "B8":
            results += cases.b8(c, epochs=args.ledger_epochs)
    return results


def _fmt(v, spec=".2f"):
    return "" if v is None else format(v, spec)


def markdown(results: list[dict], info: dict) -> str:
    lines = [
        f"Machine: {info['cpu']}, {info['cores_usable']} usable cores, numpy {info['numpy']}, "
        f"BLAS {info['blas'].get('name', '?')} {info['blas'].get('version', '')} "
        f"(threads {info['blas'].get('threads', '?')}), compute {info['compute']}, clock {info.get('clock', 'wall')}"
        + (f" ({info['gpu']})" if "gpu" in info else "")
        + f", commit {info['git_commit']}, {info['date_utc']}",
        "",
        "| id | case | ratio (median) | min-max | target | measured ms | floor ms | floor | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "ratio" not in r:
            continue
        notes = []
        if "update_ratio" in r:
            notes.append(f"update ratio {r['update_ratio']:.3g}")
        if "ns_per_weight" in r:
            notes.append(f"{r['ns_per_weight']:.2f} ns/weight ({r['vs_largest']:.2f}x largest)")
        met = ""
        if r.get("target") is not None:
            met = " ok" if r["ratio"] <= r["target"] else " MISSED"
        lines.append(
            f"| {r['id']} | {r['case']} | {r['ratio']:.2f} | {r['ratio_min']:.2f}-{r['ratio_max']:.2f} | "
            f"{_fmt(r.get('target'))}{met} | {r['measured_s'] * 1e3:.3f} | {r['floor_s'] * 1e3:.3f} | "
            f"{r['floor']} | {'; '.join(notes)} |"
        )
    scaling = [r for r in results if "ns_per_weight" in r]
    if scaling:
        per = [r["ns_per_weight"] for r in scaling]
        spread = max(per) / min(per)
        lines += ["", f"B4 step time per weight: max/min across sizes = {spread:.2f} (target <= {cases.TARGETS['B4']})"]
    mem = [r for r in results if "persistent_bytes_per_weight" in r]
    if mem:
        lines += ["", "| rule | persistent bytes/weight | step peak bytes/weight | rule state bytes/weight |",
                  "|---|---|---|---|"]
        for r in mem:
            lines.append(f"| {r['rule']} | {r['persistent_bytes_per_weight']:.1f} | "
                         f"{r['step_peak_bytes_per_weight']:.1f} | {r['rule_state_bytes_per_weight']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.blas_threads, user_api="blas")
    info = machine(args.compute)
    info["clock"] = args.clock
    results = run(args)
    text = markdown(results, info)
    print(text)
    if not args.no_save:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        label = args.label or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        settings = {k: v for k, v in vars(args).items() if k not in ("out",)}
        (out / f"{label}.json").write_text(json.dumps({"machine": info, "settings": settings, "results": results},
                                                      indent=1) + "\n")
        (out / f"{label}.md").write_text(f"# Benchmark {label}\n\n" + text)
        print(f"# saved {out / label}.json and .md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
