"""Timing against a floor: finely interleaved calls, medians of per-repetition ratios.

Every figure is a ratio ``measured / floor`` where both were timed in the same process,
call by call in alternation (measured, floor, measured, floor, ...), so load from other
processes on a shared machine hits both sides alike. A repetition takes the median call
time on each side (a call that lost the CPU to another process is an outlier, not a
trend); the reported ratio is the median of the repetitions' ratios, and the reported
times are medians too.
"""

from __future__ import annotations

import statistics
import time

#: multiplies every repetition's duration (run.py --block-scale; the smoke test uses ~0)
BLOCK_SCALE = 1.0
#: the clock: wall time by default; ``time.process_time`` (run.py --clock cpu) counts only this
#: process's CPU time, which on a machine shared with other jobs is far steadier (use it with
#: one BLAS thread, so that the process's CPU time is the work done)
CLOCK = time.perf_counter


def _timed(fn, sync) -> float:
    t0 = CLOCK()
    fn()
    sync()
    return CLOCK() - t0


def against_floor(measured, floor, reps: int = 5, target_s: float = 0.2, warmup: int = 1,
                  sync=lambda: None) -> dict:
    """Median ratio of ``measured()`` to ``floor()`` over ``reps`` repetitions of alternating calls.

    Each repetition runs enough pairs to last about ``target_s`` (at least one pair).
    """
    for _ in range(warmup):
        measured()
        floor()
    sync()
    pair = _timed(measured, sync) + _timed(floor, sync)
    pairs = max(1, min(2000, int(target_s * BLOCK_SCALE / max(pair, 1e-9))))
    tm, tf, ratios = [], [], []
    for r in range(reps):
        a, b = [], []
        for i in range(pairs):
            if (r + i) % 2 == 0:
                a.append(_timed(measured, sync))
                b.append(_timed(floor, sync))
            else:
                b.append(_timed(floor, sync))
                a.append(_timed(measured, sync))
        tm.append(statistics.median(a))
        tf.append(statistics.median(b))
        ratios.append(tm[-1] / tf[-1])
    return {
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "measured_s": statistics.median(tm),
        "floor_s": statistics.median(tf),
        "reps": reps,
        "pairs_per_rep": pairs,
    }
