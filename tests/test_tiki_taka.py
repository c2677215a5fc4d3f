"""The Tiki-Taka family: A accumulates, lines move into C, H filters, choppers undo, ledger and resume."""

import numpy as np
import pytest

import imc
import imc.models
from imc.nn import AnalogConfig, CrossEntropyLoss, Linear, Sequential
from imc.optim import make_optimizer
from imc.rules import UpdateRule, make_rule
from imc.train import Trainer

SOFT = AnalogConfig(backend="memristor", preset="soft-bounds", mapping="reference", w_max=0.6)
LINEAR = AnalogConfig(backend="memristor", preset="soft-bounds", mapping="reference", w_max=0.6,
                      overrides={"step_d2d": 0.0, "bounds_d2d": 0.0, "step_c2c": 0.0})


def one_layer(cfg=LINEAR, shape=(6, 4), seed=0):
    compute = imc.Compute.create("cpu", seed)
    return Sequential(Linear(*shape, compute=compute.spawn(1), analog=cfg)), compute


def attach(name, model, compute, **params):
    rule = make_rule(name, **params)
    rule.attach(model, compute.spawn(99))
    (pname, param), = [(n, p) for n, p in model.named_parameters() if p.analog]
    return rule, pname, param.tile


def weights(t):
    return t.peek_weights()


def test_the_family_is_registered_with_constructor_parameters():
    assert make_rule("tiki-taka", transfer_every=2, transfer_lr=0.5).params()["transfer_every"] == 2.0
    tt = make_rule("tiki-taka").params()
    assert tt["units_in_mbatch"] is False and tt["transfer_lr"] is None and tt["lr_a"] == 1.0
    v2 = make_rule("tiki-taka-v2").params()
    assert (v2["threshold"], v2["momentum"], v2["forget_buffer"]) == (1.0, 0.1, True)  # aihwkit BufferedTransferCompound
    c = make_rule("c-tiki-taka").params()
    assert (c["chop_prob"], c["momentum"], c["forget_buffer"]) == (0.1, 0.0, True)  # aihwkit ChoppedTransferCompound
    for bad in ({"transfer_every": 0}, {"reads_per_transfer": 0}, {"transfer_columns": "yes"},
                {"units_in_mbatch": 1}, {"transfer_lr": -1.0}):
        with pytest.raises(ValueError):
            make_rule("tiki-taka", **bad)
    with pytest.raises(ValueError, match="momentum"):
        make_rule("tiki-taka-v2", momentum=1.0)
    with pytest.raises(ValueError, match="probability"):
        make_rule("c-tiki-taka", chop_prob=1.5)


def test_a_takes_the_gradient_and_only_the_transferred_line_of_c_moves():
    model, compute = one_layer()
    rule, name, c = attach("tiki-taka", model, compute, transfer_lr=1.0)
    a = rule.a[name]
    assert a.config == c.config and a.shape == c.shape and np.abs(weights(a)).max() == 0
    c0 = weights(c)
    step = c.step_us() * c.r_wg_per_us  # 0.005 per pulse
    delta = np.full(c.shape, 3 * step, np.float32)  # whole pulses: no rounding randomness
    stats = rule.apply(name, c, delta)  # not told a batch size: one vector, one transfer
    np.testing.assert_allclose(weights(a), 3 * step, rtol=0.05)  # three pulses, a little less near a soft bound
    moved = np.abs(weights(c) - c0) > 0
    assert moved[0].all() and not moved[1:].any()  # line 0 (input 0's weights) was transferred
    assert stats.cells == c.size + c.shape[1]  # every cell of A, then one line of C
    rule.apply(name, c, np.zeros(c.shape, np.float32))
    moved = np.abs(weights(c) - c0) > 0
    assert moved[:2].all() and not moved[2:].any()  # next step: the next line


