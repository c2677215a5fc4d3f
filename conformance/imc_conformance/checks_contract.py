"""Checks of the protocol's bookkeeping: counters and energy, seeds, state export, inputs, bad input."""

from __future__ import annotations

import io
import math

import numpy as np

from imc.spec import NATIVE_PROBABILISTIC

from .probes import (
    differences,
    host,
    mid_targets,
    on_device,
    randomness_declared,
    snapshot,
)
from .registry import check, fail

SHAPE = (24, 40)


def _rng(target, key):
    return np.random.default_rng(target.device_seed(3000 + key))


def exercise(dev, seed: int) -> list[tuple[str, np.ndarray]]:
    """A fixed sequence of every operation, driven by ``seed``; returns each output and the state."""
    rng = np.random.default_rng(seed)
    spec = dev.spec
    rows, cols = dev.shape
    out = []
    dev.program(on_device(dev, mid_targets(dev)))
    out.append(("program", host(dev, dev.peek())))
    delta = rng.normal(0, 2 * spec.step_us, dev.shape) * (rng.random(dev.shape) < 0.5)
    dev.update(on_device(dev, delta))
    out.append(("update", host(dev, dev.peek())))
    counts = rng.integers(0, 3, dev.shape)
    dev.pulse(on_device(dev, counts, np.int64), on_device(dev, rng.choice([-1, 1], dev.shape), np.int8))
    out.append(("pulse", host(dev, dev.peek())))
    idx = rng.permutation(rows * cols)[:17]
    dev.update(on_device(dev, rng.normal(0, spec.step_us, idx.size)), index=on_device(dev, idx, np.int64))
    out.append(("sparse update", host(dev, dev.peek())))
    out.append(("forward", host(dev, dev.forward(on_device(dev, rng.standard_normal((4, rows)))))))
    out.append(("backward", host(dev, dev.backward(on_device(dev, rng.standard_normal((4, cols)))))))
    out.append(("read", host(dev, dev.read())))
    return out


