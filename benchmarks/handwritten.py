"""Hand-written numpy training steps of the digits networks: the floors of B6 and B7, and
the EaPU step that bounds B1 (:class:`EaPUMLPStep`).

Each is the same network, loss and plain SGD update as imc's models ("mlp": 64-hidden-10
ReLU; "cnn": conv3x3 pad 1 (1->c1) ReLU, conv3x3 stride 2 pad 1 (c1->c2) ReLU, flatten,
linear -> 10), written directly in numpy the way one would without a framework: float32,
im2col by kernel offsets into one preallocated buffer, col2im as its adjoint, the loss
read back as a Python float every step. No validation, no bookkeeping.
"""

from __future__ import annotations

import numpy as np


def _init(rng, n_in, n_out):
    bound = np.float32(1.0 / np.sqrt(n_in))
    return ((rng.random((n_in, n_out), dtype=np.float32) * 2 - 1) * bound,
            (rng.random(n_out, dtype=np.float32) * 2 - 1) * bound)


def _softmax_ce(z, y):
    """(loss, d loss / d z) of the batch-mean softmax cross-entropy."""
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = float(-np.log(p[rows, y]).mean())
    p[rows, y] -= 1
    p *= np.float32(1.0 / len(y))
    return loss, p


class MLPStep:
    """One SGD step of the 64-hidden-10 ReLU MLP with softmax cross-entropy."""

    def __init__(self, hidden: int = 64, lr: float = 0.1, seed: int = 0, inputs: int = 64, classes: int = 10):
        rng = np.random.default_rng(seed)
        self.w1, self.b1 = _init(rng, inputs, hidden)
        self.w2, self.b2 = _init(rng, hidden, classes)
        self.lr = np.float32(lr)

    def gradients(self, x, y, out=(None, None)):
        """Forward and backward: the loss and the gradients of w1, b1, w2, b2 (those of w1 and
        w2 into the buffers ``out``, when given)."""
        h = x @ self.w1
        h += self.b1
        a = np.maximum(h, 0)
        z = a @ self.w2
        z += self.b2
        loss, g = _softmax_ce(z, y)
        gw2, gb2 = np.matmul(a.T, g, out=out[1]), g.sum(axis=0)
        da = g @ self.w2.T
        da *= h > 0
        return loss, np.matmul(x.T, da, out=out[0]), da.sum(axis=0), gw2, gb2

    def __call__(self, x, y) -> float:
        loss, gw1, gb1, gw2, gb2 = self.gradients(x, y)
        lr = self.lr
        self.w2 -= lr * gw2
        self.b2 -= lr * gb2
        self.w1 -= lr * gw1
        self.b1 -= lr * gb1
        return loss


def im2col(x, k: int, stride: int, pad: int):
    n, c, h, w = x.shape
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    cols = np.empty((n, ho, wo, c, k, k), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, :, :, :, i, j] = xp[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride].transpose(0, 2, 3, 1)
    return cols.reshape(n * ho * wo, c * k * k), ho, wo


def col2im(cols, shape, k: int, stride: int, pad: int, ho: int, wo: int):
    n, c, h, w = shape
    cols = cols.reshape(n, ho, wo, c, k, k)
    out = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += cols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return out[:, :, pad : pad + h, pad : pad + w] if pad else out


class CNNStep:
    """One SGD step of the digits CNN (1x8x8 images) through im2col."""

    def __init__(self, channels=(8, 16), lr: float = 0.1, seed: int = 0, size: int = 8, classes: int = 10):
        rng = np.random.default_rng(seed)
        c1, c2 = channels
        self.c1, self.c2, self.size = c1, c2, size
        self.k1, self.kb1 = _init(rng, 9, c1)
        self.k2, self.kb2 = _init(rng, c1 * 9, c2)
        half = (size + 2 - 3) // 2 + 1
        self.w, self.b = _init(rng, c2 * half * half, classes)
        self.lr = np.float32(lr)

    def __call__(self, x, y) -> float:
        n = x.shape[0]
        x = x.reshape(n, 1, self.size, self.size)
        cols1, h1, w1 = im2col(x, 3, 1, 1)
        z1 = cols1 @ self.k1
        z1 += self.kb1
        a1 = np.maximum(z1, 0).reshape(n, h1, w1, self.c1).transpose(0, 3, 1, 2)
        cols2, h2, w2 = im2col(a1, 3, 2, 1)
        z2 = cols2 @ self.k2
        z2 += self.kb2
        a2 = np.maximum(z2, 0)
        flat = a2.reshape(n, h2, w2, self.c2).transpose(0, 3, 1, 2).reshape(n, -1)
        z = flat @ self.w
        z += self.b
        loss, g = _softmax_ce(z, y)
        gw, gb = flat.T @ g, g.sum(axis=0)
        dflat = g @ self.w.T
        d2 = dflat.reshape(n, self.c2, h2, w2).transpose(0, 2, 3, 1).reshape(-1, self.c2)
        d2 *= z2 > 0
        gk2, gkb2 = cols2.T @ d2, d2.sum(axis=0)
        da1 = col2im(d2 @ self.k2.T, a1.shape, 3, 2, 1, h2, w2)
        d1 = da1.transpose(0, 2, 3, 1).reshape(-1, self.c1)
        d1 *= z1 > 0
        gk1, gkb1 = cols1.T @ d1, d1.sum(axis=0)
        lr = self.lr
        for p, gp in ((self.w, gw), (self.b, gb), (self.k2, gk2), (self.kb2, gkb2), (self.k1, gk1), (self.kb1, gkb1)):
            p -= lr * gp
        return loss