def test_transfers_are_counted_in_input_vectors_or_in_mini_batches():
    zeros = np.zeros((6, 4), np.float32)
    model, compute = one_layer()
    rule, name, c = attach("tiki-taka", model, compute, transfer_lr=1.0)  # one per input vector
    rule.begin_step(8, lr=0.1)
    rule.apply(name, c, zeros)
    assert rule.counters[name].tolist() == [1, 8, 8 % 6]  # 8 vectors: 8 lines of 6 read, wrapping around
    rule.begin_step(3)
    rule.apply(name, c, zeros)
    assert rule.counters[name].tolist() == [2, 11, 11 % 6]
    model, compute = one_layer()
    rule, name, c = attach("tiki-taka", model, compute, transfer_every=2.5, transfer_lr=1.0)
    for _ in range(4):
        rule.begin_step(2)
        rule.apply(name, c, zeros)
    assert rule.counters[name].tolist() == [4, 8, 3]  # floor(8 / 2.5) = 3 transfers in 8 vectors
    model, compute = one_layer()
    rule, name, c = attach("tiki-taka", model, compute, transfer_every=0.5, units_in_mbatch=True,
                           reads_per_transfer=2, transfer_lr=1.0)
    rule.begin_step(8)
    rule.apply(name, c, zeros)
    assert rule.counters[name].tolist() == [1, 8, 4]  # two transfers of two lines per mini-batch, whatever its size
    model, compute = one_layer()
    rule, name, c = attach("tiki-taka", model, compute, transfer_every=3, units_in_mbatch=True,
                           transfer_columns=False, transfer_lr=1.0)
    for _ in range(6):
        rule.begin_step(5)
        rule.apply(name, c, zeros)
    assert rule.counters[name].tolist() == [6, 30, 2]  # outputs are the lines now
    with pytest.raises(ValueError, match="vectors"):
        rule.begin_step(0)


def test_more_transfers_than_lines_in_one_step_read_every_line_in_turn():
    model, compute = one_layer(shape=(3, 2))
    rule, name, c = attach("tiki-taka", model, compute, transfer_lr=1.0)
    step = c.step_us() * c.r_wg_per_us
    rule.apply(name, c, np.full(c.shape, 2 * step, np.float32))  # A holds two pulses everywhere
    dev = c.tiles[0].devices[0]
    p0 = dev.counters.pulses.copy()
    rule.begin_step(7)  # 7 reads of 3 lines: lines 1, 2, 0, 1, 2, 0, 1 (line 0 was read by the first step)
    stats = rule.apply(name, c, np.zeros(c.shape, np.float32))
    pulses = (dev.counters.pulses - p0).reshape(c.shape)
    assert pulses.sum(axis=1).tolist() == [2 * 2 * 2, 3 * 2 * 2, 2 * 2 * 2]  # reads x 2 cells x 2 pulses, per line
    assert stats.pulses == 7 * 2 * 2 and rule.counters[name].tolist() == [2, 8, 2]


def test_the_trainer_tells_the_rule_the_batch_size_and_learning_rate():
    x, y = _digits(40)
    trainer = _trainer("tiki-taka")
    trainer.train_step(trainer.compute.asarray(x[:8]), trainer.xp.asarray(y[:8]))
    assert (trainer.rule.step_vectors, trainer.rule.step_lr) == (8, 0.1)
    first = trainer.rule.counters["0.weight"] if "0.weight" in trainer.rule.counters else next(iter(trainer.rule.counters.values()))
    assert first.tolist()[:2] == [1, 8]


def test_transfer_lr_defaults_to_the_learning_rate_and_is_refused_without_one():
    model, compute = one_layer()
    rule, name, c = attach("tiki-taka", model, compute)
    with pytest.raises(ValueError, match="transfer_lr"):
        rule.apply(name, c, np.zeros(c.shape, np.float32))
    rule.begin_step(1, lr=0.25)
    assert rule._transfer_lr() == 0.25
    assert make_rule("tiki-taka", transfer_lr=0.5)._transfer_lr() == 0.5


def test_an_absolute_fast_lr_writes_a_independently_of_the_learning_rate():
    for lr in (0.1, 0.5):
        model, compute = one_layer()
        rule, name, c = attach("tiki-taka", model, compute, fast_lr=0.2, transfer_every=100.0)
        step = c.step_us() * c.r_wg_per_us
        rule.begin_step(1, lr=lr)
        rule.apply(name, c, np.full(c.shape, -lr * 10 * step, np.float32))  # the optimiser's dW = -lr * g
        np.testing.assert_allclose(weights(rule.a[name]), -0.2 * 10 * step, rtol=0.05)  # -fast_lr * g: 2 pulses
    assert make_rule("c-tiki-taka").fast_lr == 1.0 and make_rule("tiki-taka").fast_lr == 0.0
    with pytest.raises(ValueError, match="fast_lr"):
        make_rule("tiki-taka", fast_lr=-1.0)