@check("counters_and_energy")
def counters_and_energy(target):
    """Pulses, writes, reads and energy are counted exactly: energy = pulses x J/pulse + cell reads x J/read."""
    spec = target.spec
    dev = target.make(key=80, shape=SHAPE)
    rng = _rng(target, 80)
    rows, cols = SHAPE
    cells = rows * cols

    def totals():
        c = dev.counters
        return host(dev, c.pulses), host(dev, c.writes), c.cell_reads, c.products, dict(c.energy_j)

    def close(a, b):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-30)

    def energy_invariant(when):
        c = dev.counters
        pulses = float(host(dev, c.pulses).sum())
        want = pulses * spec.energy_per_pulse_j + c.cell_reads * spec.energy_per_read_j
        if getattr(spec, "declares_set_reset", False):  # SET and RESET costed apart: between the two
            per_pulse = (spec.pulse_energy_j(1), spec.pulse_energy_j(-1))
            reads = c.cell_reads * spec.energy_per_read_j
            low, high = pulses * min(per_pulse) + reads, pulses * max(per_pulse) + reads
            if not (low * (1 - 1e-9) - 1e-30 <= c.total_energy_j <= high * (1 + 1e-9) + 1e-30):
                fail(f"after {when}, total energy is {c.total_energy_j:.6g} J, outside [{low:.6g}, {high:.6g}] J "
                     f"({int(pulses)} pulses at the declared SET/RESET energies, {c.cell_reads} cell reads)")
            return
        if not close(c.total_energy_j, want):
            fail(
                f"after {when}, total energy is {c.total_energy_j:.6g} J but pulses x energy_per_pulse_j + "
                f"cell reads x energy_per_read_j = {want:.6g} J ({int(pulses)} pulses, {c.cell_reads} cell reads)"
            )

    # pulses: exact counts per cell, one write per pulsed cell
    p0, w0, _, _, e0 = totals()
    counts = rng.integers(0, 4, SHAPE)
    dev.pulse(on_device(dev, counts, np.int64), on_device(dev, rng.choice([-1, 1], SHAPE), np.int8))
    p1, w1, _, _, e1 = totals()
    if not np.array_equal(p1 - p0, counts):
        wrong = int((p1 - p0 != counts).sum())
        fail(f"pulse(): {wrong} cells counted the wrong number of pulses (e.g. counted {int((p1 - p0).sum())} "
             f"for {int(counts.sum())} applied)")
    if not np.array_equal(w1 - w0, (counts > 0).astype(w1.dtype)):
        fail("pulse(): writes must go up by exactly 1 on each pulsed cell and 0 elsewhere")
    if not close(e1.get("write", 0) - e0.get("write", 0), counts.sum() * spec.energy_per_pulse_j):
        fail(f"pulse(): write energy rose by {e1.get('write', 0) - e0.get('write', 0):.6g} J for "
             f"{int(counts.sum())} pulses x {spec.energy_per_pulse_j:g} J")
    energy_invariant("pulse()")
    # update: the device chooses the pulses, but only requested cells may count any
    delta = rng.normal(0, 2 * spec.step_us, SHAPE) * (rng.random(SHAPE) < 0.5)
    dev.update(on_device(dev, delta))
    p2, w2, *_ = totals()
    if ((p2 - p1)[delta == 0] != 0).any() or ((w2 - w1)[delta == 0] != 0).any():
        fail("update(): cells with a zero request counted pulses or writes")
    if ((w2 - w1) > 1).any() or (((p2 - p1) > 0) & ((w2 - w1) != 1)).any():
        fail("update(): a written cell must count exactly one write per call")
    energy_invariant("update()")
    # program: pulses per cell and verify reads are both energy
    mask = rng.random(SHAPE) < 0.5
    dev.program(on_device(dev, mid_targets(dev)), mask=on_device(dev, mask, bool))
    energy_invariant("program(mask)")
    _, w3, *_ = totals()
    if ((w3 - w2)[~mask] != 0).any():
        fail("program(mask): cells outside the mask counted writes")
    # products and reads: every vector reads every cell once
    for name, op, width, batch in (("forward", dev.forward, rows, 5), ("backward", dev.backward, cols, 3)):
        _, _, r_a, n_a, e_a = totals()
        op(on_device(dev, rng.standard_normal((batch, width))))
        _, _, r_b, n_b, e_b = totals()
        if r_b - r_a != batch * cells:
            fail(f"{name} of {batch} vectors counted {r_b - r_a} cell reads, expected {batch} x {cells}")
        if n_b - n_a != batch:
            fail(f"{name} of {batch} vectors counted {n_b - n_a} products, expected {batch}")
        if not close(e_b.get("read", 0) - e_a.get("read", 0), batch * cells * spec.energy_per_read_j):
            fail(f"{name}: read energy rose by {e_b.get('read', 0) - e_a.get('read', 0):.6g} J, expected "
                 f"{batch * cells} cell reads x {spec.energy_per_read_j:g} J")
    _, _, r_a, *_ = totals()
    dev.read()
    if dev.counters.cell_reads - r_a != cells:
        fail(f"read() counted {dev.counters.cell_reads - r_a} cell reads, expected {cells}")
    energy_invariant("products and reads")
    if spec.has(NATIVE_PROBABILISTIC):
        p_a = host(dev, dev.counters.pulses)
        probs = (rng.random(SHAPE) < 0.5).astype(np.float32) * 0.5
        dev.pulse_probabilistic(on_device(dev, probs), on_device(dev, rng.choice([-1, 1], SHAPE), np.int8))
        dp = host(dev, dev.counters.pulses) - p_a
        if not np.array_equal(dp, (probs > 0).astype(dp.dtype)):
            fail("pulse_probabilistic(): every cell with p > 0 is pulsed once (whether it switches or not)")
        energy_invariant("pulse_probabilistic()")


@check("deterministic_under_seed")
def deterministic_under_seed(target):
    """The same seed gives bit-identical behaviour; different seeds give different noise."""
    a = exercise(target.make(key=81, shape=SHAPE), seed=5)
    b = exercise(target.make(key=81, shape=SHAPE), seed=5)
    for (name, x), (_, y) in zip(a, b):
        if x.shape != y.shape or not np.array_equal(x, y, equal_nan=True):
            fail(f"two devices built with the same seed differ after {name}: the backend draws from a "
                 "generator other than its Compute's")
    if not randomness_declared(target.spec):
        return "the spec declares no randomness; only same-seed equality checked"
    c = exercise(target.make(key=82, shape=SHAPE), seed=5)
    if all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, c)):
        fail("devices built with different seeds behave identically although the spec declares noise: "
             "the backend ignores its Compute's seeded generator")


