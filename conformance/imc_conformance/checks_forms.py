"""Checks of every write form: sparse equals dense, counters and energy per form, the rounding rule."""

from __future__ import annotations

import math

import numpy as np

from imc.device import settle
from imc.spec import ABRUPT_RESET, ANALOG_WRITE, NATIVE_PROBABILISTIC

from .ops import operations
from .probes import declared, energy_agrees, host, mid_targets, on_device
from .registry import check, fail
from .stats import clustered_fraction, float32_tolerance, mean_and_se, sigmas, z_for

SHAPE = (32, 48)
ONE_CELL_CALLS = 200  # writes of an index of size 1 compared with the same dense write


def _rng(target, key):
    return np.random.default_rng(target.device_seed(4000 + key))


def _quiet(spec):
    """The spec with its declared write, read and programming noise set to 0, where the spec lets
    them be overridden (a table or derived spec may refuse; the writes are then judged as stochastic)."""
    for field in ("write_noise_us", "read_noise_rel", "program_noise_us"):
        try:
            spec = spec.evolve(**{field: 0.0})
        except Exception:  # noqa: BLE001  (a spec that derives or guards the field keeps it)
            continue
    return spec


def _writes_are_deterministic(target, spec) -> bool:
    """Whether a write on ``spec`` ignores the random stream (same result after extra draws)."""
    a = target.make(key=120, shape=SHAPE, spec=spec)
    b = target.make(key=120, shape=SHAPE, spec=spec)
    b.compute.normal((13,))
    b.compute.uniform((7,))
    request = np.full(SHAPE, 2.0 * spec.step_us, np.float32)
    a.update(on_device(a, request))
    b.update(on_device(b, request))
    counts = np.full(SHAPE, 2)
    a.pulse(on_device(a, counts, np.int64), -1)
    b.pulse(on_device(b, counts, np.int64), -1)
    return bool(np.array_equal(host(a, a.peek()), host(b, b.peek())))


