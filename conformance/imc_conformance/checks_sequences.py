"""Random sequences of operations against an oracle of what must hold after every step.

A Hypothesis state machine drives program / update / pulse / pulse_probabilistic / read /
forward / backward / drift / state / load_state and bad input of every form, in random order,
on a small array. After every step it checks what the protocol promises whatever came
before: conductances finite and inside each cell's window; unselected cells and their
counters bit-identical; per-cell pulse and write counters equal to what was applied;
running totals and energy consistent with the counters; rejected input changes nothing;
``load_state(state())`` restores the exact state and a twin device loaded with it behaves
bit-identically. Deterministic: Hypothesis is derandomised, runs a bounded number of
sequences and does not shrink; the devices' seeds come from the target's base seed.
"""

from __future__ import annotations

import numpy as np

from imc.spec import ABRUPT_RESET, ANALOG_WRITE, BOUNDS, DRIFT, NATIVE_PROBABILISTIC

from .ops import first_difference, operations, run_all
from .probes import differences, energy_agrees, host, on_device, snapshot, windows
from .registry import CheckFailure, check, skip
from .stats import float32_tolerance

SHAPE = (6, 10)
EXAMPLES = 12  # sequences per run
STEPS = 25  # operations per sequence
BAD_INPUT = ("update NaN", "update index out of range", "pulse negative", "program outside", "probability above 1")


@check("random_sequences_keep_invariants")
def random_sequences_keep_invariants(target):
    """Random sequences of every operation (writes of each form, probabilistic pulses, drift, reads,
    state/load_state, bad input) keep bounds, untouched cells, counters, energy and state round trips."""
    try:
        import hypothesis
        from hypothesis import HealthCheck, Phase, Verbosity
        from hypothesis.stateful import run_state_machine_as_test
    except ImportError:
        skip("needs the hypothesis package (pip install hypothesis)")
    settings = hypothesis.settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )
    machine = _machine(target)
    try:
        run_state_machine_as_test(machine, settings=settings)
    except CheckFailure:
        raise
    except BaseException as exc:  # an ExceptionGroup or Hypothesis' own wrapper around our failure
        inner = [e for e in getattr(exc, "exceptions", ()) if isinstance(e, CheckFailure)]
        if inner:
            raise inner[0] from None
        raise
    return f"{EXAMPLES} sequences of {STEPS} operations on a {SHAPE[0]}x{SHAPE[1]} array"


