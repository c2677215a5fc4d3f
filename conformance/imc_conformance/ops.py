"""Every public operation of :class:`imc.Device`, as named callables with fixed inputs.

:func:`operations` draws the inputs of each operation once, from a seed, the spec and
the shape only (never from a device's state), so the same list can be applied to two
devices and their results compared bit for bit. Each operation returns what the device
returned (host numpy) or None. The list covers every write form (dense and sparse,
indices in random order, a sparse write of one cell, a sorted index with some counts 0),
programming (whole array and masked), native probabilistic pulses and drift where
declared, reads and both products (batches and one vector).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from imc.spec import DRIFT, NATIVE_PROBABILISTIC

from .probes import host, on_device

Operation = tuple[str, Callable]


def operations(spec, shape, seed: int) -> list[Operation]:
    """[(name, op(device) -> host array or None)] with inputs drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    size = rows * cols
    step = spec.step_us
    span = spec.range_us
    targets = rng.uniform(spec.g_min_us + 0.05 * span, spec.g_max_us - 0.05 * span, shape).astype(np.float32)
    mask = rng.random(shape) < 0.5
    delta = (rng.normal(0, 2.5 * step, shape) * (rng.random(shape) < 0.5)).astype(np.float32)
    counts = rng.integers(0, 4, shape) * (rng.random(shape) < 0.6)
    signs = rng.choice([-1, 1], shape).astype(np.int8)
    idx = rng.permutation(size)[: max(size // 6, 2)]
    sparse_delta = rng.normal(0, 2.5 * step, idx.size).astype(np.float32)
    sparse_counts = rng.integers(1, 4, idx.size)
    sparse_signs = rng.choice([-1, 1], idx.size).astype(np.int8)
    probs = (rng.uniform(0.05, 1.0, shape) * (rng.random(shape) < 0.5)).astype(np.float32)
    sparse_probs = rng.uniform(0.05, 1.0, idx.size).astype(np.float32)
    x = rng.standard_normal((3, rows)).astype(np.float32)
    d = rng.standard_normal((2, cols)).astype(np.float32)
    # rarer forms: a sparse write of one cell; a sorted index with some counts 0; one vector
    one = rng.integers(0, size, 1)
    one_delta = (rng.choice([-1, 1], 1) * 2.5 * step).astype(np.float32)
    sorted_idx = np.sort(rng.permutation(size)[: max(size // 5, 3)])
    sorted_counts = rng.integers(0, 3, sorted_idx.size)
    sorted_counts[:: max(sorted_idx.size // 3, 1)] = 0
    sorted_signs = rng.choice([-1, 1], sorted_idx.size).astype(np.int8)
    x1 = rng.standard_normal(rows).astype(np.float32)

    def out(dev, y):
        return host(dev, y)

    ops: list[Operation] = [
        ("program", lambda dev: dev.program(on_device(dev, targets))),
        ("program(mask)", lambda dev: dev.program(on_device(dev, targets[::-1, ::-1].copy()), mask=on_device(dev, mask, bool))),
        ("update (dense)", lambda dev: dev.update(on_device(dev, delta))),
        ("update (sparse, unsorted index)",
         lambda dev: dev.update(on_device(dev, sparse_delta), index=on_device(dev, idx, np.int64))),
        ("pulse (dense)", lambda dev: dev.pulse(on_device(dev, counts, np.int64), on_device(dev, signs, np.int8))),
        ("pulse (sparse, unsorted index)",
         lambda dev: dev.pulse(on_device(dev, sparse_counts, np.int64), on_device(dev, sparse_signs, np.int8),
                               index=on_device(dev, idx, np.int64))),
        ("update (sparse, one cell)",
         lambda dev: dev.update(on_device(dev, one_delta), index=on_device(dev, one, np.int64))),
        ("pulse (sparse, sorted index, some counts 0)",
         lambda dev: dev.pulse(on_device(dev, sorted_counts, np.int64), on_device(dev, sorted_signs, np.int8),
                               index=on_device(dev, sorted_idx, np.int64))),
    ]
    if spec.has(NATIVE_PROBABILISTIC):
        ops += [
            ("pulse_probabilistic (dense)",
             lambda dev: dev.pulse_probabilistic(on_device(dev, probs), on_device(dev, signs, np.int8))),
            ("pulse_probabilistic (sparse)",
             lambda dev: dev.pulse_probabilistic(on_device(dev, sparse_probs), on_device(dev, sparse_signs, np.int8),
                                                 index=on_device(dev, idx, np.int64))),
        ]
    if spec.has(DRIFT):
        ops.append(("drift(300 s)", lambda dev: dev.drift(300.0)))
    ops += [
        ("read", lambda dev: out(dev, dev.read())),
        ("forward", lambda dev: out(dev, dev.forward(on_device(dev, x)))),
        ("backward", lambda dev: out(dev, dev.backward(on_device(dev, d)))),
        ("forward (one vector)", lambda dev: out(dev, dev.forward(on_device(dev, x1)))),
        ("verify: read_cells", lambda dev: out(dev, dev.read_cells(on_device(dev, idx, np.int64)))),
        ("verify: read_masked", lambda dev: out(dev, dev.read_masked(on_device(dev, mask.reshape(-1), bool)))),
    ]
    return ops


def run_all(dev, ops: list[Operation]) -> list[tuple[str, np.ndarray]]:
    """Apply every operation in order; [(name, its output or the stored conductances after it)]."""
    results = []
    for name, op in ops:
        y = op(dev)
        results.append((name, y if y is not None else host(dev, dev.peek())))
    return results


def first_difference(a, b) -> tuple[str, str] | None:
    """(operation, how) where two :func:`run_all` results first differ, or None."""
    for (name, x), (_, y) in zip(a, b):
        if x.shape != y.shape:
            return name, f"shapes {x.shape} and {y.shape}"
        if not np.array_equal(x, y, equal_nan=True):
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
            n = int((x != y).sum())
            return name, f"{n} of {x.size} values differ (largest by {float(np.nanmax(diff)):.3g})"
    return None