@check("sparse_matches_dense")
def sparse_matches_dense(target):
    """update and pulse with a sparse, unsorted index, and with an index of one cell per call, act
    exactly like the same dense write (bit-identical on a noise-free spec; the same direction
    statistics otherwise)."""
    spec = _quiet(target.spec)
    rng = _rng(target, 1)
    size = SHAPE[0] * SHAPE[1]
    exact = _writes_are_deterministic(target, spec)
    every = rng.permutation(size)[: size // 3]
    signs = rng.choice([-1, 1], size)
    notes = []
    for form, one_by_one in (("update", False), ("pulse", False), ("update", True), ("pulse", True)):
        idx = every[:ONE_CELL_CALLS] if one_by_one else every
        selected = np.zeros(size, bool)
        selected[idx] = True
        how = "one cell per call (an index of size 1)" if one_by_one else "a sparse unsorted index"
        dense_dev = target.make(key=121, shape=SHAPE, spec=spec)
        sparse_dev = target.make(key=121, shape=SHAPE, spec=spec)
        for dev in (dense_dev, sparse_dev):
            dev.program(on_device(dev, mid_targets(dev)))
        g0 = host(dense_dev, dense_dev.peek()).reshape(-1).astype(np.float64)
        n = rng.integers(1, 4, size)
        if form == "update":
            up, _ = declared(dense_dev, g0, 1)
            dn, _ = declared(dense_dev, g0, -1)
            values = (signs * n * np.where(signs > 0, up, dn)).astype(np.float32)
            dense = np.where(selected, values, 0).astype(np.float32)
            dense_dev.update(on_device(dense_dev, dense.reshape(SHAPE)))
            for part in np.split(idx, idx.size) if one_by_one else [idx]:
                sparse_dev.update(on_device(sparse_dev, values[part]), index=on_device(sparse_dev, part, np.int64))
        else:
            dense_counts = np.where(selected, n, 0)
            dense_dev.pulse(on_device(dense_dev, dense_counts.reshape(SHAPE), np.int64),
                            on_device(dense_dev, signs.reshape(SHAPE), np.int8))
            for part in np.split(idx, idx.size) if one_by_one else [idx]:
                sparse_dev.pulse(on_device(sparse_dev, n[part], np.int64), on_device(sparse_dev, signs[part], np.int8),
                                 index=on_device(sparse_dev, part, np.int64))
        gd = host(dense_dev, dense_dev.peek()).reshape(-1).astype(np.float64)
        gs = host(sparse_dev, sparse_dev.peek()).reshape(-1).astype(np.float64)
        for name, getter in (("pulses", lambda d: d.counters.pulses), ("writes", lambda d: d.counters.writes)):
            cd, cs = host(dense_dev, getter(dense_dev)), host(sparse_dev, getter(sparse_dev))
            if not np.array_equal(cd, cs):
                fail(f"{form} with {how} counted {name} on {int((cd != cs).sum())} cells "
                     f"differently from the same dense {form}: index[i] must pair with values[i]")
        if exact:
            off = gd != gs
            if off.any():
                fail(f"on a noise-free spec, {form} with {how} left {int(off.sum())} of "
                     f"{idx.size} cells different from the same dense {form} (largest by "
                     f"{float(np.abs(gd - gs).max()):.3g} uS): index[i] must pair with values[i]")
            continue
        # stochastic writes: each form must move cells the requested way equally often
        agree = []
        for g in (gd, gs):
            moved = (g - g0)[selected]
            agree.append(float((np.sign(moved) == signs[selected]).mean()))
        spread = math.sqrt(sum(p * (1 - p) for p in agree) / idx.size)
        bound = z_for(4) * max(spread, 1 / idx.size) + 2 / idx.size
        if abs(agree[0] - agree[1]) > bound:
            fail(f"{form}: {agree[1]:.1%} of cells written through {how} moved the requested "
                 f"way, against {agree[0]:.1%} for the same dense {form} (allowed difference {bound:.1%}): "
                 "index[i] must pair with values[i]")
        notes.append(f"{form}{' (one cell per call)' if one_by_one else ''}: {agree[1]:.1%} vs {agree[0]:.1%} "
                     "moved the requested way")
    if target.spec.has(NATIVE_PROBABILISTIC):
        notes.append(_probabilistic_sparse_pairs(target, rng))
    return "bit-identical on a noise-free spec" if exact and len(notes) < 2 else "; ".join(n for n in notes if n)


def _probabilistic_sparse_pairs(target, rng) -> str:
    """Sparse pulse_probabilistic with an unsorted index: p = 0.1 and p = 0.9 cells switch as asked,
    and switched cells move their sign's way as often as through the dense form."""
    dev = target.make(key=124, shape=SHAPE)
    size = SHAPE[0] * SHAPE[1]
    samples = {0.1: ([], []), 0.9: ([], [])}
    agree = {"sparse": [], "dense": []}
    for _ in range(4):
        dev.program(on_device(dev, mid_targets(dev)))
        g0 = host(dev, dev.peek()).reshape(-1)
        signs = rng.choice([-1, 1], size)
        movable = np.where(signs > 0, declared(dev, g0, 1)[0], declared(dev, g0, -1)[0]) > 0
        idx = rng.permutation(size)
        probs = np.where(rng.random(size) < 0.5, 0.1, 0.9).astype(np.float32)
        dev.pulse_probabilistic(on_device(dev, probs[idx]), on_device(dev, signs[idx], np.int8),
                                index=on_device(dev, idx, np.int64))
        g1 = host(dev, dev.peek()).reshape(-1)
        changed = g1 != g0
        for p, (hits, cells) in samples.items():
            chosen = (probs == np.float32(p)) & movable
            hits.append(changed[chosen])
            cells.append(np.flatnonzero(chosen))
        agree["sparse"].append((np.sign(g1 - g0) == signs)[changed])
        # the same request through the dense form: switched cells must move their sign's way as often
        dev.program(on_device(dev, mid_targets(dev)))
        g0 = host(dev, dev.peek()).reshape(-1)
        signs = rng.choice([-1, 1], size)
        dev.pulse_probabilistic(on_device(dev, probs.reshape(SHAPE)), on_device(dev, signs.reshape(SHAPE), np.int8))
        g1 = host(dev, dev.peek()).reshape(-1)
        agree["dense"].append((np.sign(g1 - g0) == signs)[g1 != g0])
    z = z_for(3)
    notes = []
    for p, (hits, cells) in samples.items():
        h, c = np.concatenate(hits), np.concatenate(cells)
        if h.size < 50:
            continue
        frac, se = clustered_fraction(h, c, p)
        bound = z * se + 1 / h.size
        if abs(frac - p) > bound:
            fail(f"pulse_probabilistic with a sparse unsorted index switched {frac:.3f} of the cells given p = {p:g} "
                 f"({h.size} cells; allowed +-{bound:.3f}): index[i] must pair with probabilities[i]")
        notes.append(f"p={p:g} -> {frac:.3f}")
    fractions = {form: np.concatenate(a) for form, a in agree.items()}
    if min(a.size for a in fractions.values()) >= 50:
        fs, fd = (float(fractions[f].mean()) for f in ("sparse", "dense"))
        spread = math.sqrt(fs * (1 - fs) / fractions["sparse"].size + fd * (1 - fd) / fractions["dense"].size)
        bound = z * max(spread, 1 / fractions["sparse"].size) + 2 / fractions["sparse"].size
        if abs(fs - fd) > bound:
            fail(f"pulse_probabilistic with a sparse unsorted index moved {fs:.1%} of the switched cells their sign's "
                 f"way, against {fd:.1%} for the dense form (allowed difference {bound:.1%}): index[i] must pair "
                 "with signs[i]")
    return "sparse probabilistic: " + ", ".join(notes)


def _counts(dev):
    settle(dev.xp, [dev.counters])  # totals a GPU keeps pending (verify reads) come to the host
    c = dev.counters
    return {
        "pulses": host(dev, c.pulses).astype(np.int64),
        "writes": host(dev, c.writes).astype(np.int64),
        "cell_reads": int(c.cell_reads),
        "products": int(c.products),
        "events": int(c.events),
        "pulse_total": int(c.pulse_total),
        "energy": {k: float(v) for k, v in c.energy_j.items()},
    }


def _close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-30)


