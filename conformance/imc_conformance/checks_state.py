"""Checks of the state promise: an export is an independent copy, a restore brings back
behaviour after every kind of operation, and a state that does not fit is refused with the
device left exactly as it was."""

from __future__ import annotations

import io

import numpy as np

from .ops import first_difference, operations, run_all
from .probes import differences, snapshot
from .registry import check, fail

SHAPE = (12, 20)


def _npz(state: dict) -> dict:
    """A state written with np.savez and read back without pickle, as a checkpoint does."""
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _copy(state: dict) -> dict:
    return {k: np.array(v, copy=True) for k, v in state.items()}


def _numeric(state: dict) -> list[str]:
    return [k for k, v in state.items() if isinstance(v, np.ndarray) and v.dtype.kind in "fiub" and v.size]


def _scribble(state: dict) -> None:
    """Write into every numeric array of a state in place."""
    for key in _numeric(state):
        value = state[key]
        if not value.flags.writeable:
            continue
        if value.dtype.kind == "b":
            value[...] = ~value
        else:
            value += 1


@check("state_export_is_a_copy")
def state_export_is_a_copy(target):
    """state() returns copies: later operations of every kind do not change an export, writing into
    an export does not change the device, and load_state keeps no reference to the caller's arrays."""
    dev = target.make(key=110, shape=SHAPE)
    ops = operations(target.spec, SHAPE, target.device_seed(110))
    run_all(dev, ops)
    exported = dev.state()
    frozen = _copy(exported)
    for name, op in ops:
        op(dev)
        changed = differences(frozen, exported)
        if changed:
            fail(f"state() returned arrays that a later {name} changed ({', '.join(changed)}): state() must "
                 "return copies (np.array(x, copy=True)), not the device's own arrays")
    exported = dev.state()
    before = snapshot(dev)
    _scribble(exported)
    changed = differences(before, snapshot(dev))
    if changed:
        fail(f"writing into the arrays state() returned changed the device ({', '.join(changed)}): state() "
             "must return copies, not views of the device's storage")
    given = _copy(before)
    given.pop("_counters")
    dev.load_state(given)
    loaded = snapshot(dev)
    _scribble(given)
    changed = differences(loaded, snapshot(dev))
    if changed:
        fail(f"after load_state(state), writing into the caller's state arrays changed the device "
             f"({', '.join(changed)}): load_state must copy what it is given")


@check("state_restores_every_operation")
def state_restores_every_operation(target):
    """After each kind of operation (every write form, drift, reads), load_state(state()) into a fresh
    device reproduces the stored state, and both then behave bit-identically; reloading rewinds."""
    ops = operations(target.spec, SHAPE, target.device_seed(111))
    probe = operations(target.spec, SHAPE, target.device_seed(112))
    gpu = target.compute == "gpu"
    for k, (name, op) in enumerate(ops):
        a = target.make(key=111, shape=SHAPE)
        ops[0][1](a)  # program first, so every later operation starts from a written state
        op(a)
        state = _npz(a.state())
        b = target.make(key=113 + k, shape=SHAPE)  # another seed: nothing may leak from construction
        b.load_state(state)
        changed = differences(snapshot(a), snapshot(b))
        if changed:
            fail(f"after {name}, load_state(state()) into a fresh device does not reproduce "
                 f"{', '.join(changed)}")
        if gpu:
            continue
        # products first, before any write could refresh what a backend caches from the conductances
        products = [op for op in probe if op[0] in ("forward", "backward")]
        where = first_difference(run_all(a, products), run_all(b, products))
        if where:
            fail(f"after {name}, a device restored with load_state(state()) behaves differently from the original "
                 f"at its first {where[0]}, before any write ({where[1]}): load_state must restore everything "
                 "products use: the random stream (keep it in the Compute) and no cache of the old conductances")
        where = first_difference(run_all(a, probe), run_all(b, probe))
        if where:
            fail(f"after {name}, a device restored with load_state(state()) behaves differently from the "
                 f"original at {where[0]}: {where[1]}; state() must export everything the physics uses "
                 "(list per-cell arrays in cell_fields, keep the random stream in the Compute)")
    if gpu:
        return "GPU generators cannot export their stream: states compared, behaviour not"
    dev = target.make(key=111, shape=SHAPE)
    run_all(dev, ops)
    saved = dev.state()
    first = run_all(dev, probe)
    dev.load_state(saved)
    where = first_difference(first, run_all(dev, probe))
    if where:
        fail(f"load_state(state()) on the same device does not rewind it: replaying the same operations "
             f"differs at {where[0]}: {where[1]}")


