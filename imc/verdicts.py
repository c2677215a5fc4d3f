"""Degenerate-result verdicts: a run that did not train is flagged, never compared silently.

:func:`judge` returns a list of warnings (plain sentences) for a finished run; an empty
list means none of these apply. The thresholds come from the run's own data:

- **writes (almost) nothing**: a rule that trains on devices but changed fewer than
  ``MIN_CELLS_WRITTEN`` = 1 % of the weights' cells during training (distinct cells,
  excluding the initial programming). With 99 % of the cells at their initial value the
  network is, to within that 1 %, its initialisation; a run that writes no cell at all is
  always flagged. Digital runs (no device cells, the "ideal" rule) are exempt.
- **accuracy at chance**: chance is the best constant guess, the test set's majority-class
  share ``p0`` (``1 / classes`` for balanced data). A classifier that has learned nothing
  scores ``p0`` give or take the binomial spread of the test set, ``sqrt(p0 (1 - p0) / n)``
  for ``n`` test samples; accuracy at or below ``p0 + 3`` such spreads (0.1 % one-sided
  false-alarm rate) is flagged. Digits (450 test images, p0 = 0.102): 0.145.
- **PSNR no better than no network**: an image-to-image model whose test PSNR does not
  exceed the no-network baseline the task reports (the noisy input for denoising,
  bicubic upsampling for super-resolution).
"""

from __future__ import annotations

import math

import numpy as np

#: fewest distinct cells (fraction of the weights' cells) a training must change to count as training
MIN_CELLS_WRITTEN = 0.01
#: binomial spreads above chance an accuracy must clear
CHANCE_SIGMAS = 3.0


def chance_threshold(y_test) -> tuple[float, float]:
    """(chance accuracy p0, flagging threshold p0 + 3 binomial spreads) for test labels ``y_test``."""
    labels = np.asarray(y_test).reshape(-1)
    n = labels.size
    if n == 0:
        return 0.0, 0.0
    _, counts = np.unique(labels, return_counts=True)
    p0 = float(counts.max() / n)
    return p0, p0 + CHANCE_SIGMAS * math.sqrt(p0 * (1 - p0) / n)


def judge(*, metric: str, value, baseline: dict, y_test, ledger: dict) -> list[str]:
    """Warnings for one finished run (see the module docstring for the thresholds)."""
    warnings = []
    cells = ledger["wear"]["cells"]
    distinct = ledger["wear"]["cells_written_distinct"]
    if cells > 0 and distinct < MIN_CELLS_WRITTEN * cells:
        warnings.append(
            f"wrote almost nothing: {distinct:,} of {cells:,} cells changed in training "
            f"({ledger['write_events']:,} write events; threshold {MIN_CELLS_WRITTEN:.0%} of the cells), "
            "so the network kept its initial weights"
        )
    if value is None:
        warnings.append(f"no final {metric}")
    elif metric == "accuracy":
        p0, limit = chance_threshold(y_test)
        if value <= limit:
            warnings.append(
                f"accuracy at chance: {value:.2%} <= {limit:.2%} (majority class {p0:.2%} "
                f"+ {CHANCE_SIGMAS:g} binomial spreads of {np.asarray(y_test).size} test samples)"
            )
    else:
        ref = next(((k, v) for k, v in baseline.items() if isinstance(v, float)), None)
        if ref is not None and value <= ref[1]:
            warnings.append(f"PSNR {value:.2f} dB is no better than without a network ({ref[0]} {ref[1]:.2f} dB)")
    return warnings
