"""The lean product of a one-tile matrix (issue 15, third pass) gives bit for bit what the general
tile loop gives: the same outputs, random draws, read counts, energies and conversion counts."""

import numpy as np
import pytest
from imc_memristor import MemristorDevice

from imc.compute import Compute
from imc.nn import AnalogConfig, AnalogMatrix
from imc.nn.quant import RowQuantizer, quantize_rows

CONFIGS = [
    ("eapu-paper", {}),  # reference column, noiseless
    ("eapu-paper", {"dac_bits": 6, "adc_bits": 8}),
    ("eapu-paper", {"mapping": "pair", "adc_bits": 7}),
    ("rram-realistic", {}),  # differential pair with read noise
    ("rram-realistic", {"mapping": "reference"}),  # reference column with read noise
    ("rram-realistic", {"dac_bits": 8, "adc_bits": 8}),
]


def _matrix(preset, kw, seed=7):
    w = np.random.default_rng(0).standard_normal((24, 40)).astype(np.float32) * 0.3
    return AnalogMatrix(w, AnalogConfig(preset=preset, **kw), Compute.create("cpu", seed))


def _counts(m):
    return ([(d.counters.cell_reads, d.counters.products, dict(d.counters.energy_j)) for d in m.devices],
            dict(m.conversions), m.macs)


@pytest.mark.parametrize(("preset", "kw"), CONFIGS)
def test_lean_product_equals_the_general_loop_bit_for_bit(preset, kw):
    lean, general = _matrix(preset, kw), _matrix(preset, kw)
    assert lean._plain is not None
    general._plain_cache = None  # the general tile loop (internal path)
    rng = np.random.default_rng(1)
    for step in range(4):
        for transposed, n in ((False, 24), (True, 40)):
            for batch in (1, 5):
                x = rng.standard_normal((batch, n)).astype(np.float32)
                if step == 2:
                    x = x.astype(np.float64)  # cast to float32 on both paths
                a = lean.backward(x, checked=True) if transposed else lean.forward(x, checked=True)
                b = general.backward(x, checked=True) if transposed else general.forward(x, checked=True)
                assert a.dtype == b.dtype == np.float32
                assert a.tobytes() == b.tobytes()
        # a write between products: the cached operands must follow it on both
        idx = np.sort(rng.choice(24 * 40, 30, replace=False)).astype(np.int64)
        delta = rng.standard_normal(30).astype(np.float32) * 3
        lean.update(idx, delta, checked=True)
        general.update(idx, delta, checked=True)
        if step == 1:
            lean.output_scale = general.output_scale = 0.75  # a digital gain (drift compensation)
    assert _counts(lean) == _counts(general)
    assert lean.peek_weights().tobytes() == general.peek_weights().tobytes()


def test_lean_product_leaves_the_callers_input_alone():
    m = _matrix("rram-realistic", {"dac_bits": 4})
    x = np.random.default_rng(2).standard_normal((3, 24)).astype(np.float32)
    before = x.copy()
    m.forward(x, checked=True)
    np.testing.assert_array_equal(x, before)


class _OwnProduct(MemristorDevice):
    """A first-party-like device that reads through its own product (e.g. a fault model)."""

    def _product(self, x, transposed, checked=False, offset_us=None):
        self.own_products = getattr(self, "own_products", 0) + 1
        return super()._product(x, transposed, checked, offset_us)


def test_a_device_with_its_own_product_is_not_bypassed():
    from imc.nn import DeviceSource

    source = DeviceSource(factory=_OwnProduct, spec=AnalogConfig(preset="eapu-paper").spec())
    m = AnalogMatrix(np.zeros((4, 6), np.float32), AnalogConfig(device=source), Compute.create("cpu", 0))
    assert m._plain is None
    m.forward(np.ones((2, 4), np.float32), checked=True)
    assert m.devices[0].own_products == 1


@pytest.mark.parametrize("bits", [2, 5, 8, 12])
def test_row_quantizer_equals_quantize_rows_bit_for_bit(bits):
    rng = np.random.default_rng(bits)
    q = RowQuantizer(np, bits)
    for _ in range(50):
        x = (rng.standard_normal((int(rng.integers(1, 9)), int(rng.integers(1, 50))))
             * 10.0 ** rng.integers(-30, 30)).astype(np.float32)
        x[rng.random(x.shape) < 0.2] = 0
        x[0] = np.float32(-0.0)  # an all-zero row (negative zeros) keeps scale 1
        expected = quantize_rows(np, x, bits).tobytes()
        assert q(x.copy()).tobytes() == expected
        assert q(x.copy(), overwrite=True).tobytes() == expected


def test_lean_product_on_the_cupy_standin_never_waits():
    compute = Compute.create("standin", 3)
    cfg = AnalogConfig(preset="rram-realistic", dac_bits=8, adc_bits=8)
    m = AnalogMatrix(compute.xp.asarray(np.full((24, 40), 0.1, np.float32)), cfg, compute)
    assert m._plain is not None
    x = compute.xp.asarray(np.ones((4, 24), np.float32))
    m.forward(x, checked=True)  # first call makes the cached operands
    compute.xp.reset()
    y = m.forward(x, checked=True)
    d = m.backward(y, checked=True)
    assert compute.xp.sync_count == 0
    assert y.shape == (4, 40) and d.shape == (4, 24)