@check("counters_on_every_form")
def counters_on_every_form(target):
    """On every write form (dense and sparse update and pulse, program, masked program, probabilistic
    pulses, drift) and every read, counters, running totals and energy agree with each other and
    with what was applied; energy goes to the right category in joules."""
    spec = target.spec
    jp, jr = spec.energy_per_pulse_j, spec.energy_per_read_j
    dev = target.make(key=122, shape=SHAPE)
    cells = SHAPE[0] * SHAPE[1]
    for name, op in operations(spec, SHAPE, target.device_seed(122)):
        before = _counts(dev)
        g0 = host(dev, dev.peek())
        result = op(dev)
        after = _counts(dev)
        dp = after["pulses"] - before["pulses"]
        dw = after["writes"] - before["writes"]
        reads = after["cell_reads"] - before["cell_reads"]
        de = {k: after["energy"].get(k, 0.0) - before["energy"].get(k, 0.0) for k in after["energy"]}
        where = f"{name}"
        if (dp < 0).any() or (dw < 0).any():
            fail(f"{where}: per-cell pulse or write counters went down")
        if ((dp > 0) & (dw != 1)).any() or (dw > 1).any():
            fail(f"{where}: a cell that was pulsed must count exactly one write event per call "
                 f"({int(((dp > 0) & (dw != 1)).sum())} cells do not)")
        if after["events"] - before["events"] != int(dw.sum()):
            fail(f"{where}: counters.events rose by {after['events'] - before['events']} but the per-cell "
                 f"write counters by {int(dw.sum())}; update both in _count_writes")
        if after["pulse_total"] - before["pulse_total"] != int(dp.sum()):
            fail(f"{where}: counters.pulse_total rose by {after['pulse_total'] - before['pulse_total']} but the "
                 f"per-cell pulse counters by {int(dp.sum())}; update both in _count_writes")
        got = sum(de.values())
        ok, low, high = energy_agrees(got, float(dp.sum()), reads, spec)
        want = low if got < low else high
        if not ok:
            ratio = got / want if want else math.inf
            fail(f"{where}: energy rose by {got:.4g} J but {int(dp.sum())} pulses x energy_per_pulse_j "
                 f"({jp:g} J; SET/RESET energies where declared) + {reads} cell reads x energy_per_read_j ({jr:g} J) "
                 f"= {want:.4g} J ({ratio:.3g} x too {'much' if ratio > 1 else 'little'}); energy is counted in joules")
        if name.startswith("verify"):  # a verify read: cell reads booked as 'verify', nothing written
            if reads <= 0 or (dp != 0).any() or (dw != 0).any() or de.get("read", 0.0) != 0.0 \
                    or not _close(de.get("verify", 0.0), reads * jr) or after["products"] != before["products"]:
                fail(f"{where}: a verify read must count its cell reads, book reads x energy_per_read_j under "
                     f"energy_j['verify'] and write nothing; counted {reads} reads, {de.get('verify', 0.0):.4g} J "
                     f"as 'verify', {de.get('read', 0.0):.4g} J as 'read', {int(dp.sum())} pulses, "
                     f"{after['products'] - before['products']} products")
            continue
        if name.startswith(("read", "forward", "backward")):
            batch = 1 if name == "read" or result.ndim == 1 else result.shape[0]
            if reads != batch * cells or (dp != 0).any() or not _close(de.get("read", 0.0), reads * jr):
                fail(f"{where}: expected {batch} x {cells} cell reads, read energy {batch * cells * jr:.4g} J and no "
                     f"pulses; counted {reads} reads, {de.get('read', 0.0):.4g} J, {int(dp.sum())} pulses")
            if name != "read" and after["products"] - before["products"] != batch:
                fail(f"{where}: a product of {batch} vectors must count {batch} products, counted "
                     f"{after['products'] - before['products']}")
            continue
        if name.startswith("drift"):
            if dp.any() or dw.any() or reads or any(de.values()):
                fail(f"{where}: drift counted pulses, writes, reads or energy; relaxation is not an operation")
            continue
        category = "program" if name.startswith("program") else "write"
        pulse_part = got - reads * jr
        if not _close(de.get(category, 0.0), pulse_part + (reads * jr if category == "program" else 0.0)):
            fail(f"{where}: its energy ({got:.4g} J) must go to energy_j[{category!r}], which rose by "
                 f"{de.get(category, 0.0):.4g} J")
        if name.startswith("program"):
            n = int(round(spec.program_pulses))
            chosen = dw > 0
            expected_cells = cells if name == "program" else None
            if expected_cells is not None and int(chosen.sum()) != cells:
                fail(f"{where}: program() without a mask must count one write on every cell, counted {int(chosen.sum())}")
            if (dp[chosen] != n).any():
                fail(f"{where}: each programmed cell must count program_pulses = {n} pulses, counted "
                     f"{sorted(set(dp[chosen].tolist()))[:5]}")
            if reads != n * int(chosen.sum()):
                fail(f"{where}: write-verify of {int(chosen.sum())} cells x {n} verify reads counted {reads} cell reads")
            continue
        idle = (dw > 0) & (dp == 0)
        if idle.any():
            fail(f"{where}: counted a write event on {int(idle.sum())} cells given 0 pulses; a cell given no "
                 "pulse is not written (book only the cells whose count is > 0 in _count_writes)")
        moved = host(dev, dev.peek()) != g0
        if (moved & (dw == 0)).any():
            fail(f"{where}: {int((moved & (dw == 0)).sum())} cells changed without a counted write")
        if reads:
            fail(f"{where}: a write counted {reads} cell reads")
    return "every form consistent"


