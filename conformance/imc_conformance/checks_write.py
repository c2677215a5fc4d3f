"""Checks of writing: programming, open-loop steps and noise, untouched cells, bounds, faults."""

from __future__ import annotations

import math

import numpy as np

from imc.spec import BOUNDS, DRIFT, FAULTS, NATIVE_PROBABILISTIC

from .probes import (
    declared,
    differences,
    host,
    mid_targets,
    on_device,
    snapshot,
    stuck_cells,
    switch_us,
    windows,
)
from .registry import check, fail
from .stats import Z, binomial_bound, float32_tolerance, mean_and_se, sigmas, z_for
from .writes import judge_single_steps, measure_single_steps

SMALL_SHAPE = (24, 40)  # non-square, so a transposition or row/column mix-up shows


def _rng(target, key):
    """Seeded generator for a check's inputs (separate from the device's own stream)."""
    return np.random.default_rng(target.device_seed(1000 + key))


LADDER = 11  # program targets evenly spread over the window, both edges included
EDGE = 0.02  # the outermost rungs sit this fraction of the window inside its ends


@check("program_reaches_targets")
def program_reaches_targets(target):
    """Write-verify reaches states the cell can hold within the declared program noise, nearest-first, in the window.

    A ladder of targets across the window shows which states each cell can hold (all of
    them for an analog cell, a few levels for a multi-level one). Programming must (1) keep
    every cell inside its own window, (2) spread the ladder over the window, (3) land an
    arbitrary target no farther away than the nearest state the cell has shown, and (4)
    reach a held state again within the declared program noise: no bias beyond Z standard
    errors, RMS error within the declared program_noise_us. Cells that cannot move are
    allowed only up to the declared stuck fraction (capability "faults").
    """
    spec = target.spec
    dev = target.make(key=10)
    rng = _rng(target, 10)
    lo, hi = windows(dev)
    span = spec.range_us
    ftol = float32_tolerance(max(abs(spec.g_min_us), abs(spec.g_max_us)))
    sigma = spec.program_noise_us
    tol = (Z + 1) * sigma + ftol
    n = lo.size
    p_stuck = spec.stuck_low_prob + spec.stuck_high_prob if spec.has(FAULTS) else 0.0
    allowed = p_stuck + binomial_bound(p_stuck, n) if p_stuck > 0 else 0.0

    def program(targets, what):
        dev.program(on_device(dev, targets.astype(np.float32)))
        g = host(dev, dev.peek()).astype(np.float64)
        outside = (g < lo - ftol) | (g > hi + ftol)
        if outside.any():
            fail(f"programming {what} left {int(outside.sum())} cells outside their own window (window_at)")
        return g

    def judge_misses(miss, what, err):
        if miss.mean() > allowed:
            fail(
                f"{what}: {int(miss.sum())} of {n} cells ({miss.mean():.2%}) missed by more than {Z + 1:g} x "
                f"program_noise_us = {tol:.4g} uS (worst {float(np.abs(err).max()):.4g} uS); allowed fraction "
                f"{allowed:.2%} (declared stuck cells)"
                + ("" if spec.has(FAULTS) else "; cells that cannot move must be declared (capability 'faults' with "
                   "stuck_low_prob / stuck_high_prob)")
            )

    rungs = np.linspace(spec.g_min_us + EDGE * span, spec.g_max_us - EDGE * span, LADDER)
    held = np.stack([program(np.full(dev.shape, t), f"to {t:.4g} uS") for t in rungs])
    # (2) the ladder spreads over the window
    reach_lo, reach_hi = np.clip(rungs[0], lo, hi), np.clip(rungs[-1], lo, hi)
    narrow = held[-1] - held[0] < 0.5 * (reach_hi - reach_lo) - tol
    judge_misses(narrow, "programming from the low to the high end of the window", held[-1] - held[0])
    # (3) arbitrary targets land on the nearest state the cell can hold
    targets = rng.uniform(rungs[0], rungs[-1], dev.shape)
    reach = np.clip(targets, lo, hi)
    got = program(targets, "random targets")
    nearest = np.abs(held - reach[None]).min(axis=0)
    err = np.abs(got - reach)
    judge_misses(err > nearest + tol, "random targets (compared with the nearest state the cell holds)", err)
    # (4) a state the cell held is reached again within the declared program noise
    inside = (held >= spec.g_min_us) & (held <= spec.g_max_us)
    choice = np.where(inside, rng.random(held.shape), -1.0).argmax(axis=0)
    usable = inside.any(axis=0)
    again = np.take_along_axis(held, choice[None], axis=0)[0]
    # a cell whose own window lies outside the spec window held no usable state: it is programmed to
    # the spec-window point nearest its window (programming accepts only spec-window targets) and
    # is not judged
    again = np.where(usable, again, np.clip(reach, spec.g_min_us, spec.g_max_us))
    got = program(again, "to states the cells held before")
    err = got - again
    miss = (np.abs(err) > tol) & usable
    judge_misses(miss, "returning to held states", err[usable])
    interior = usable & ~miss & (again - lo > tol) & (hi - again > tol)
    flat = held.reshape(LADDER, -1)
    levels = np.mean([np.unique(flat[:, c]).size for c in range(0, n, max(n // 64, 1))])
    if interior.sum() < 2:  # every held state sits on a bound (a binary cell): misses were checked above
        return f"held states all on the bounds; ~{levels:.0f} distinct states over {LADDER} rungs"
    bias, se = mean_and_se(err[interior])
    if abs(bias) > Z * se + ftol:
        fail(f"programming is biased by {bias:+.4g} uS ({sigmas(bias, se)}; allowed {Z:g})")
    rms = float(np.sqrt(np.mean(err[interior] ** 2)))
    allowed_rms = sigma * (1 + Z / math.sqrt(2 * max(int(interior.sum()), 1))) + ftol
    if rms > allowed_rms:
        fail(
            f"programming error RMS {rms:.4g} uS exceeds the declared program_noise_us {sigma:.4g} uS "
            f"(allowed {allowed_rms:.4g} uS for {int(interior.sum())} cells)"
        )
    # (5) the masked form reaches held states like the whole-array form (from elsewhere in the window)
    half = rng.random(dev.shape) < 0.5
    program(targets, "random targets")
    dev.program(on_device(dev, again.astype(np.float32)), mask=on_device(dev, half, bool))
    err_mask = (host(dev, dev.peek()).astype(np.float64) - again)[half & interior]
    if err_mask.size >= 30:
        rms_mask = float(np.sqrt(np.mean(err_mask**2)))
        allowed_mask = sigma * (1 + Z / math.sqrt(2 * err_mask.size)) + ftol
        if rms_mask > allowed_mask or abs(float(err_mask.mean())) > Z * mean_and_se(err_mask)[1] + ftol:
            fail(f"program(mask) lands with error RMS {rms_mask:.4g} uS (mean {float(err_mask.mean()):+.4g} uS) on "
                 f"{err_mask.size} cells, against the declared program_noise_us {sigma:.4g} uS (allowed RMS "
                 f"{allowed_mask:.4g} uS; the whole-array program() gave {rms:.4g} uS): fix _program for masked writes")
    if levels >= LADDER - 1:  # an analog cell: the edge rungs themselves must be reached without bias
        for k, word in ((0, "low"), (-1, "high")):
            margin = 3 * sigma + ftol  # clipping at the cell's bound biases the mean by < 1e-3 sigma
            inside = (rungs[k] - lo > margin) & (hi - rungs[k] > margin) & (np.abs(held[k] - rungs[k]) <= tol)
            if inside.sum() < 30:
                continue
            edge_err = held[k][inside] - rungs[k]
            bias, se = mean_and_se(edge_err)
            if abs(bias) > z_for(2) * se + ftol + 0.1 * sigma:
                fail(f"programming to {rungs[k]:.4g} uS near the {word} end of the window is biased by {bias:+.4g} uS "
                     f"({sigmas(bias, se)} over {int(inside.sum())} cells; "
                     f"program_noise_us is {sigma:.4g} uS): fix _program near the window's {word} end")
    return f"RMS error {rms:.3g} uS vs declared {sigma:.3g} uS; ~{levels:.0f} distinct states over {LADDER} rungs"


@check("update_step_and_noise")
def update_step_and_noise(target):
    """update(+-declared step) moves the requested way with the declared mean step and write noise."""
    return judge_single_steps(measure_single_steps(target, 11, "update"), target.spec, "update")


@check("pulse_step_and_noise")
def pulse_step_and_noise(target):
    """One pulse moves the requested way with the declared mean step and write noise."""
    return judge_single_steps(measure_single_steps(target, 12, "pulse"), target.spec, "pulse")


def _unchanged_outside(dev, before_g, before_pulses, before_writes, selected, what):
    g = host(dev, dev.peek())
    keep = ~selected
    bits = g.view(np.uint32)[keep] != before_g.view(np.uint32)[keep]
    if bits.any():
        worst = float(np.abs(g[keep] - before_g[keep]).max())
        fail(f"{what} changed {int(bits.sum())} unselected cells (largest change {worst:.3g} uS); they must stay bit-identical")
    for name, before in (("pulses", before_pulses), ("writes", before_writes)):
        now = host(dev, getattr(dev.counters, name))
        if (now[keep] != before[keep]).any():
            fail(f"{what} counted {name} on {int((now[keep] != before[keep]).sum())} unselected cells")
    return g


@check("untouched_cells_unchanged")
def untouched_cells_unchanged(target):
    """Dense, sparse, pulse, program(mask) and probabilistic writes leave unselected cells bit-identical."""
    dev = target.make(key=20, shape=SMALL_SHAPE)
    rng = _rng(target, 20)
    dev.program(on_device(dev, mid_targets(dev)))
    size = SMALL_SHAPE[0] * SMALL_SHAPE[1]

    def state():
        return host(dev, dev.peek()), host(dev, dev.counters.pulses), host(dev, dev.counters.writes)

    def selection(fraction):
        return rng.random(SMALL_SHAPE) < fraction

    def steps(g, sel, k=3):
        direction = rng.choice([-1, 1], SMALL_SHAPE)
        up, _ = declared(dev, g, 1)
        dn, _ = declared(dev, g, -1)
        size_us = np.where(direction > 0, up, dn) * rng.integers(1, k + 1, SMALL_SHAPE)
        return np.where(sel, direction * np.maximum(size_us, 1e-3 * target.spec.step_us), 0).astype(np.float32)

    moved_any = 0
    # dense update
    g, p, w = state()
    sel = selection(0.3)
    dev.update(on_device(dev, steps(g, sel)))
    moved_any += int((_unchanged_outside(dev, g, p, w, sel, "update (dense)") != g).sum())
    # sparse update, indices in random order
    g, p, w = state()
    idx = rng.permutation(size)[: size // 5]
    sel = np.zeros(size, bool)
    sel[idx] = True
    sel = sel.reshape(SMALL_SHAPE)
    values = steps(g, np.ones(SMALL_SHAPE, bool)).reshape(-1)[idx]
    dev.update(on_device(dev, values), index=on_device(dev, idx, np.int64))
    moved_any += int((_unchanged_outside(dev, g, p, w, sel, "update (sparse index)") != g).sum())
    # dense pulses with zero counts off the selection
    g, p, w = state()
    sel = selection(0.3)
    counts = np.where(sel, rng.integers(1, 4, SMALL_SHAPE), 0)
    signs = rng.choice([-1, 1], SMALL_SHAPE)
    dev.pulse(on_device(dev, counts, np.int64), on_device(dev, signs, np.int8))
    moved_any += int((_unchanged_outside(dev, g, p, w, sel, "pulse (dense)") != g).sum())
    # sparse pulses
    g, p, w = state()
    idx = rng.permutation(size)[: size // 7]
    sel = np.zeros(size, bool)
    sel[idx] = True
    dev.pulse(on_device(dev, np.ones(idx.size), np.int64), on_device(dev, rng.choice([-1, 1], idx.size), np.int8),
              index=on_device(dev, idx, np.int64))
    moved_any += int((_unchanged_outside(dev, g, p, w, sel.reshape(SMALL_SHAPE), "pulse (sparse index)") != g).sum())
    # program with a mask
    g, p, w = state()
    sel = selection(0.4)
    dev.program(on_device(dev, mid_targets(dev)), mask=on_device(dev, sel, bool))
    _unchanged_outside(dev, g, p, w, sel, "program(mask)")
    if target.spec.has(NATIVE_PROBABILISTIC):
        g, p, w = state()
        sel = selection(0.3)
        probs = np.where(sel, 0.5, 0.0).astype(np.float32)
        dev.pulse_probabilistic(on_device(dev, probs), on_device(dev, rng.choice([-1, 1], SMALL_SHAPE), np.int8))
        _unchanged_outside(dev, g, p, w, sel, "pulse_probabilistic (p = 0 cells)")
    if moved_any == 0:
        fail("no selected cell changed in any write: the writes did nothing, so untouched cells prove nothing")


@check("stays_in_window", requires=BOUNDS)
def stays_in_window(target):
    """Long pulse trains and oversized requests never take a cell outside its declared window."""
    spec = target.spec
    dev = target.make(key=30, shape=SMALL_SHAPE)
    lo, hi = windows(dev)
    ftol = float32_tolerance(max(abs(spec.g_min_us), abs(spec.g_max_us)))
    many = math.ceil(2 * spec.range_us / spec.step_us)
    ones = np.ones(SMALL_SHAPE)
    ops = (
        (f"{many} pulses up", lambda: dev.pulse(on_device(dev, ones * many, np.int64), 1)),
        (f"{many} pulses down", lambda: dev.pulse(on_device(dev, ones * many, np.int64), -1)),
        ("update(+2 x window)", lambda: dev.update(on_device(dev, ones * 2 * spec.range_us))),
        ("update(-2 x window)", lambda: dev.update(on_device(dev, ones * -2 * spec.range_us))),
        ("program(g_max_us)", lambda: dev.program(on_device(dev, ones * spec.g_max_us))),
        ("program(g_min_us)", lambda: dev.program(on_device(dev, ones * spec.g_min_us))),
    )
    for what, op in ops:
        op()
        g = host(dev, dev.peek()).astype(np.float64)
        above, below = g > hi + ftol, g < lo - ftol
        if above.any() or below.any():
            worst = float(max((g - hi).max(), (lo - g).max()))
            fail(
                f"after {what}, {int(above.sum())} cells are above and {int(below.sum())} below their own "
                f"window (window_at); worst by {worst:.4g} uS"
            )


@check("faults_match_declaration", requires=FAULTS)
def faults_match_declaration(target):
    """The fraction of stuck cells matches the declared stuck-low and stuck-high rates."""
    spec = target.spec
    dev = target.make(key=40)
    lo, hi = windows(dev)
    dev.program(on_device(dev, mid_targets(dev)))
    start = host(dev, dev.peek())
    stuck = stuck_cells(dev)
    n = stuck.size
    for what, cells, p in (
        ("stuck low", stuck & (np.abs(start - lo) <= np.abs(start - hi)), spec.stuck_low_prob),
        ("stuck high", stuck & (np.abs(start - lo) > np.abs(start - hi)), spec.stuck_high_prob),
    ):
        frac = float(cells.mean())
        if abs(frac - p) > binomial_bound(p, n):
            fail(
                f"{frac:.2%} of cells are {what} (never moved, nearer that bound) but the spec declares "
                f"{p:.2%} (allowed +-{binomial_bound(p, n):.2%} for {n} cells)"
            )
    return f"{stuck.mean():.2%} stuck vs declared {spec.stuck_low_prob + spec.stuck_high_prob:.2%}"


@check("native_probabilistic_switching", requires=NATIVE_PROBABILISTIC)
def native_probabilistic_switching(target):
    """pulse_probabilistic(p) moves cells by p x one switch on average; p = 0 cells are untouched.

    One switch is ``spec.level_us`` when the spec declares it (e.g. one MTJ flip), else the
    declared step: the size imc's EaPU rule assumes when it hands the coin flip to the cell.
    """
    dev = target.make(key=50)
    rng = _rng(target, 50)
    dev.program(on_device(dev, mid_targets(dev)))
    g0 = host(dev, dev.peek())
    levels = np.array([0.0, 0.25, 0.5, 1.0])
    probs = levels[rng.integers(0, levels.size, dev.shape)].astype(np.float32)
    signs = rng.choice([-1, 1], dev.shape)
    step = np.where(signs > 0, switch_us(dev, g0, 1), switch_us(dev, g0, -1))
    # a cell that cannot move that way (declared step 0, e.g. a junction already switched) is not counted
    movable = np.where(signs > 0, declared(dev, g0, 1)[0], declared(dev, g0, -1)[0]) > 0
    dev.pulse_probabilistic(on_device(dev, probs), on_device(dev, signs, np.int8))
    moved = signs * (host(dev, dev.peek()).astype(np.float64) - g0)
    ftol = float32_tolerance(float(np.abs(g0).max()))
    zero = probs == 0
    if (host(dev, dev.peek())[zero] != g0[zero]).any():
        fail("pulse_probabilistic changed cells whose probability was 0")
    notes = []
    for p in levels[1:]:
        cells = (probs == p) & movable
        expected = p * step[cells]
        bias, se = mean_and_se(moved[cells] - expected)
        if abs(bias) > Z * se + ftol:
            fail(
                f"at p = {p:g} cells moved {float(moved[cells].mean()):.4g} uS on average, expected p x one "
                f"switch = {float(expected.mean()):.4g} uS ({sigmas(bias, se)}; allowed {Z:g})"
            )
        notes.append(f"p={p:g}: {float(moved[cells].mean()):.3g} vs {float(expected.mean()):.3g} uS")
    return "; ".join(notes)


@check("drift_keeps_state_valid", requires=DRIFT)
def drift_keeps_state_valid(target):
    """drift(seconds) keeps states finite and in the window, counts no pulses, and rejects bad times."""
    spec = target.spec
    dev = target.make(key=60, shape=SMALL_SHAPE)
    dev.program(on_device(dev, mid_targets(dev)))
    for bad in (-1.0, float("nan"), float("inf")):
        before = snapshot(dev)
        try:
            dev.drift(bad)
        except (ValueError, TypeError):
            pass
        else:
            fail(f"drift({bad!r}) was accepted; it must raise ValueError")
        changed = differences(before, snapshot(dev))
        if changed:
            fail(f"the rejected drift({bad!r}) changed {changed}")
    pulses = host(dev, dev.counters.pulses)
    lo, hi = windows(dev)
    ftol = float32_tolerance(max(abs(spec.g_min_us), abs(spec.g_max_us)))
    for seconds in (1.0, 1e3, 1e8):
        dev.drift(seconds)
        g = host(dev, dev.peek()).astype(np.float64)
        if not np.isfinite(g).all():
            fail(f"drift({seconds:g} s) produced non-finite conductances")
        if spec.has(BOUNDS) and ((g < lo - ftol) | (g > hi + ftol)).any():
            fail(f"drift({seconds:g} s) took cells outside their window")
    if (host(dev, dev.counters.pulses) != pulses).any():
        fail("drift counted write pulses; relaxation is not a write")
    # from any state: both ends of every cell's window, then a long relaxation
    for word, ends in (("low", lo), ("high", hi)):
        edge = np.clip(np.where(np.isfinite(ends), ends, spec.g_min_us if word == "low" else spec.g_max_us),
                       spec.g_min_us, spec.g_max_us).astype(np.float32)
        dev.program(on_device(dev, edge))
        before = dev.state()
        counters = (dev.counters.cell_reads, dev.counters.products, dict(dev.counters.energy_j))
        for seconds in (10.0, 1e6):
            dev.drift(seconds)
        g = host(dev, dev.peek()).astype(np.float64)
        if spec.has(BOUNDS) and ((g < lo - ftol) | (g > hi + ftol)).any():
            fail(f"drift from the {word} end of the window took {int(((g < lo - ftol) | (g > hi + ftol)).sum())} "
                 "cells outside their window (window_at)")
        after = dev.state()
        for key in ("pulses", "writes"):
            if not np.array_equal(before[key], after[key]):
                fail(f"drift changed the {key} counters; relaxation is not a write")
        if counters != (dev.counters.cell_reads, dev.counters.products, dict(dev.counters.energy_j)):
            fail("drift counted reads, products or energy; relaxation is free")