def _foreign_states(target, dev, state):
    """(what, state) pairs load_state must refuse; the device was built with key 114."""
    spec = target.spec
    rows, cols = SHAPE
    other_spec = target.make(key=114, shape=SHAPE, spec=spec.evolve(energy_per_pulse_j=spec.energy_per_pulse_j * 2 + 1e-15))
    other_shape = target.make(key=114, shape=(rows + 1, cols))
    transposed = target.make(key=114, shape=(cols, rows))
    cases = [
        ("a state saved from a device with another spec (energy_per_pulse_j differs)", other_spec.state()),
        (f"a state of shape {(rows + 1, cols)} for a {SHAPE} device", other_shape.state()),
        (f"a state of shape {(cols, rows)} (transposed)", transposed.state()),
    ]

    def edited(what, **changes):
        new = _copy(state)
        for key, value in changes.items():
            if value is None:
                new.pop(key, None)
            else:
                new[key] = value
        cases.append((what, new))

    edited("g_us stored as float64", g_us=state["g_us"].astype(np.float64))
    edited("pulses stored as float64", pulses=state["pulses"].astype(np.float64))
    edited("a NaN conductance", g_us=np.where(np.arange(state["g_us"].size).reshape(SHAPE) == 7, np.nan, state["g_us"]).astype(np.float32))
    edited("no 'writes' entry", writes=None)
    edited("'totals' with one entry", totals=np.asarray(state["totals"])[:1])
    edited("'energy_j' shorter than 'energy_keys'", energy_j=np.asarray(state["energy_j"])[:-1])
    edited("a malformed 'rng_state'", rng_state=np.array("{not json"))
    cell_keys = sorted(k for k in state if k.startswith("cell."))
    if cell_keys:
        last = cell_keys[-1]
        edited(f"'{last}' of the wrong shape", **{last: np.zeros((rows, cols + 1), np.asarray(state[last]).dtype)})
        edited(f"no '{cell_keys[0]}' entry", **{cell_keys[0]: None})
    return cases


@check("load_state_refuses_foreign_states")
def load_state_refuses_foreign_states(target):
    """load_state refuses a state of another spec, shape or dtype, or one that is incomplete or
    corrupt (ValueError/KeyError), and leaves the device exactly as it was."""
    dev = target.make(key=114, shape=SHAPE)
    run_all(dev, operations(target.spec, SHAPE, target.device_seed(114)))
    state = dev.state()
    problems = []
    for what, bad in _foreign_states(target, dev, state):
        before = snapshot(dev)
        try:
            dev.load_state(bad)
        except (ValueError, KeyError, TypeError) as exc:
            changed = differences(before, snapshot(dev))
            if changed:
                problems.append(f"{what}: refused ({type(exc).__name__}) but only after changing "
                                f"{', '.join(changed)}; check everything before assigning anything")
        except Exception as exc:  # noqa: BLE001  (the wrong kind of error is the finding)
            problems.append(f"{what}: raised {type(exc).__name__} ({exc}) instead of ValueError/KeyError")
        else:
            problems.append(f"{what}: accepted")
        if problems and len(problems) >= 3:
            break
    if problems:
        fail(f"load_state mishandles {len(problems)} bad state(s): " + "; ".join(problems))