ANALOG_BINS = (0.1, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)  # request sizes, declared steps


def _analog_writes_realise_requests(target, dev, rng) -> str:
    """An analog write realises the request itself, not a whole number of steps: in every bin of
    request sizes the mean change is the mean request (rounding would miss by a quarter step)."""
    spec = target.spec
    ftol = float32_tolerance(max(abs(spec.g_min_us), abs(spec.g_max_us)))
    f_all, err_all = [], []
    for _ in range(4):
        dev.program(on_device(dev, mid_targets(dev)))
        g0 = host(dev, dev.peek()).astype(np.float64)
        direction = rng.choice([-1, 1], SHAPE)
        f = rng.uniform(ANALOG_BINS[0], ANALOG_BINS[-1], SHAPE)
        dev.update(on_device(dev, (direction * f * spec.step_us).astype(np.float32)))
        f_all.append(f.reshape(-1))
        err_all.append((direction * (host(dev, dev.peek()).astype(np.float64) - g0) - f * spec.step_us).reshape(-1))
    f, err = np.concatenate(f_all), np.concatenate(err_all)
    z = z_for(len(ANALOG_BINS) - 1)
    for low, high in zip(ANALOG_BINS[:-1], ANALOG_BINS[1:]):
        sel = (f >= low) & (f < high)
        bias, se = mean_and_se(err[sel])
        if abs(bias) > z * se + ftol:
            fail(f"update() on an analog-write device: requests of {low:g}-{high:g} declared steps change cells by "
                 f"{bias / spec.step_us:+.3f} steps more than asked on average ({sigmas(bias, se)} over "
                 f"{int(sel.sum())} writes): an analog write realises the request itself (plus zero-mean noise), "
                 "not a whole number of steps; fix _update")
    return "analog-write: one event per requested cell, requests realised without bias"