class EaPUMLPStep(MLPStep):
    """:class:`MLPStep` with EaPU on the two weight matrices, as lean as numpy allows.

    The memristor "eapu-paper" setting written by hand: W = r (G - G_ref) with r = 1/80
    weight per uS, threshold dG_th = write noise = 2 uS, an analog write of the selected
    cells (the change plus Gaussian write noise), and the per-cell wear counter imc keeps
    (pulses; one per written cell). The decision is imc's: one float32 uniform per weight
    into a kept buffer, selected where ``|dW| > u * dG_th * r``; the fixed change
    ``sign(dG) * dG_th`` below the threshold. Biases take plain SGD. No ledger, no
    validation, no layers: what any numpy implementation of the same step must do."""

    def __init__(self, hidden: int = 64, lr: float = 0.1, seed: int = 0, r_wg_per_us: float = 1 / 80,
                 threshold_us: float = 2.0, write_noise_us: float = 2.0, **kwargs):
        super().__init__(hidden=hidden, lr=lr, seed=seed, **kwargs)
        self.rng = np.random.default_rng(seed + 1)
        self.r, self.th = np.float32(r_wg_per_us), np.float32(threshold_us)
        self.sigma = np.float32(write_noise_us)
        self.work = {w.size: (np.empty(w.size, np.float32), np.empty(w.size, np.float32), np.empty(w.size, bool))
                     for w in (self.w1, self.w2)}
        self.pulses = [np.zeros(w.size, np.int64) for w in (self.w1, self.w2)]
        self.cells = self.steps = 0  # cells written, steps taken

    def _eapu(self, w, dw, pulses) -> None:
        u, mag, hit = self.work[w.size]
        self.rng.random(dtype=np.float32, out=u)
        u *= self.th * self.r
        idx = np.flatnonzero(np.greater(np.abs(dw.reshape(-1), out=mag), u, out=hit))
        w.reshape(-1)[idx] += self._written(dw.reshape(-1)[idx] / self.r)
        pulses[idx] += 1
        self.cells += idx.size

    def _written(self, dg):
        """The weight change an analog write of requests ``dg`` (uS) lands: the fixed change
        ``sign(dG) dG_th`` below the threshold, ``dG`` above, plus Gaussian write noise."""
        fixed = np.abs(dg)
        np.maximum(fixed, self.th, out=fixed)
        np.copysign(fixed, dg, out=fixed)
        noise = self.rng.standard_normal(dg.size, dtype=np.float32)
        noise *= self.sigma
        noise += fixed
        noise *= self.r
        return noise

    def __call__(self, x, y) -> float:
        loss, gw1, gb1, gw2, gb2 = self.gradients(x, y)
        lr = self.lr
        self._eapu(self.w2, gw2 * -lr, self.pulses[1])
        self.b2 -= lr * gb2
        self._eapu(self.w1, gw1 * -lr, self.pulses[0])
        self.b1 -= lr * gb1
        self.steps += 1
        return loss


class FusedEaPUMLPStep(EaPUMLPStep):
    """:class:`EaPUMLPStep` with both weight matrices in ONE flat buffer: one decision and one
    write per step for the whole network, the least per-call cost numpy allows.

    The gradients are computed straight into views of one flat buffer, so the decision is one
    pass over all weights: a random byte per weight, refined by a float32 uniform only where
    the byte cannot decide (imc's byte decision: the same probabilities as one uniform per
    weight), one selection, one gather, one write with noise, one wear-counter update. What an
    implementation that gives up per-layer devices (a device-protocol change) could reach."""

    def __init__(self, hidden: int = 64, **kwargs):
        super().__init__(hidden=hidden, **kwargs)
        n1 = self.w1.size
        self.flat = np.concatenate([self.w1.reshape(-1), self.w2.reshape(-1)])
        self.w1, self.w2 = self.flat[:n1].reshape(self.w1.shape), self.flat[n1:].reshape(self.w2.shape)
        self.grad = np.empty_like(self.flat)
        self.gw1, self.gw2 = self.grad[:n1].reshape(self.w1.shape), self.grad[n1:].reshape(self.w2.shape)
        self.k, self.hit = np.empty_like(self.flat), np.empty(self.flat.size, bool)
        self.wear = np.zeros(self.flat.size, np.int64)

    def __call__(self, x, y) -> float:
        loss, _, gb1, _, gb2 = self.gradients(x, y, out=(self.gw1, self.gw2))  # into the flat buffer
        lr = self.lr
        idx = self.decide()
        self.flat[idx] += self._written(self.grad[idx] * (-lr / self.r))  # one write for every layer
        self.wear[idx] += 1
        self.cells += idx.size
        self.b2 -= lr * gb2
        self.b1 -= lr * gb1
        self.steps += 1
        return loss

    def decide(self):
        """Flat indices of the weights written this step, each with probability
        ``min(1, lr |grad| / (dG_th r))``: ``k = 256 p`` against a random byte plus a uniform."""
        n = self.flat.size
        k = np.multiply(np.abs(self.grad, out=self.k), self.lr * np.float32(256) / (self.th * self.r), out=self.k)
        v = self.rng.bit_generator.random_raw(-(-n // 8)).view(np.uint8)[:n]
        cand = np.greater(k, v, out=self.hit).nonzero()[0]
        frac = k[cand]
        frac -= v[cand]
        return cand[self.rng.random(cand.size, dtype=np.float32) < frac]
