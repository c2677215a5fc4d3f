"""Where the B2 step's time goes: each part against the bare products, on this process's CPU clock.

    python -m benchmarks.breakdown [--size 4096] [--batch 256] [--reps 5]

Uses only public calls (layer forward/backward, optimiser, rule, tile.update), so the same
script profiles any version of the code; "decision" is ``rule.apply`` minus the device write
of the same selection. One BLAS thread, medians of ``--reps`` calls.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

import numpy as np


def median_ms(fn, reps: int) -> float:
    out = []
    for _ in range(reps):
        t0 = time.process_time()
        fn()
        out.append(time.process_time() - t0)
    return statistics.median(out) * 1e3


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    from benchmarks.cases import LinearStep

    s = LinearStep(args.size, args.batch, "eapu", "cpu")
    s()
    layer, tile, rule, w = s.layer, s.layer.weight.tile, s.rule, s._w
    delta = s.opt.propose("w", layer.weight.grad)
    r = np.float32(tile.r_wg_per_us)
    rows = {
        "floor x @ W": median_ms(lambda: s.x @ w, args.reps),
        "floor d @ W.T": median_ms(lambda: s.d @ w.T, args.reps),
        "floor x.T @ d": median_ms(lambda: s.x.T @ s.d, args.reps),
        "layer.forward (analog x @ W)": median_ms(lambda: layer.forward(s.x), args.reps),
        "layer.backward (x.T @ d digital, d @ W.T analog)": median_ms(lambda: layer.backward(s.d), args.reps),
        "optimiser proposal (SGD)": median_ms(lambda: s.opt.propose("w", layer.weight.grad), args.reps),
        "rule.apply (EaPU decision + device write)": median_ms(lambda: rule.apply("w", tile, delta), args.reps),
    }
    # the device write alone, for a selection of the same size as EaPU's
    flat = delta.reshape(-1)
    k = max(1, int(round(s.cells or 0.01 * flat.size)))
    index = np.sort(np.random.default_rng(0).choice(flat.size, k, replace=False))
    dg = (flat[index] / r).astype(np.float32)
    rows["tile.update (sparse write of the selection)"] = median_ms(lambda: tile.update(index, dg), args.reps)
    rows["= EaPU decision (apply - write)"] = rows["rule.apply (EaPU decision + device write)"] - rows[
        "tile.update (sparse write of the selection)"]
    rows["whole step"] = median_ms(s, args.reps)
    floor = rows["floor x @ W"] + rows["floor d @ W.T"] + rows["floor x.T @ d"]
    print(f"B2 step breakdown, {args.size}x{args.size}, batch {args.batch}, {k} cells written, "
          "CPU ms (1 BLAS thread)\n")
    print("| part | ms | / floor |\n|---|---|---|")
    for name, ms in rows.items():
        print(f"| {name} | {ms:.1f} | {ms / floor:.3f} |")
    print(f"| floor (3 products) | {floor:.1f} | 1.000 |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
