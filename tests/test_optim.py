"""Optimisers propose dW from full-precision state; they never apply it."""

import math

import numpy as np
import pytest

from imc.optim import available_optimizers, make_optimizer


def test_sgd_momentum_matches_hand_computation():
    opt = make_optimizer("sgd", lr=0.1, momentum=0.9)
    g1, g2 = np.array([1.0, -2.0], np.float32), np.array([0.5, 0.5], np.float32)
    np.testing.assert_allclose(opt.propose("w", g1), -0.1 * g1, rtol=1e-6)
    np.testing.assert_allclose(opt.propose("w", g2), -0.1 * (0.9 * g1 + g2), rtol=1e-6)
    assert opt.propose("w", g2).dtype == np.float32


def test_sgd_weight_decay_needs_and_uses_the_weight():
    opt = make_optimizer("sgd", lr=0.5, weight_decay=0.1)
    w, g = np.array([2.0]), np.array([1.0])
    np.testing.assert_allclose(opt.propose("w", g, w), -0.5 * (1.0 + 0.2))
    with pytest.raises(ValueError, match="weight="):
        opt.propose("w", g)


def test_adam_matches_the_reference_formula():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = make_optimizer("adam", lr=lr, beta1=b1, beta2=b2, eps=eps)
    rng = np.random.default_rng(0)
    m = v = np.zeros(3)
    for t in range(1, 6):
        g = rng.standard_normal(3)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        expected = -lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(opt.propose("w", g), expected, rtol=1e-10)


def test_state_round_trip_continues_identically():
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(4)]
    for name in available_optimizers():
        a = make_optimizer(name, lr=0.01, **({"momentum": 0.9} if name == "sgd" else {}))
        for g in grads[:2]:
            a.propose("layer.weight", g)
        state = a.state()
        b = make_optimizer(name, lr=0.01, **({"momentum": 0.9} if name == "sgd" else {}))
        b.load_state(state)
        a.propose("layer.weight", grads[2])  # must not leak into the exported state
        b.propose("layer.weight", grads[2])
        np.testing.assert_array_equal(a.propose("layer.weight", grads[3]), b.propose("layer.weight", grads[3]))
        with pytest.raises(KeyError, match="unexpected entry"):
            b.load_state({"w.bogus": np.zeros(1)})


def test_unknown_name_and_bad_parameters():
    with pytest.raises(KeyError, match="did you mean 'adam'.*known: adam, sgd"):
        make_optimizer("adma")
    with pytest.raises(ValueError, match="lr must be > 0"):
        make_optimizer("sgd", lr=0)
    with pytest.raises(ValueError, match="momentum must be < 1"):
        make_optimizer("sgd", momentum=1.0)
    with pytest.raises(ValueError, match="unexpected keyword"):
        make_optimizer("adam", momentum=0.9)
    with pytest.raises(ValueError, match="finite"):
        make_optimizer("adam", lr=math.nan)
