""""eapu": the error-aware probabilistic update (Liu et al., Nat. Commun. 2025; see docs/training.md).

For every weight, with ``dG = dW / R_wg`` (uS) and threshold ``dG_th``:

- ``|dG| >= dG_th``: the change is written as proposed;
- otherwise, with probability ``p = |dG| / dG_th``, one fixed change ``sign(dG) * dG_th``
  is written; with probability ``1 - p`` the cell is not touched.

Nothing accumulates skipped updates. ``dG_th = k * declared write noise`` of the device
(at mid-window; the declared step when a device declares no noise), or ``threshold_us``
when given. On a pulsed device (no "analog-write" capability) dG_th is at least one
declared step: the fixed change is then a whole pulse, which the device's nearest-count
rounding would otherwise drop (FeFET and MRAM declare a write noise below their step). The decision is fused: one uniform draw ``u`` per weight and one comparison
``|dW| > u * dG_th * R_wg`` selects exactly the cells written with probability
``min(1, |dG| / dG_th)``; only those are gathered and sent to ``device.update`` in the
sparse ``index`` form.

On the CPU, matrices of ``BYTES_MIN`` to ``SPARSE_MIN`` weights take that uniform as a random
byte plus a refinement drawn only where the byte cannot decide (:meth:`EaPURule._decide_bytes`):
the same probabilities from a quarter of the random bits.

On large matrices (``SPARSE_MIN`` weights or more) the same probabilities are realised by
thinning, so an untouched cell costs one comparison and no random number: cells with
``p > q`` (``q = CANDIDATE_RATE``) get their own uniform draw as above; every other cell
becomes a candidate with probability ``q`` (positions from geometric gaps) and a
candidate is written with probability ``p / q``. Each cell is still selected
independently with probability ``p``; only the random stream differs from the dense form.

On a device with native probabilistic switching (capability "native-probabilistic",
e.g. MRAM) and ``native=True``, the coin flip is left to the cell: the fixed change
is one effective switch ``L`` (``tile.switch_us()``, MRAM: one junction flip), so cells
with ``|dG| < L`` get one ``pulse_probabilistic`` with ``p = |dG| / L`` and larger
changes are written with ``device.update``. The threshold there is ``L``: a binary
junction cannot write a smaller fixed change. Off by default: every cell with a nonzero
proposal then receives a pulse (costing write energy and wear even when it does not
switch), so the digital coin flip writes far fewer cells.
"""

from __future__ import annotations

import numpy as np

from imc.spec import ANALOG_WRITE

from .base import UpdateRule, check_number

#: matrices with at least this many weights use the thinned decision (fewer random numbers)
SPARSE_MIN = 1 << 16
#: from this many weights (below SPARSE_MIN) the CPU decision starts from one random byte per
#: weight; below it a float32 uniform per weight costs about the same (4096 weights: 11 vs 11 us)
BYTES_MIN = 1 << 13
#: candidate rate q of the thinned decision; cells with p > q are decided one by one
CANDIDATE_RATE = 1.0 / 32
#: above this fraction of cells with p > q the dense decision is cheaper
DENSE_FALLBACK = 0.25
#: cells per block when scanning for p > q on the CPU (1 MiB of float32 stays in cache)
BLOCK = 1 << 18