@pytest.mark.parametrize("forget", [True, False])
def test_v2_filters_through_h_and_writes_whole_pulses_at_the_threshold(forget):
    model, compute = one_layer()
    rule, name, c = attach("tiki-taka-v2", model, compute, transfer_lr=0.4, threshold=1.0,
                           momentum=0.1, forget_buffer=forget)
    step = c.step_us() * c.r_wg_per_us
    a_value = 2 * step  # two pulses of A; a transfer adds 0.8 step to H
    c0 = weights(c)
    rule.apply(name, c, np.full(c.shape, a_value, np.float32))
    h = rule.arrays[f"H.{name}"]
    assert np.all(h[0] > 0.7 * step) and np.all(h[0] < step) and np.all(h[1:] == 0)
    assert np.array_equal(weights(c), c0)  # below the threshold: nothing written to C
    for _ in range(c.shape[0] - 1):
        rule.apply(name, c, np.zeros(c.shape, np.float32))
    before = h[0].copy()
    stats = rule.apply(name, c, np.zeros(c.shape, np.float32))  # line 0 again: H crosses 1 step
    assert stats.cells == c.shape[1] and stats.pulses == c.shape[1]  # one pulse per cell at most
    assert np.all(weights(c)[0] > c0[0])
    read = before + 0.4 * weights(rule.a[name])[0]  # what H held when it fired
    if forget:
        np.testing.assert_allclose(h[0], 0.1 * read, rtol=0.1)  # aihwkit forget_buffer: momentum * H
    else:
        np.testing.assert_allclose(h[0], read - 0.9 * step, rtol=0.1)  # reduced by (1 - momentum) * written


def test_the_chopper_flips_what_a_receives_and_undoes_it_on_readout():
    model, compute = one_layer()
    rule, name, c = attach("c-tiki-taka", model, compute, transfer_lr=0.4, chop_prob=0.0, fast_lr=0.0)
    rule.arrays[f"chop.{name}"][:] = -1
    step = c.step_us() * c.r_wg_per_us
    rule.apply(name, c, np.full(c.shape, 2 * step, np.float32))
    assert np.all(weights(rule.a[name]) < 0)  # A moved against the proposal
    assert np.all(rule.arrays[f"H.{name}"][0] > 0)  # H got it back with the right sign
    model, compute = one_layer(shape=(400, 2))
    rule, name, c = attach("c-tiki-taka", model, compute, chop_prob=0.25, reads_per_transfer=400, transfer_lr=0.1,
                           fast_lr=0.0)
    rule.apply(name, c, np.zeros(c.shape, np.float32))  # every line read once
    flipped = (rule.arrays[f"chop.{name}"] < 0).mean()
    assert abs(flipped - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 400)


def _digits(n=240):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x[:n] / 16).astype(np.float32), y[:n].astype(np.int64)


def _trainer(rule, cfg=SOFT, seed=0, **params):
    compute = imc.Compute.create("cpu", seed)
    model = imc.models.build("mlp", analog=cfg, compute=compute, hidden=16, activation="sigmoid")
    return Trainer(model, CrossEntropyLoss(), make_optimizer("sgd", lr=0.1), make_rule(rule, **params),
                   compute, batch_size=8, seed=seed)


@pytest.mark.parametrize("rule", ["tiki-taka", "tiki-taka-v2", "c-tiki-taka"])
def test_ledger_counts_a_and_c_separately_and_they_add_up(rule):
    x, y = _digits()
    trainer = _trainer(rule)
    summary = trainer.fit(train=(x, y), test=(x[:60], y[:60]), epochs=1)
    ledger = summary["ledger"]
    arrays = ledger["arrays"]
    assert set(arrays) == {"C", "A"}
    assert arrays["A"]["writes"] > 0 and arrays["C"]["writes"] > 0
    assert arrays["A"]["writes"] + arrays["C"]["writes"] == ledger["write_events"]
    assert arrays["A"]["pulses"] + arrays["C"]["pulses"] == ledger["pulses"]
    for key in ("array_write", "array_read", "array_program", "dac", "adc"):
        total = ledger["energy_by_category_j"][key]
        assert arrays["A"]["energy_j"][key] + arrays["C"]["energy_j"][key] == pytest.approx(total, rel=1e-9)
    assert arrays["A"]["energy_j"]["array_read"] > 0  # the transfers read A
    assert ledger["wear"]["cells"] == arrays["A"]["cells"] + arrays["C"]["cells"]  # A wears too
    worst = max(arrays["A"]["worst_cell_pulses"], arrays["C"]["worst_cell_pulses"])
    assert ledger["lifetime"]["worst_cell_pulses"] == worst