def _machine(target):
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

    spec = target.spec
    cells = SHAPE[0] * SHAPE[1]
    ftol = float32_tolerance(max(abs(spec.g_min_us), abs(spec.g_max_us)))
    seeds = st.integers(0, 2**16)
    probe = operations(spec, SHAPE, target.device_seed(142))

    class DeviceSequence(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.dev = target.make(key=140, shape=SHAPE)
            self.lo, self.hi = windows(self.dev)
            self.log: list[str] = []
            self.saved: list[dict] = []
            self.pulses = host(self.dev, self.dev.counters.pulses).astype(np.int64)
            self.writes = host(self.dev, self.dev.counters.writes).astype(np.int64)

        # -- helpers -------------------------------------------------------------------------
        def fail(self, message):
            steps = "; ".join(self.log[-6:])
            raise CheckFailure(f"{message} (after the steps: {steps})")

        def call(self, what, fn):
            self.log.append(what)
            try:
                return fn()
            except CheckFailure:
                raise
            except Exception as exc:  # noqa: BLE001  (a crash on valid input is the finding)
                self.fail(f"{what} raised {type(exc).__name__}: {exc}")

        def g(self):
            return host(self.dev, self.dev.peek())

        def counted(self):
            c = self.dev.counters
            return host(self.dev, c.pulses).astype(np.int64), host(self.dev, c.writes).astype(np.int64), c.events, c.pulse_total

        def write(self, what, fn, selected, pulses=None):
            """Run a write; check unselected cells and counters; ``pulses`` is the exact count if known."""
            g0 = self.g()
            p0, w0, e0, t0 = self.counted()
            self.call(what, fn)
            g1 = self.g()
            p1, w1, e1, t1 = self.counted()
            keep = ~selected
            if (g1.view(np.uint32)[keep] != g0.view(np.uint32)[keep]).any():
                self.fail(f"{what} changed {int((g1 != g0)[keep].sum())} unselected cells")
            dp, dw = p1 - p0, w1 - w0
            if (dp[keep] != 0).any() or (dw[keep] != 0).any():
                self.fail(f"{what} counted pulses or writes on unselected cells")
            if pulses is not None and not np.array_equal(dp, pulses):
                self.fail(f"{what} counted {int(dp.sum())} pulses for {int(pulses.sum())} applied "
                          f"({int((dp != pulses).sum())} cells wrong)")
            if ((dp > 0) & (dw != 1)).any() or (dw > 1).any() or (dp < 0).any():
                self.fail(f"{what}: each written cell counts one write event and its pulses")
            if ((g1 != g0) & (dw == 0)).any():
                self.fail(f"{what} changed cells without counting a write")
            if e1 - e0 != int(dw.sum()) or t1 - t0 != int(dp.sum()):
                self.fail(f"{what}: the running totals (events {e1 - e0}, pulse_total {t1 - t0}) disagree with the "
                          f"per-cell counters ({int(dw.sum())} writes, {int(dp.sum())} pulses)")
            self.pulses, self.writes = p1, w1
            return g0, dp

        # -- writes ----------------------------------------------------------------------------
        @rule(seed=seeds, masked=st.booleans())
        def program(self, seed, masked):
            rng = np.random.default_rng(seed)
            targets = rng.uniform(spec.g_min_us, spec.g_max_us, SHAPE).astype(np.float32)
            mask = rng.random(SHAPE) < 0.5 if masked else np.ones(SHAPE, bool)
            n = int(round(spec.program_pulses))
            dev = self.dev
            self.write(f"program({'mask' if masked else 'all'})",
                       lambda: dev.program(on_device(dev, targets), mask=on_device(dev, mask, bool) if masked else None),
                       mask, pulses=np.where(mask, n, 0))

        @rule(seed=seeds, sparse=st.booleans(), size=st.sampled_from([0.4, 1.5, 6.0, 400.0]))
        def update(self, seed, sparse, size):
            rng = np.random.default_rng(seed)
            dev = self.dev
            delta = (rng.choice([-1, 1], SHAPE) * rng.uniform(0, size, SHAPE) * spec.step_us).astype(np.float32)
            selected = (rng.random(SHAPE) < 0.5) & (delta != 0)
            if sparse:
                idx = rng.permutation(np.flatnonzero(selected.reshape(-1)))
                fn = lambda: dev.update(on_device(dev, delta.reshape(-1)[idx]), index=on_device(dev, idx, np.int64))  # noqa: E731
            else:
                fn = lambda: dev.update(on_device(dev, np.where(selected, delta, 0).astype(np.float32)))  # noqa: E731
            g0, dp = self.write(f"update({'sparse' if sparse else 'dense'}, {size:g} steps)", fn, selected)
            if spec.has(ANALOG_WRITE):
                return
            up = host(dev, dev.declared_step_us(on_device(dev, g0), 1)).astype(np.float64)
            dn = host(dev, dev.declared_step_us(on_device(dev, g0), -1)).astype(np.float64)
            step = np.where(delta > 0, up, dn)
            rule_count = np.where(step > 0, np.rint(np.abs(delta) / np.maximum(step, 1e-12)), 0)
            cap = dev.max_update_pulses()
            if cap is not None:
                rule_count = np.minimum(rule_count, cap)
            if spec.has(ABRUPT_RESET):  # a decrease is RESET + SET pulses back up: judge increases only
                rule_count = np.where(delta > 0, rule_count, np.inf)
            over = selected & (dp > rule_count + 1)
            if over.any():
                self.fail(f"update counted more pulses than the rounding rule allows on {int(over.sum())} cells "
                          f"(e.g. {int(dp[over][0])} for {float(rule_count[over][0]):g})")

        @rule(seed=seeds, sparse=st.booleans(), big=st.booleans(), ordered=st.booleans())
        def pulse(self, seed, sparse, big, ordered):
            rng = np.random.default_rng(seed)
            dev = self.dev
            top = max(int(2 * spec.range_us / spec.step_us), 4) if big else 4
            counts = rng.integers(0, top, SHAPE) * (rng.random(SHAPE) < 0.6)
            signs = rng.choice([-1, 1], SHAPE).astype(np.int8)
            selected = counts > 0
            form = "dense"
            if sparse:  # the index also lists some cells given 0 pulses (they are not written)
                listed = selected.reshape(-1) | (rng.random(cells) < 0.2)
                idx = np.flatnonzero(listed) if ordered else rng.permutation(np.flatnonzero(listed))
                form = "sparse, sorted" if ordered else "sparse"
                fn = lambda: dev.pulse(on_device(dev, counts.reshape(-1)[idx], np.int64),  # noqa: E731
                                       on_device(dev, signs.reshape(-1)[idx], np.int8), index=on_device(dev, idx, np.int64))
            else:
                fn = lambda: dev.pulse(on_device(dev, counts, np.int64), on_device(dev, signs, np.int8))  # noqa: E731
            self.write(f"pulse({form}, up to {top - 1})", fn, selected, pulses=counts)

        @precondition(lambda self: spec.has(NATIVE_PROBABILISTIC))
        @rule(seed=seeds, sparse=st.booleans())
        def probabilistic(self, seed, sparse):
            rng = np.random.default_rng(seed)
            dev = self.dev
            probs = (rng.uniform(0, 1, SHAPE) * (rng.random(SHAPE) < 0.5)).astype(np.float32)
            signs = rng.choice([-1, 1], SHAPE).astype(np.int8)
            selected = probs > 0
            if sparse:
                idx = rng.permutation(np.flatnonzero(selected.reshape(-1)))
                fn = lambda: dev.pulse_probabilistic(on_device(dev, probs.reshape(-1)[idx]),  # noqa: E731
                                                     on_device(dev, signs.reshape(-1)[idx], np.int8),
                                                     index=on_device(dev, idx, np.int64))
            else:
                fn = lambda: dev.pulse_probabilistic(on_device(dev, probs), on_device(dev, signs, np.int8))  # noqa: E731
            self.write(f"pulse_probabilistic({'sparse' if sparse else 'dense'})", fn, selected,
                       pulses=selected.astype(np.int64))

        @precondition(lambda self: spec.has(DRIFT))
        @rule(seconds=st.sampled_from([0.0, 1.0, 1e3, 1e7]))
        def drift(self, seconds):
            before = snapshot(self.dev)
            self.call(f"drift({seconds:g} s)", lambda: self.dev.drift(seconds))
            changed = [k for k in differences(before, snapshot(self.dev))
                       if k in ("pulses", "writes", "totals", "energy_j", "_counters")]
            if changed:
                self.fail(f"drift changed the counters {changed}")

        # -- reads -----------------------------------------------------------------------------
        @rule(which=st.sampled_from(["read", "forward", "backward", "peek"]), seed=seeds)
        def read(self, which, seed):
            rng = np.random.default_rng(seed)
            dev = self.dev
            g0 = self.g()
            reads0 = dev.counters.cell_reads
            x = rng.standard_normal((2, SHAPE[0] if which == "forward" else SHAPE[1])).astype(np.float32)
            fn = {"read": dev.read, "peek": dev.peek,
                  "forward": lambda: dev.forward(on_device(dev, x)),
                  "backward": lambda: dev.backward(on_device(dev, x))}[which]
            self.call(which, fn)
            if not np.array_equal(self.g().view(np.uint32), g0.view(np.uint32)):
                self.fail(f"{which} changed the stored conductances")
            want = {"read": cells, "peek": 0, "forward": 2 * cells, "backward": 2 * cells}[which]
            if dev.counters.cell_reads - reads0 != want:
                self.fail(f"{which} counted {dev.counters.cell_reads - reads0} cell reads, expected {want}")

        # -- bad input -------------------------------------------------------------------------
        @rule(kind=st.sampled_from(BAD_INPUT), seed=seeds)
        def bad_input(self, kind, seed):
            rng = np.random.default_rng(seed)
            dev = self.dev
            idx = rng.permutation(cells)[:5]
            values = np.full(idx.size, 2 * spec.step_us, np.float32)
            if kind == "probability above 1" and not spec.has(NATIVE_PROBABILISTIC):
                return
            calls = {
                "update NaN": lambda: dev.update(on_device(dev, np.append(values[:-1], np.nan)), index=on_device(dev, idx, np.int64)),
                "update index out of range": lambda: dev.update(on_device(dev, values),
                                                                index=on_device(dev, np.append(idx[:-1], cells), np.int64)),
                "pulse negative": lambda: dev.pulse(on_device(dev, np.append(np.ones(idx.size - 1), -1), np.int64),
                                                    on_device(dev, np.ones(idx.size), np.int8), index=on_device(dev, idx, np.int64)),
                "program outside": lambda: dev.program(on_device(dev, np.full(SHAPE, spec.g_max_us + spec.range_us))),
                "probability above 1": lambda: dev.pulse_probabilistic(on_device(dev, np.append(np.full(idx.size - 1, 0.5), 1.5)),
                                                                       on_device(dev, np.ones(idx.size), np.int8),
                                                                       index=on_device(dev, idx, np.int64)),
            }
            before = snapshot(dev)
            self.log.append(f"bad input ({kind})")
            try:
                calls[kind]()
            except (ValueError, TypeError, KeyError):
                pass
            except Exception as exc:  # noqa: BLE001
                self.fail(f"bad input ({kind}) raised {type(exc).__name__} instead of ValueError: {exc}")
            else:
                self.fail(f"bad input ({kind}) was accepted")
            changed = differences(before, snapshot(dev))
            if changed:
                self.fail(f"the rejected bad input ({kind}) changed {changed}")

        # -- state -----------------------------------------------------------------------------
        @rule()
        def save(self):
            self.log.append("state()")
            if len(self.saved) < 3:
                self.saved.append({k: np.array(v, copy=True) for k, v in self.call("state()", self.dev.state).items()})

        @precondition(lambda self: self.saved)
        @rule(which=st.integers(0, 2))
        def restore(self, which):
            saved = self.saved[which % len(self.saved)]
            self.call("load_state(saved)", lambda: self.dev.load_state({k: v.copy() for k, v in saved.items()}))
            now = self.dev.state()
            changed = [k for k in saved if k not in now or not np.array_equal(saved[k], now[k])]
            if changed:
                self.fail(f"after load_state(s), state() differs from s in {changed}")
            self.pulses, self.writes = (np.asarray(saved["pulses"], np.int64), np.asarray(saved["writes"], np.int64))
            if target.compute == "gpu":
                return
            twin = target.make(key=141, shape=SHAPE)
            twin.load_state({k: v.copy() for k, v in saved.items()})
            where = first_difference(run_all(self.dev, probe), run_all(twin, probe))
            if where:
                self.fail(f"a fresh device loaded with the same state behaves differently at {where[0]} ({where[1]})")
            self.pulses, self.writes, _, _ = self.counted()
            self.log.append("probe of every operation")

        # -- after every step ------------------------------------------------------------------
        @invariant()
        def state_is_valid(self):
            dev = self.dev
            g = self.g().astype(np.float64)
            if not np.isfinite(g).all():
                self.fail("non-finite conductances")
            if spec.has(BOUNDS) and ((g < self.lo - ftol) | (g > self.hi + ftol)).any():
                self.fail(f"{int(((g < self.lo - ftol) | (g > self.hi + ftol)).sum())} cells outside their window")
            p, w, _, _ = self.counted()
            if not (np.array_equal(p, self.pulses) and np.array_equal(w, self.writes)):
                self.fail("the per-cell counters changed outside a write")
            c = dev.counters
            ok, low, high = energy_agrees(c.total_energy_j, float(p.sum()), c.cell_reads, spec)
            if not ok:
                self.fail(f"total energy {c.total_energy_j:.6g} J but pulses x energy_per_pulse_j + cell reads x "
                          f"energy_per_read_j = {low:.6g} J" + (f" to {high:.6g} J (SET/RESET)" if high > low else ""))

    return DeviceSequence
