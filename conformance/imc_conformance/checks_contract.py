"""Checks of the protocol's bookkeeping: counters and energy, seeds, state export, inputs, bad input."""

from __future__ import annotations

import io
import math

import numpy as np

from imc.spec import NATIVE_PROBABILISTIC

from .ops import first_difference, operations, run_all
from .probes import (
    differences,
    host,
    mid_targets,
    on_device,
    randomness_declared,
    snapshot,
    windows,
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
    pulse_signs = rng.choice([-1, 1], SHAPE)
    dev.pulse(on_device(dev, counts, np.int64), on_device(dev, pulse_signs, np.int8))
    p1, w1, _, _, e1 = totals()
    if not np.array_equal(p1 - p0, counts):
        wrong = int((p1 - p0 != counts).sum())
        fail(f"pulse(): {wrong} cells counted the wrong number of pulses (e.g. counted {int((p1 - p0).sum())} "
             f"for {int(counts.sum())} applied)")
    if not np.array_equal(w1 - w0, (counts > 0).astype(w1.dtype)):
        fail("pulse(): writes must go up by exactly 1 on each pulsed cell and 0 elsewhere")
    up_j, down_j = (spec.pulse_energy_j(1), spec.pulse_energy_j(-1)) if hasattr(spec, "pulse_energy_j") else (
        spec.energy_per_pulse_j, spec.energy_per_pulse_j)
    if not close(e1.get("write", 0) - e0.get("write", 0), float(np.where(pulse_signs > 0, counts * up_j, counts * down_j).sum())):
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
    """The same seed gives bit-identical behaviour of every method (construction, every write form,
    probabilistic pulses, drift, reads); different seeds give different noise and different
    device-to-device draws."""
    ops = operations(target.spec, SHAPE, target.device_seed(81))
    a = run_all(target.make(key=81, shape=SHAPE), ops)
    b = run_all(target.make(key=81, shape=SHAPE), ops)
    where = first_difference(a, b)
    if where:
        fail(f"two devices built with the same seed differ after {where[0]} ({where[1]}): the backend draws "
             "from a generator other than its Compute's (np.random.*, a global or fixed-seed generator)")
    if not randomness_declared(target.spec):
        return "the spec declares no randomness; only same-seed equality checked"
    first, other = target.make(key=81, shape=SHAPE), target.make(key=82, shape=SHAPE)
    spec = target.spec
    if spec.step_d2d > 0 or spec.bounds_d2d > 0 or spec.stuck_low_prob + spec.stuck_high_prob > 0:
        sa, sb = first.state(), other.state()
        keys = [k for k in sa if k.startswith("cell.") or k == "g_us"]
        lo_a, hi_a = windows(first)
        lo_b, hi_b = windows(other)
        same = all(np.array_equal(sa[k], sb[k]) for k in keys) and np.array_equal(lo_a, lo_b) and np.array_equal(hi_a, hi_b)
        if same:
            fail("devices built with different seeds have identical device-to-device draws (cell fields, windows, "
                 "initial state) although the spec declares a spread: draw them from self.compute in _init_cells")
    c = run_all(other, ops)
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
        ("update: a repeated index in sorted order",
         lambda: dev.update(d(np.ones(3)), index=d(np.array([1, 1, 4]), np.int64))),
        ("pulse: a repeated index in sorted order",
         lambda: dev.pulse(d(np.ones(3), np.int64), d(np.ones(3), np.int8), index=d(np.array([2, 5, 5]), np.int64))),
        ("update: a negative index", lambda: dev.update(d(np.ones(3)), index=d(np.array([-1, 4, 2]), np.int64))),
        ("update: an index of another length", lambda: dev.update(d(np.ones(4)), index=d(idx, np.int64))),
        ("update: a float index", lambda: dev.update(d(np.ones(3)), index=d(idx + 0.5, np.float64))),
        ("forward: an input of the wrong width", lambda: dev.forward(d(np.ones((2, rows + 1))))),
        ("forward: a 3-D input", lambda: dev.forward(d(np.ones((2, 2, rows))))),
        ("forward: a NaN input", lambda: dev.forward(d(np.full((1, rows), np.nan)))),
        ("backward: an input of the wrong width", lambda: dev.backward(d(np.ones((2, rows))))),
        ("load_state: a missing key", lambda: dev.load_state({"g_us": np.ones(dev.shape, np.float32)})),
    ) + _mixed_bad_calls(dev, rng)