class EaPURule(UpdateRule):
    name = "eapu"
    flops_per_weight = 4

    def __init__(self, k: float = 1.0, threshold_us: float | None = None, native: bool = False):
        super().__init__()
        self.k = check_number("k", k)
        self.threshold_us = None if threshold_us is None else check_number("threshold_us", threshold_us)
        if native not in (True, False):
            raise ValueError(f"native must be True or False, got {native!r}")
        self.native = native

    def params(self) -> dict:
        return {"k": self.k, "threshold_us": self.threshold_us, "native": self.native}

    def attach(self, model, compute) -> None:
        """Bind to ``model``; with ``native=True`` every analog matrix must switch natively."""
        super().attach(model, compute)
        lacking = [t for t in model.tiles() if not t.native_probabilistic] if self.native else []
        if lacking:
            raise ValueError(f"eapu native=True needs a native-probabilistic device; {lacking[0].spec.name} is not: "
                             "use a device with native probabilistic switching (e.g. mram) or native=False")

    def threshold(self, tile) -> float:
        """dG_th in uS for this matrix."""
        if self.threshold_us is not None:
            return self.threshold_us
        noise = tile.write_noise_us()
        threshold = self.k * (noise if noise > 0 else tile.step_us())
        if not tile.spec.has(ANALOG_WRITE):
            # a pulsed device cannot write a fixed change smaller than one pulse: below that,
            # device.update would round the fixed change to zero pulses (FeFET, MRAM: sigma < step)
            threshold = max(threshold, tile.step_us())
        return threshold

    def apply(self, name, tile, delta_w):
        if self.native and tile.native_probabilistic:
            return self._apply_native(tile, delta_w)
        if self.native:
            raise ValueError(f"eapu native=True needs a native-probabilistic device; {tile.spec.name} is not")
        xp = self.xp
        r, th = self._constants(tile)
        if self.dense:  # a mask, no index: nothing waits for the device
            u = self.compute.uniform(delta_w.shape)
            u *= th * r
            dg = delta_w / r
            dg = xp.where(xp.abs(delta_w) > u, xp.where(xp.abs(dg) < th, xp.where(dg > 0, th, -th), dg), np.float32(0))
            return tile.update(None, dg.astype(np.float32, copy=False), checked=True)
        flat = delta_w.reshape(-1)
        index = self._decide(flat, th * r)  # selected with probability min(1, |dG| / dG_th)
        dg = flat[index] / r  # never 0: a selected cell has |dW| > u * limit >= 0
        fixed = xp.abs(dg)
        xp.maximum(fixed, th, out=fixed)  # |dG| < dG_th: the fixed change dG_th ...
        xp.copysign(fixed, dg, out=fixed)  # ... in the proposal's direction; otherwise dG itself
        return tile.update(index, fixed, checked=True)

    def _constants(self, tile):
        """(r_wg_per_us, dG_th) of ``tile`` as float32, worked out once per matrix and settings."""
        memo = self.__dict__.setdefault("_memo", {})
        key = (tile, tile.r_wg_per_us, self.k, self.threshold_us)
        hit = memo.get(id(tile))
        if hit is None or hit[0][0] is not tile or hit[0][1:] != key[1:]:
            hit = memo[id(tile)] = (key, np.float32(tile.r_wg_per_us), np.float32(self.threshold(tile)))
        return hit[1], hit[2]

    def _decide(self, flat, limit):
        """Sorted flat indices, each selected independently with probability min(1, |d| / limit)."""
        xp = self.xp
        if flat.size < SPARSE_MIN:
            if self.compute.is_gpu:
                u = self.compute.uniform(flat.shape)
                u *= limit  # threshold in weight units times u ~ U[0, 1)
                return xp.flatnonzero(xp.abs(flat) > u)
            if flat.size >= BYTES_MIN:
                return self._decide_bytes(flat, limit)
            u, mag, hit = self._buffers(flat.size)  # the same draws, into buffers kept between steps
            self.compute.rng.random(dtype=np.float32, out=u)
            u *= limit
            xp.abs(flat, out=mag)
            return xp.flatnonzero(xp.greater(mag, u, out=hit))
        q = np.float32(CANDIDATE_RATE)
        t = q * limit
        big = self._above(flat, t)
        if big.size > DENSE_FALLBACK * flat.size:
            u = self.compute.uniform(flat.shape)
            u *= limit
            return xp.flatnonzero(xp.abs(flat) > u)
        u = self.compute.uniform(big.shape)
        u *= limit  # p > q: one uniform each, as in the dense form
        chosen_big = big[xp.abs(flat[big]) > u]
        cand = self._candidates(flat.size, CANDIDATE_RATE)  # each cell with probability q
        ac = xp.abs(flat[cand])
        v = self.compute.uniform(cand.shape)
        v *= t
        chosen_small = cand[(ac <= t) & (ac > v)]  # accepted with probability p / q
        return xp.sort(xp.concatenate([chosen_big, chosen_small]), kind="stable")  # merges two sorted runs

    def _decide_bytes(self, flat, limit):
        """:meth:`_decide` from one random byte per cell, refined only where the byte cannot decide (CPU).

        The dense form's uniform is taken as ``u = (v + w) / 256``: ``v`` a random byte, ``w``
        uniform in [0, 1). A cell is written when ``k = 256 |d| / limit > v + w``: never where
        ``k <= v``, always where ``k >= v + 1``, and otherwise when ``w < k - v``; ``w`` is drawn
        only for the cells with ``k > v``. The probabilities are those of the float draw
        (``min(1, |d| / limit)``, at a finer resolution), from 8 random bits per cell instead
        of 32; only the random stream differs."""
        xp = self.xp
        n = flat.size
        _, k, hit = self._buffers(n)
        v = self.compute.rng.bit_generator.random_raw(-(-n // 8)).view(np.uint8)[:n]
        xp.multiply(xp.abs(flat, out=k), np.float32(256) / limit, out=k)
        cand = xp.flatnonzero(xp.greater(k, v, out=hit))
        frac = k[cand]
        frac -= v[cand]
        return cand[self.compute.rng.random(cand.size, dtype=np.float32) < frac]

    def _buffers(self, n: int):
        """(uniforms, magnitudes, mask) work buffers of ``n`` cells, kept per size (CPU path)."""
        bufs = self.__dict__.setdefault("_work", {})
        if n not in bufs:
            xp = self.xp
            bufs[n] = (xp.empty(n, dtype=np.float32), xp.empty(n, dtype=np.float32), xp.empty(n, dtype=bool))
        return bufs[n]

    def _above(self, flat, t):
        """Flat indices where |d| > t: one comparison per cell, in cache-sized blocks on the CPU."""
        xp = self.xp
        if self.compute.is_gpu or flat.size <= BLOCK:
            return xp.flatnonzero(xp.abs(flat) > t)
        buf, hit = xp.empty(BLOCK, dtype=flat.dtype), xp.empty(BLOCK, dtype=bool)
        parts = []
        for start in range(0, flat.size, BLOCK):
            block = flat[start : start + BLOCK]
            n = block.size
            xp.greater(xp.abs(block, out=buf[:n]), t, out=hit[:n])
            parts.append(xp.flatnonzero(hit[:n]) + start)
        return xp.concatenate(parts)

    def _candidates(self, n: int, q: float):
        """Positions of independent Bernoulli(q) successes in range(n), from geometric gaps."""
        xp = self.xp
        expect = n * q
        parts, end = [], -1
        while end < n - 1:
            gaps = self.compute.rng.geometric(q, size=int(expect + 6 * expect**0.5 + 16))
            pos = xp.cumsum(gaps) + end
            parts.append(pos)
            end = int(pos[-1])
            expect = max((n - 1 - end) * q, 16.0)
        pos = xp.concatenate(parts) if len(parts) > 1 else parts[0]
        return pos[pos < n]

    def _apply_native(self, tile, delta_w):
        xp = self.xp
        r = np.float32(tile.r_wg_per_us)
        step = np.float32(tile.switch_us())
        dg = delta_w.reshape(-1) / r
        mag = xp.abs(dg)
        big = xp.flatnonzero(mag >= step)
        small = xp.flatnonzero((mag > 0) & (mag < step))
        stats = tile.update(big, dg[big], checked=True)
        signs = xp.where(dg[small] > 0, 1, -1).astype(xp.int8)
        stats += tile.pulse_probabilistic(small, mag[small] / step, signs)
        return stats
