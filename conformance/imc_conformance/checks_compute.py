"""numpy and cupy must give statistically equal behaviour (runs only where a GPU exists)."""

from __future__ import annotations

import math

import attrs
import numpy as np

from imc.compute import gpu_available
from imc.spec import READ_NOISE

from .probes import host, on_device
from .registry import check, fail, skip
from .stats import Z, float32_tolerance
from .writes import measure_single_steps


@check("numpy_cupy_agree")
def numpy_cupy_agree(target):
    """On a GPU, cupy gives the same products from the same state and the same write statistics as numpy."""
    if not gpu_available():
        skip("no GPU here: cupy is not importable or sees no CUDA device")
    return compare_computes(attrs.evolve(target, compute="cpu"), attrs.evolve(target, compute="gpu"))


def compare_computes(first, second) -> str:
    """Fail unless two targets (same backend and preset, e.g. numpy and cupy) agree statistically."""
    spec = first.spec
    a = first.make(key=90, shape=(24, 40))
    b = second.make(key=90, shape=(24, 40))
    a.update(on_device(a, np.full(a.shape, 3 * spec.step_us)))
    b.load_state(a.state())
    if not np.array_equal(host(a, a.peek()), host(b, b.peek())):
        fail(f"a {first.compute} state loaded into the {second.compute} device does not give the same conductances")
    x = np.random.default_rng(first.device_seed(90)).standard_normal((6, 24))
    ya = host(a, a.forward(on_device(a, x))).astype(np.float64)
    yb = host(b, b.forward(on_device(b, x))).astype(np.float64)
    g = host(a, a.peek()).astype(np.float64)
    tol = 4 * float32_tolerance(1.0) * (np.abs(x) @ np.abs(g))
    if spec.has(READ_NOISE) and spec.read_noise_rel > 0:
        tol = tol + 2 * (Z + 1.5) * spec.read_noise_rel * np.sqrt((x * x) @ (g * g))
    if (np.abs(ya - yb) > tol).any():
        fail(f"forward products on {first.compute} and {second.compute} disagree beyond float32 rounding "
             "and the declared read noise")
    notes = []
    for op in ("update", "pulse"):
        sa = measure_single_steps(first, 91, op)
        sb = measure_single_steps(second, 91, op)
        for direction, word in ((1, "up"), (-1, "down")):
            ma, sea = _mean_step(sa, direction)
            mb, seb = _mean_step(sb, direction)
            se = math.hypot(sea, seb)
            if abs(ma - mb) > Z * se + float32_tolerance(max(sa.scale_us, sb.scale_us)):
                fail(f"{op} {word}: mean step {ma:.4g} uS on {first.compute} vs {mb:.4g} uS on {second.compute} "
                     f"({abs(ma - mb) / se:.1f} SE)")
            notes.append(f"{op} {word} {ma:.3g}/{mb:.3g} uS")
    return "; ".join(notes)


def _mean_step(samples, direction):
    mask = samples.usable & (samples.direction == direction)
    k = mask.sum(axis=0)
    cells = k >= 1
    per_cell = (samples.moved * mask).sum(axis=0)[cells] / k[cells]
    return float(per_cell.mean()), float(per_cell.std(ddof=1) / math.sqrt(per_cell.size))