def _mixed_bad_calls(dev, rng):
    """Calls where most entries are valid and one is not: nothing may be applied, not even the valid ones."""
    rows, cols = dev.shape
    spec = dev.spec
    size = rows * cols
    d = lambda a, dt=np.float32: on_device(dev, a, dt)  # noqa: E731
    idx = rng.permutation(size)[:12]
    good = np.full(idx.size, 2 * spec.step_us)
    nan_last = good.copy()
    nan_last[-1] = np.nan
    out_of_range = idx.copy()
    out_of_range[-1] = size
    counts = np.full(idx.size, 2)
    negative_last = counts.copy()
    negative_last[-1] = -1
    targets = np.full(dev.shape, (spec.g_min_us + spec.g_max_us) / 2)
    low_one = targets.copy()
    low_one[-1, -1] = spec.g_min_us - 0.5 * spec.range_us
    signs = np.ones(idx.size)
    calls = [
        ("update (sparse): the last request NaN", lambda: dev.update(d(nan_last), index=d(idx, np.int64))),
        ("update (sparse, unsorted): the last index out of range",
         lambda: dev.update(d(good), index=d(out_of_range, np.int64))),
        ("pulse (sparse): the last count negative",
         lambda: dev.pulse(d(negative_last, np.int64), d(signs, np.int8), index=d(idx, np.int64))),
        ("pulse (sparse): signs of another length",
         lambda: dev.pulse(d(counts, np.int64), d(np.ones(idx.size + 1), np.int8), index=d(idx, np.int64))),
        ("pulse (sparse): the last index repeated",
         lambda: dev.pulse(d(counts, np.int64), d(signs, np.int8), index=d(np.append(idx[:-1], idx[0]), np.int64))),
        ("program: one target below g_min_us among valid ones", lambda: dev.program(d(low_one))),
        ("pulse (sparse): a sign of +2", lambda: dev.pulse(d(counts, np.int64), d(np.append(signs[:-1], 2), np.int8),
                                                          index=d(idx, np.int64))),
        ("program: a mask of another shape",
         lambda: dev.program(d(targets), mask=d(np.ones((rows, cols + 1), bool), bool))),
    ]
    if spec.has(NATIVE_PROBABILISTIC):
        probs = np.full(dev.shape, 0.5)
        for what, bad in (("above 1", 1.2), ("below 0", -0.1), ("NaN", np.nan)):
            p = probs.copy()
            p[-1, -1] = bad
            calls.append((f"pulse_probabilistic: one probability {what} among valid ones",
                          lambda p=p: dev.pulse_probabilistic(d(p), d(np.ones(dev.shape), np.int8))))
        calls += [
            ("pulse_probabilistic: sign 0 on a selected cell",
             lambda: dev.pulse_probabilistic(d(probs), d(np.zeros(dev.shape), np.int8))),
            ("pulse_probabilistic: probabilities of the wrong shape",
             lambda: dev.pulse_probabilistic(d(np.full((rows, cols + 1), 0.5)), 1)),
            ("pulse_probabilistic (sparse): the last probability above 1",
             lambda: dev.pulse_probabilistic(d(np.append(np.full(idx.size - 1, 0.5), 1.5)), d(signs, np.int8),
                                             index=d(idx, np.int64))),
        ]
    return tuple(calls)


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
        fail(f"{len(problems)} bad inputs mishandled (each must raise ValueError/TypeError/KeyError before "
             "changing anything): " + "; ".join(problems[:4]) + (" ..." if len(problems) > 4 else ""))
