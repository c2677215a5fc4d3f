"""Layers: float64 gradient checks against finite differences, shapes, analog products."""

import numpy as np
import pytest

import imc
from imc.nn import (
    AnalogConfig,
    AnalogConv2d,
    AnalogLinear,
    Conv2d,
    CrossEntropyLoss,
    Flatten,
    Linear,
    MSELoss,
    PixelShuffle,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Tanh,
    Upsample,
)
from imc.nn.conv import col2im, im2col

F64 = np.float64


def compute(seed=0):
    return imc.Compute.create("cpu", seed)


def numeric_grad(f, x, eps=1e-6):
    """Central differences of the scalar f() with respect to every entry of x (in place)."""
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        hi = f()
        x[i] = old - eps
        lo = f()
        x[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


def check_module(module, x, rtol=1e-6, atol=1e-8):
    """Gradient of sum(forward(x) * w) w.r.t. x and every digital parameter."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal(module.forward(x).shape)

    def f():
        return float((module.forward(x) * w).sum())

    f()
    grad_in = module.backward(w)
    grads = {name: p.grad.copy() for name, p in module.named_parameters()}
    np.testing.assert_allclose(grad_in, numeric_grad(f, x), rtol=rtol, atol=atol)
    for name, p in module.named_parameters():
        np.testing.assert_allclose(grads[name], numeric_grad(f, p.data), rtol=rtol, atol=atol, err_msg=name)


def test_linear_gradients_float64():
    layer = Linear(5, 3, compute=compute(), dtype=F64)
    x = np.random.default_rng(0).standard_normal((4, 5))
    check_module(layer, x)
    assert layer.forward(x).dtype == F64


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 1)])
def test_conv2d_gradients_float64(stride, padding):
    layer = Conv2d(2, 3, 3, compute=compute(), stride=stride, padding=padding, dtype=F64)
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    check_module(layer, x)


def test_conv2d_matches_direct_convolution():
    layer = Conv2d(2, 3, 3, compute=compute(), stride=2, padding=1, dtype=F64)
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 5))
    y = layer.forward(x)
    kernel = layer.weight.data.T.reshape(3, 2, 3, 3)  # (out, C, kh, kw)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((2, 3, 3, 3))
    for n in range(2):
        for o in range(3):
            for i in range(3):
                for j in range(3):
                    ref[n, o, i, j] = (xp[n, :, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3] * kernel[o]).sum()
    ref += layer.bias.data[None, :, None, None]
    np.testing.assert_allclose(y, ref, rtol=1e-10)


def test_col2im_is_adjoint_of_im2col():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 4))
    cols, _ = im2col(np, x, 3, 2, 2, 1)
    c = rng.standard_normal(cols.shape)
    assert np.isclose((cols * c).sum(), (x * col2im(np, c, x.shape, 3, 2, 2, 1)).sum())


@pytest.mark.parametrize("act", [ReLU, Tanh, Sigmoid])
def test_activation_gradients(act):
    x = np.random.default_rng(0).standard_normal((3, 4)) + 0.05  # keep ReLU away from its kink
    check_module(act(), x)


def test_flatten_pixelshuffle_residual_sequential_gradients():
    c = compute()
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 3))
    check_module(PixelShuffle(2), x.copy())
    check_module(Flatten(), x.copy())
    block = Sequential(Conv2d(4, 4, 3, compute=c.spawn(1), padding=1, dtype=F64), Tanh(),
                       Conv2d(4, 4, 1, compute=c.spawn(2), dtype=F64))
    check_module(Residual(block, scale=-1.0), x.copy())
    check_module(Sequential(Flatten(), Linear(36, 5, compute=c.spawn(3), dtype=F64), Tanh()), x.copy())


def test_pixelshuffle_layout():
    x = np.arange(2 * 4 * 2 * 2, dtype=F64).reshape(2, 4, 2, 2)
    y = PixelShuffle(2).forward(x)
    assert y.shape == (2, 1, 4, 4)
    # output pixel (2h + i, 2w + j) comes from channel 2i + j at (h, w), as in torch.nn.PixelShuffle
    assert y[0, 0, 1, 0] == x[0, 2, 0, 0] and y[0, 0, 0, 1] == x[0, 1, 0, 0] and y[1, 0, 3, 3] == x[1, 3, 1, 1]


def test_upsample_gradients_and_layout():
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 4))
    check_module(Upsample(2), x.copy())
    check_module(Upsample(3), x.copy())
    y = Upsample(2).forward(x)
    assert y.shape == (2, 3, 6, 8)
    # output pixel (2h + i, 2w + j) is a copy of input pixel (h, w)
    assert y[1, 2, 5, 6] == x[1, 2, 2, 3] and y[0, 1, 2, 3] == x[0, 1, 1, 1]
    with pytest.raises(ValueError, match="positive integer"):
        Upsample(0)
    with pytest.raises(ValueError, match="mode"):
        Upsample(2, "bicubic")


def test_bilinear_upsample_gradients_and_values():
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 5))
    check_module(Upsample(2, "bilinear"), x.copy())
    check_module(Upsample(3, "bilinear"), x.copy())
    y = Upsample(2, "bilinear").forward(x)
    # factor 2, pixel centres: out[2i] = x[i-1]/4 + 3x[i]/4, out[2i+1] = 3x[i]/4 + x[i+1]/4, edges clamped
    row = Upsample(2, "bilinear").forward(x[:, :, :1, :])[..., 0, :]
    assert np.allclose(row[..., 3], 0.75 * x[:, :, 0, 1] + 0.25 * x[:, :, 0, 2])
    assert np.allclose(row[..., 4], 0.25 * x[:, :, 0, 1] + 0.75 * x[:, :, 0, 2])
    assert np.allclose(row[..., 0], x[:, :, 0, 0]) and np.allclose(row[..., -1], x[:, :, 0, -1])
    assert y.shape == (2, 3, 6, 10) and np.allclose(Upsample(2, "bilinear").forward(np.ones((1, 1, 3, 4))), 1)
    assert Upsample(2, "bilinear").forward(x.astype(np.float32)).dtype == np.float32


def test_residual_with_upsampling_skip_gradients():
    """skip(x) + body(x) with different inner shapes: the srnet layout in float64."""
    c = compute()
    x = np.random.default_rng(0).standard_normal((2, 1, 3, 4))
    body = Sequential(Conv2d(1, 4, 3, compute=c.spawn(1), padding=1, dtype=F64), Tanh(),
                      Conv2d(4, 4, 3, compute=c.spawn(2), padding=1, dtype=F64), PixelShuffle(2))
    check_module(Residual(body, skip=Upsample(2)), x.copy())
    check_module(Residual(body, skip=Upsample(2), scale=-0.5), x.copy())
    check_module(Residual(body, skip=Upsample(2, "bilinear")), x.copy())
    with pytest.raises(ValueError, match="does not match skip"):
        Residual(body).forward(x)


def test_srnet_output_is_upsampled_input_plus_body():
    c = compute()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    model = imc.models.build("srnet", analog=None, compute=c, channels=4)
    assert model.forward(x).shape == (2, 1, 16, 16)
    assert imc.models.build("srnet", analog=None, compute=c, factor=3).forward(x).shape == (2, 1, 24, 24)
    for p in model.parameters():
        p.data[...] = 0
    # with the body silenced, srnet is the fixed bilinear upsampling of its input
    np.testing.assert_allclose(model.forward(x), Upsample(2, "bilinear").forward(x), rtol=1e-6)
    assert isinstance(model, Residual) and model.skip.mode == "bilinear"


def test_losses_gradients():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    ce = CrossEntropyLoss()
    ce.forward(logits, labels)
    np.testing.assert_allclose(ce.backward(), numeric_grad(lambda: ce.forward(logits, labels), logits), rtol=1e-6, atol=1e-9)
    pred, target = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    mse = MSELoss()
    mse.forward(pred, target)
    np.testing.assert_allclose(mse.backward(), numeric_grad(lambda: mse.forward(pred, target), pred), rtol=1e-6)


def test_cross_entropy_value():
    logits = np.log(np.array([[0.2, 0.8], [0.5, 0.5]]))
    assert np.isclose(CrossEntropyLoss().forward(logits, np.array([1, 0])), -(np.log(0.8) + np.log(0.5)) / 2)


def test_shape_errors_are_clear():
    c = compute()
    with pytest.raises(ValueError, match=r"expects input \(batch, 5\)"):
        Linear(5, 3, compute=c).forward(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="3 channels"):
        Conv2d(3, 2, 3, compute=c).forward(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match="too small"):
        Conv2d(1, 2, 3, compute=c).forward(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="differ in shape"):
        MSELoss().forward(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="labels must have shape"):
        CrossEntropyLoss().forward(np.zeros((2, 3)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="divisible"):
        PixelShuffle(2).forward(np.zeros((1, 3, 2, 2)))


# ---------------------------------------------------------------- analog layers
PAPER = AnalogConfig(preset="eapu-paper")


def test_analog_linear_products_equal_digital_with_array_weights():
    layer = AnalogLinear(6, 4, PAPER, compute=compute())
    w = layer.weight.tile.peek_weights()
    x = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    y = layer.forward(x)
    np.testing.assert_allclose(y, x @ w + layer.bias.data, rtol=1e-4, atol=1e-5)
    g = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(layer.backward(g), g @ w.T, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.weight.grad, x.T @ g, rtol=1e-5)
    np.testing.assert_allclose(layer.bias.grad, g.sum(0), rtol=1e-5)
    # every product went through the device
    assert layer.weight.tile.devices[0].counters.products == 6


def test_analog_conv_gradient_finite_difference_float32():
    layer = AnalogConv2d(2, 3, 3, PAPER, compute=compute(), padding=1)
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((2, 3, 4, 4)).astype(np.float32)
    f = lambda: float((layer.forward(x).astype(F64) * w).sum())
    f()
    grad = layer.backward(w)
    np.testing.assert_allclose(grad, numeric_grad(f, x, eps=1e-2), rtol=2e-2, atol=2e-2)


def test_initial_weights_are_the_programmed_targets():
    c = compute(3)
    digital = Linear(8, 5, compute=c.spawn(9))
    analog = Linear(8, 5, compute=c.spawn(9), analog=PAPER)
    np.testing.assert_allclose(analog.weight.tile.peek_weights(), digital.weight.data, atol=1e-6)
    tile = analog.weight.tile
    assert tile.mapping == "reference" and tile.r_wg_per_us == pytest.approx(1 / 80)
    np.testing.assert_allclose(tile.devices[0].peek(), 80 + digital.weight.data * 80, atol=1e-4)


def test_tiling_and_pair_mapping_give_the_same_products():
    w = np.random.default_rng(0).uniform(-0.5, 0.5, (7, 5)).astype(np.float32)
    x = np.random.default_rng(1).standard_normal((4, 7)).astype(np.float32)
    d = np.random.default_rng(2).standard_normal((4, 5)).astype(np.float32)
    for cfg in [PAPER, AnalogConfig(preset="eapu-paper", max_tile_rows=3, max_tile_cols=2),
                AnalogConfig(preset="eapu-paper", mapping="pair", max_tile_rows=4)]:
        tile = imc.nn.AnalogMatrix(w, cfg, compute())
        np.testing.assert_allclose(tile.peek_weights(), w, atol=1e-5)
        np.testing.assert_allclose(tile.forward(x), x @ w, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(tile.backward(d), d @ w.T, rtol=1e-4, atol=1e-4)
    tiled = imc.nn.AnalogMatrix(w, AnalogConfig(preset="eapu-paper", max_tile_rows=3, max_tile_cols=2), compute())
    assert len(tiled.tiles) == 3 * 3 and all(t.devices[0].shape[0] <= 3 and t.devices[0].shape[1] <= 2 for t in tiled.tiles)


def test_sparse_writes_route_to_the_right_tile_cell():
    w = np.zeros((5, 7), np.float32)
    for cfg in [AnalogConfig(preset="eapu-paper", overrides={"write_noise_us": 0.0}, max_tile_rows=2, max_tile_cols=3),
                AnalogConfig(preset="eapu-paper", overrides={"write_noise_us": 0.0}, mapping="pair", max_tile_cols=4)]:
        tile = imc.nn.AnalogMatrix(w, cfg, compute())
        index = np.array([0, 8, 20, 34])
        stats = tile.update(index, np.array([8.0, -16.0, 4.0, 80.0], np.float32))
        expected = np.zeros(35, np.float32)
        expected[index] = np.array([8.0, -16.0, 4.0, 80.0]) / 80
        np.testing.assert_allclose(tile.peek_weights().reshape(-1), expected, atol=1e-6)
        assert stats.cells == 4 and stats.pulses == 4


def test_bounded_device_defaults_to_pair_mapping_with_window_ratio():
    cfg = AnalogConfig(preset="rram-realistic", w_max=1.0)
    spec = cfg.spec()
    assert cfg.resolved_mapping(spec) == "pair"
    assert cfg.resolved_r_wg(spec) == pytest.approx(1.0 / spec.range_us)
    tile = imc.nn.AnalogMatrix(np.full((2, 2), 0.25, np.float32), cfg, compute())
    assert len(tile.tiles[0].devices) == 2


def test_dac_adc_quantisation():
    w = np.random.default_rng(0).uniform(-0.5, 0.5, (16, 8)).astype(np.float32)
    x = np.random.default_rng(1).standard_normal((4, 16)).astype(np.float32)
    exact = imc.nn.AnalogMatrix(w, PAPER, compute()).forward(x)
    coarse = imc.nn.AnalogMatrix(w, AnalogConfig(preset="eapu-paper", dac_bits=3, adc_bits=3), compute())
    y = coarse.forward(x)
    assert not np.allclose(y, exact, atol=1e-3)
    # 3-bit output: at most 7 distinct magnitudes per row, error within half a level of the row max
    # plus the propagated input error
    for row in y:
        assert len(np.unique(np.abs(np.round(row / np.abs(row).max() * 3, 4)))) <= 4
    fine = imc.nn.AnalogMatrix(w, AnalogConfig(preset="eapu-paper", dac_bits=12, adc_bits=12), compute()).forward(x)
    np.testing.assert_allclose(fine, exact, atol=5e-3 * np.abs(exact).max())
    assert coarse.conversions == {"dac": 4 * 16, "adc": 4 * 8}
    with pytest.raises(ValueError, match="adc_bits"):
        AnalogConfig(adc_bits=1)


def test_read_noise_reaches_products():
    w = np.full((8, 4), 0.2, np.float32)
    tile = imc.nn.AnalogMatrix(w, AnalogConfig(preset="rram-realistic", overrides={"stuck_low_prob": 0.0, "stuck_high_prob": 0.0}), compute())
    x = np.ones((2, 8), np.float32)
    assert not np.array_equal(tile.forward(x), tile.forward(x))


def test_analog_state_round_trip():
    layer = AnalogLinear(6, 4, PAPER, compute=compute())
    state = layer.state()
    before = layer.weight.tile.peek_weights()
    layer.weight.tile.update(np.arange(24), np.ones(24, np.float32))
    layer.load_state(state)
    np.testing.assert_array_equal(layer.weight.tile.peek_weights(), before)


def test_device_state_is_a_snapshot_not_a_view():
    """Core fix: Device.state() used to return views of the live arrays on numpy."""
    dev = imc.backend("memristor", (3, 3), preset="eapu-paper")
    state = dev.state()
    saved = state["g_us"].copy()
    dev.update(np.ones((3, 3), np.float32))
    np.testing.assert_array_equal(state["g_us"], saved)
    assert state["writes"].sum() == 0 and dev.counters.writes.sum() == 9


def test_engine_modules_are_reachable_from_the_package():
    assert imc.nn.AnalogConfig is AnalogConfig
    assert callable(imc.models.build) and callable(imc.rules.make_rule) and callable(imc.optim.make_optimizer)
    with pytest.raises(AttributeError):
        imc.no_such_module  # noqa: B018
