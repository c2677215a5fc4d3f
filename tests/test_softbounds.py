"""The soft-bounds memristor preset: aihwkit's SoftBoundsDevice law, in conductances."""

import numpy as np
import pytest
from imc_memristor import SoftBoundsDevice, SoftBoundsSpec

import imc
from imc.nn import AnalogConfig, AnalogMatrix

NOMINAL = {"step_d2d": 0.0, "bounds_d2d": 0.0}


def device(n=20000, seed=0, **overrides):
    return imc.backend("memristor", (n, 1), preset="soft-bounds", seed=seed, **overrides)


def test_preset_is_aihwkits_device_in_weight_units():
    spec = imc.get_registry().spec("memristor", "soft-bounds")
    assert isinstance(spec, SoftBoundsSpec)
    assert spec.write_noise_us == pytest.approx(0.3 * spec.step_us)  # derived from step_c2c
    m = AnalogMatrix(np.zeros((2, 2), np.float32), AnalogConfig(preset="soft-bounds", mapping="reference", w_max=0.6),
                     imc.Compute.create("cpu", 0))
    assert isinstance(m.devices[0], SoftBoundsDevice)
    assert m.step_us() * m.r_wg_per_us == pytest.approx(0.005)  # dw_min
    assert (m.spec.g_max_us - m.g_ref_us) * m.r_wg_per_us == pytest.approx(0.6)  # w_max
    np.testing.assert_array_equal(m.peek_weights(), 0)


@pytest.mark.parametrize("w", [-0.45, 0.0, 0.3])
def test_one_pulse_follows_the_soft_bounds_law(w):
    """dw_up = dw_min (1 - w / w_max), dw_down = dw_min (1 - w / w_min), std 30 % of the step."""
    dev = device(**NOMINAL)
    ref, r = 60.0, 0.6 / 20.0  # uS at weight 0, weight per uS
    g0 = np.full(dev.shape, ref + w / r, np.float32)
    for sign, expect in ((1, 0.005 * (1 - w / 0.6)), (-1, -0.005 * (1 - w / -0.6))):
        dev.program(g0)
        dev.pulse(np.ones(dev.shape), sign)
        dw = (dev.peek() - g0).astype(np.float64).reshape(-1) * r
        se = 0.3 * abs(expect) / np.sqrt(dw.size)
        assert abs(dw.mean() - expect) < 5 * se + 1e-7
        assert dw.std() == pytest.approx(0.3 * abs(expect), rel=0.05)
        assert dev.declared_step_us(g0[:1], sign)[0] * r == pytest.approx(abs(expect), rel=1e-4)


def test_n_pulses_at_once_match_n_single_pulses():
    together, apart = device(seed=1), device(seed=2)
    together.pulse(np.full(together.shape, 40.0), 1)
    for _ in range(40):
        apart.pulse(np.ones(apart.shape), 1)
    a, b = together.peek().astype(np.float64), apart.peek().astype(np.float64)
    # different cells (own seeds): compare the populations' mean and spread
    assert a.mean() == pytest.approx(b.mean(), rel=2e-3)
    assert a.std() == pytest.approx(b.std(), rel=0.05)


def test_steps_vanish_at_the_bounds_and_cells_stay_inside():
    dev = device(n=2000, **{"bounds_d2d": 0.3})
    lo, hi = dev.window_at(np.arange(dev.g.size))
    dev.pulse(np.full(dev.shape, 5000.0), 1)
    g = dev.peek().reshape(-1)
    assert np.all(g <= hi) and np.all(hi - g < 0.01 * (hi - lo))
    # the declaration is the population's mean: cells with wider windows still move at 80 uS
    assert 0 < dev.declared_step_us(np.float32([80.0]), 1)[0] < 0.1 * dev.spec.step_us
    assert dev.declared_step_us(np.float32([140.0]), 1).tolist() == [0.0]  # beyond every cell's bound
    nominal = device(n=4, **NOMINAL)
    assert nominal.declared_step_us(np.float32([80.0, 90.0]), 1).tolist() == [0.0, 0.0]
    assert nominal.declared_step_us(np.float32([40.0]), -1).tolist() == [0.0]
