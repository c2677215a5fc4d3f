"""The hand-written steps that bound benchmark B1 do what they claim (they are a floor only if
they do the same work as imc): the fused EaPU step selects each weight with EaPU's probability
and writes only the selected weights."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is a folder of the checkout
from benchmarks.handwritten import EaPUMLPStep, FusedEaPUMLPStep  # noqa: E402


def _batch(seed=0, n=8):
    rng = np.random.default_rng(seed)
    return rng.random((n, 64), dtype=np.float32), rng.integers(0, 10, n)


def test_fused_decision_selects_each_weight_with_eapu_probability():
    step = FusedEaPUMLPStep(hidden=16)
    n = step.flat.size
    limit = step.th * step.r / step.lr  # |grad| at which p = 1
    p = np.resize(np.array([0.0, 0.002, 0.05, 0.3, 0.77, 1.0, 3.0], np.float32), n)
    step.grad[:] = p * limit * np.where(np.arange(n) % 2, 1, -1)
    rounds = 400
    hits = np.zeros(n)
    for _ in range(rounds):
        hits[step.decide()] += 1
    for value in np.unique(p):
        cells = p == value
        expect = min(1.0, float(value))
        got = hits[cells].sum() / (cells.sum() * rounds)
        se = np.sqrt(max(expect * (1 - expect), 1e-12) / (cells.sum() * rounds))
        assert abs(got - expect) <= 5 * se + 1e-6, (value, got)


def test_fused_step_writes_only_selected_weights_and_counts_wear():
    step = FusedEaPUMLPStep(hidden=16, seed=3)
    x, y = _batch()
    before = step.flat.copy()
    for _ in range(20):
        step(x, y)
    changed = np.flatnonzero(step.flat != before)
    assert step.cells == step.wear.sum() > 0
    assert set(changed) <= set(np.flatnonzero(step.wear))
    assert step.w1.base is step.flat or np.shares_memory(step.w1, step.flat)


@pytest.mark.parametrize("cls", [EaPUMLPStep, FusedEaPUMLPStep])
def test_hand_written_eapu_steps_train(cls):
    """Both hand-written EaPU steps lower the loss on a repeated batch (they do real training work)."""
    step = cls(hidden=32, lr=0.5, seed=1)
    x, y = _batch(1, 32)
    first = np.mean([step(x, y) for _ in range(5)])
    for _ in range(300):
        step(x, y)
    last = np.mean([step(x, y) for _ in range(5)])
    assert last < 0.8 * first