def _savez_round_trip(state: dict) -> dict:
    """Write a state with numpy's .npz (no pickle) and read it back, as a checkpoint would."""
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@check("state_round_trip")
def state_round_trip(target):
    """state() is plain arrays; load_state() into a fresh device reproduces state and behaviour."""
    a = target.make(key=83, shape=SHAPE)
    exercise(a, seed=7)
    state = a.state()
    for key, value in state.items():
        if not isinstance(value, np.ndarray):
            fail(f"state()[{key!r}] is a {type(value).__name__}; export host numpy arrays only")
        if value.dtype == object:
            fail(f"state()[{key!r}] has dtype object, which needs pickle; export plain arrays")
    try:
        saved = _savez_round_trip(state)
    except ValueError as exc:
        fail(f"state() does not survive np.savez / np.load(allow_pickle=False): {exc}")
    b = target.make(key=84, shape=SHAPE)
    b.load_state(saved)
    changed = differences(snapshot(a), snapshot(b))
    if changed:
        fail(f"after load_state, the copy differs from the original in {changed}")
    after_a, after_b = exercise(a, seed=8), exercise(b, seed=8)
    if a.compute.is_gpu:
        return "GPU generators cannot export their stream: state compared, behaviour not"
    for (name, x), (_, y) in zip(after_a, after_b):
        if not np.array_equal(x, y):
            fail(f"the restored device behaves differently from the original at {name}")
    bad = dict(saved)
    bad["g_us"] = np.zeros((SHAPE[0] + 1, SHAPE[1]), np.float32)
    before = snapshot(b)
    try:
        b.load_state(bad)
    except (ValueError, KeyError, TypeError):
        pass
    else:
        fail("load_state accepted conductances of the wrong shape")
    if differences(before, snapshot(b)):
        fail("a rejected load_state changed the device")


@check("inputs_not_mutated")
def inputs_not_mutated(target):
    """No operation writes into the arrays it was given."""
    spec = target.spec
    dev = target.make(key=85, shape=SHAPE)
    rng = _rng(target, 85)
    rows, cols = SHAPE
    xp = dev.xp
    idx = rng.permutation(rows * cols)[:30]
    args = {
        "program targets_us": on_device(dev, mid_targets(dev)),
        "program mask": on_device(dev, rng.random(SHAPE) < 0.5, bool),
        "update delta_us": on_device(dev, rng.normal(0, 3 * spec.step_us, SHAPE) * 50),
        "sparse delta_us": on_device(dev, rng.normal(0, 3 * spec.step_us, idx.size) * 50),
        "index": on_device(dev, idx, np.int64),
        "pulse counts": on_device(dev, rng.integers(0, 3, SHAPE), np.int64),
        "pulse signs": on_device(dev, rng.choice([-1, 1], SHAPE), np.int8),
        "forward x": on_device(dev, rng.standard_normal((4, rows)) * 10),
        "backward d": on_device(dev, rng.standard_normal((4, cols)) * 10),
    }
    copies = {k: v.copy() for k, v in args.items()}
    dev.program(args["program targets_us"], mask=args["program mask"])
    dev.update(args["update delta_us"])
    dev.update(args["sparse delta_us"], index=args["index"])
    dev.pulse(args["pulse counts"], args["pulse signs"])
    dev.pulse(args["pulse counts"].reshape(-1)[:30], args["pulse signs"].reshape(-1)[:30], index=args["index"])
    dev.forward(args["forward x"])
    dev.backward(args["backward d"])
    if spec.has(NATIVE_PROBABILISTIC):
        args["probabilities"] = on_device(dev, rng.random(SHAPE) * 0.5)
        copies["probabilities"] = args["probabilities"].copy()
        dev.pulse_probabilistic(args["probabilities"], args["pulse signs"])
    state = dev.state()
    state_copy = {k: np.array(v, copy=True) for k, v in state.items()}
    dev.load_state(state)
    for name, value in args.items():
        if not bool(xp.array_equal(value, copies[name])):
            fail(f"the caller's {name} array was modified by the device")
    for key, value in state.items():
        if not np.array_equal(value, state_copy[key]):
            fail(f"load_state modified the caller's state[{key!r}]")
    for name, op in (("peek()", dev.peek), ("read()", dev.read)):
        before = host(dev, dev.peek())
        returned = op()
        returned[...] = returned + 1
        if not np.array_equal(host(dev, dev.peek()), before):
            fail(f"{name} returned the device's own storage: writing into the result changed the device")