@check("update_rounding_rule")
def update_rounding_rule(target):
    """A pulsed device realises update(delta) as the nearest whole number of declared steps (capped
    by max_update_pulses): 0.3 steps writes nothing, 1.4 steps one pulse, 2.6 steps three."""
    spec = target.spec
    if spec.has(ANALOG_WRITE):
        dev = target.make(key=123, shape=SHAPE)
        rng = _rng(target, 123)
        dev.program(on_device(dev, mid_targets(dev)))
        request = (rng.choice([-1, 1], SHAPE) * rng.uniform(0.1, 3.0, SHAPE) * spec.step_us).astype(np.float32)
        p0 = host(dev, dev.counters.pulses)
        dev.update(on_device(dev, request))
        dp = host(dev, dev.counters.pulses) - p0
        if (dp != 1).any():
            fail(f"update() on an analog-write device must be one write event (one pulse) per requested cell; "
                 f"counted {sorted(set(dp.reshape(-1).tolist()))[:5]}")
        return _analog_writes_realise_requests(target, dev, rng)
    dev = target.make(key=123, shape=SHAPE)
    rng = _rng(target, 123)
    dev.program(on_device(dev, mid_targets(dev)))
    g0 = host(dev, dev.peek())
    direction = rng.choice([-1, 1], SHAPE)
    if spec.has(ABRUPT_RESET):  # decreases are RESET + SET pulses back (the spec says so): judge increases
        direction = np.ones(SHAPE, dtype=int)
    up, _ = declared(dev, g0, 1)
    dn, _ = declared(dev, g0, -1)
    step = np.where(direction > 0, up, dn)
    huge = 4 * spec.range_us / spec.step_us  # beyond any cap: the count is capped, not the request
    fractions = np.array([0.3, 1.4, 2.6, 0.0, huge])
    which = rng.integers(0, fractions.size, SHAPE)
    f = fractions[which]
    request = (direction * f * step).astype(np.float32)
    cap = dev.max_update_pulses()
    expected = np.where(step > 0, np.rint(f), 0)
    if cap is not None:
        expected = np.minimum(expected, cap)
    p0, w0 = host(dev, dev.counters.pulses), host(dev, dev.counters.writes)
    dev.update(on_device(dev, request))
    dp = host(dev, dev.counters.pulses) - p0
    dw = host(dev, dev.counters.writes) - w0
    g1 = host(dev, dev.peek())
    moved = g1 != g0
    for value, want in ((0.3, 0), (1.4, 1), (2.6, 3), (huge, int(expected[which == 4].max(initial=0)))):
        cells = (which == list(fractions).index(value)) & (step > 0)
        wrong = cells & (dp != expected) & (moved | (dp > 0))
        if wrong.mean() > 0.01 * max(cells.mean(), 1e-9):
            got = sorted(set(dp[wrong].tolist()))[:4]
            fail(f"update(): a request of {value:g} declared steps counted {got} pulses on {int(wrong.sum())} of "
                 f"{int(cells.sum())} cells; the rule is the nearest whole number ({want}), capped by "
                 "max_update_pulses(), and the counters count the pulses applied (see Device.pulses_for)")
    tiny = (which == 0) & (step > 0)
    if (moved[tiny]).any() or (dw[tiny] != 0).any():
        fail(f"update(): a request of 0.3 declared steps changed {int(moved[tiny].sum())} cells or counted writes; "
             "a request under half a step writes nothing")
    zero = which == 3
    if (moved[zero]).any() or (dw[zero] != 0).any():
        fail("update(): cells with a request of exactly 0 were written")
    return "nearest whole number of declared steps"