def test_one_array_rules_report_their_weights_as_the_only_array():
    x, y = _digits(80)
    ledger = _trainer("original").fit(train=(x, y), epochs=1)["ledger"]
    (only,) = ledger["arrays"].values()
    assert only["writes"] == ledger["write_events"] and only["pulses"] == ledger["pulses"]
    assert only["energy_j"]["total"] == pytest.approx(
        sum(ledger["energy_by_category_j"][k] for k in ("array_write", "array_verify", "array_read", "array_program", "dac", "adc")))


@pytest.mark.parametrize("rule", ["tiki-taka", "tiki-taka-v2", "c-tiki-taka"])
def test_resume_mid_run_continues_exactly(rule):
    x, y = _digits(120)
    straight = _trainer(rule).fit(train=(x, y), test=(x[:40], y[:40]), epochs=2)
    first = _trainer(rule)
    first.fit(train=(x, y), test=(x[:40], y[:40]), epochs=1)
    state = {k: np.array(v, copy=True) for k, v in first.state().items()}
    assert any(k.startswith("rule.A.") for k in state)
    assert any(k.startswith("rule.array.H.") for k in state) == (rule != "tiki-taka")
    resumed = _trainer(rule)
    resumed.load_state(state)
    assert resumed.fit(train=(x, y), test=(x[:40], y[:40]), epochs=2) == straight


def test_a_bad_rule_state_changes_nothing():
    x, y = _digits(40)
    trainer = _trainer("tiki-taka-v2")
    trainer.fit(train=(x, y), epochs=1)
    state = trainer.state()
    before = {k: np.array(v, copy=True) for k, v in state.items()}
    first_a = next(k for k in state if k.startswith("rule.A.")).split(".dev")[0]
    broken = {k: v for k, v in state.items() if not k.startswith(first_a + ".")}
    with pytest.raises(KeyError):
        trainer.load_state(broken)
    after = trainer.state()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k], err_msg=k)


@pytest.mark.parametrize("backend,preset", [("memristor", "eapu-paper"), ("memristor", "rram-realistic"),
                                            ("memristor", "soft-bounds"), ("fefet", None), ("mram", None),
                                            ("table", None)])
@pytest.mark.parametrize("rule", ["tiki-taka", "tiki-taka-v2", "c-tiki-taka"])
def test_runs_on_every_first_party_backend(rule, backend, preset):
    x, y = _digits(48)
    trainer = _trainer(rule, cfg=AnalogConfig(backend=backend, preset=preset))
    ledger = trainer.fit(train=(x, y), test=(x[:16], y[:16]), epochs=1)["ledger"]
    assert ledger["arrays"]["A"]["writes"] > 0
    assert np.isfinite(ledger["energy_by_boundary_j"]["system"])


@pytest.mark.parametrize("rule", ["tiki-taka", "tiki-taka-v2", "c-tiki-taka"])
def test_the_dense_gpu_form_writes_what_the_index_form_writes(rule, monkeypatch):
    """The GPU path (whole-matrix writes) against the CPU path (sorted indices), with whole-pulse
    requests so the rounding draws decide nothing."""
    def run():
        model, compute = one_layer(shape=(5, 3))
        # TTv1: a transfer large enough to saturate at 31 pulses per cell (no rounding draw decides)
        extra = {"chop_prob": 0.0, "fast_lr": 0.0} if rule == "c-tiki-taka" else {}
        r, name, c = attach(rule, model, compute, transfer_lr=1e3 if rule == "tiki-taka" else 1.0, **extra)
        step = c.step_us() * c.r_wg_per_us
        total = 0
        for k, vectors in enumerate((3, 4, 1, 7)):  # wraps around the 5 lines, more reads than lines once
            r.begin_step(vectors, lr=0.1)
            lines = np.array([1, -2, 3, -1, 2], np.float32)[:, None] * np.ones(c.shape, np.float32)  # lines differ
            delta = lines * np.float32((k % 3 + 1) * step * (1 if k % 2 else -1))
            total += r.apply(name, c, delta).pulses
        return weights(c), weights(r.a[name]), total, r.counters[name].tolist()

    index = run()
    monkeypatch.setattr(UpdateRule, "dense", property(lambda self: True))  # A's writes (analog-sgd's) too
    dense = run()
    np.testing.assert_allclose(dense[0], index[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dense[1], index[1], rtol=1e-5, atol=1e-7)
    assert dense[2:] == index[2:]