def _bad_calls(dev, rng):
    rows, cols = dev.shape
    spec = dev.spec
    ones = np.ones(dev.shape)
    nan = ones.copy()
    nan[1, 2] = np.nan
    inf = ones.copy()
    inf[0, 0] = np.inf
    d = lambda a, dt=np.float32: on_device(dev, a, dt)
    idx = np.array([0, 5, 9])
    return (
        ("program: targets of the wrong shape", lambda: dev.program(d(np.ones((rows + 1, cols)) * spec.g_min_us))),
        ("program: a NaN target", lambda: dev.program(d(nan * spec.g_max_us))),
        ("program: a target above g_max_us", lambda: dev.program(d(ones * (spec.g_max_us + spec.range_us)))),
        ("program: a mask that is not bool", lambda: dev.program(d(ones * spec.g_max_us), mask=d(ones))),
        ("pulse: a negative count", lambda: dev.pulse(d(-ones, np.int64), 1)),
        ("pulse: a fractional count", lambda: dev.pulse(d(ones * 1.5, np.float64), 1)),
        ("pulse: sign 0 on a pulsed cell", lambda: dev.pulse(d(ones, np.int64), d(np.zeros(dev.shape), np.int8))),
        ("pulse: counts of the wrong shape", lambda: dev.pulse(d(np.ones((rows, cols + 2)), np.int64), 1)),
        ("pulse: a NaN count", lambda: dev.pulse(d(nan, np.float64), 1)),
        ("pulse: an index out of range", lambda: dev.pulse(d(np.ones(3), np.int64), d(np.ones(3), np.int8), index=d(np.array([0, 1, rows * cols]), np.int64))),
        ("update: a NaN request", lambda: dev.update(d(nan))),
        ("update: an infinite request", lambda: dev.update(d(inf))),
        ("update: a request of the wrong shape", lambda: dev.update(d(np.ones((cols, rows + 1))))),
        ("update: a repeated index", lambda: dev.update(d(np.ones(3)), index=d(np.array([1, 4, 1]), np.int64))),
        ("update: a negative index", lambda: dev.update(d(np.ones(3)), index=d(np.array([-1, 4, 2]), np.int64))),
        ("update: an index of another length", lambda: dev.update(d(np.ones(4)), index=d(idx, np.int64))),
        ("update: a float index", lambda: dev.update(d(np.ones(3)), index=d(idx + 0.5, np.float64))),
        ("forward: an input of the wrong width", lambda: dev.forward(d(np.ones((2, rows + 1))))),
        ("forward: a 3-D input", lambda: dev.forward(d(np.ones((2, 2, rows))))),
        ("forward: a NaN input", lambda: dev.forward(d(np.full((1, rows), np.nan)))),
        ("backward: an input of the wrong width", lambda: dev.backward(d(np.ones((2, rows))))),
        ("load_state: a missing key", lambda: dev.load_state({"g_us": np.ones(dev.shape, np.float32)})),
    )


@check("bad_input_rejected")
def bad_input_rejected(target):
    """Bad input raises ValueError/TypeError/KeyError with a message, and leaves the device unchanged."""
    dev = target.make(key=86, shape=SHAPE)
    rng = _rng(target, 86)
    exercise(dev, seed=9)
    problems = []
    for what, call in _bad_calls(dev, rng):
        before = snapshot(dev)
        try:
            call()
        except (ValueError, TypeError, KeyError) as exc:
            if len(str(exc)) < 10:
                problems.append(f"{what}: the error message {str(exc)!r} does not say what is wrong")
        except Exception as exc:  # noqa: BLE001  (the wrong kind of error is the finding)
            problems.append(f"{what}: raised {type(exc).__name__} ({exc}); expected ValueError, TypeError or KeyError")
        else:
            problems.append(f"{what}: accepted")
        changed = differences(before, snapshot(dev))
        if changed:
            problems.append(f"{what}: the rejected call changed {changed}")
    if problems:
        fail(f"{len(problems)} bad inputs mishandled: " + "; ".join(problems[:4]) + (" ..." if len(problems) > 4 else ""))
