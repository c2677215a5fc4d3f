"""Trainer: learning, exact resume mid-epoch, callbacks, clear errors; models by name."""

import io
import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

import imc
from imc import models
from imc.nn import AnalogConfig, CrossEntropyLoss, MSELoss
from imc.optim import make_optimizer
from imc.rules import make_rule
from imc.train import Trainer, TrainingDiverged

PAPER = AnalogConfig(preset="eapu-paper")


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x, y = (d.data / 16).astype(np.float32), d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def make_trainer(rule="eapu", analog=PAPER, seed=0, batch_size=32, callbacks=(), model="mlp", lr=0.01, **params):
    c = imc.Compute.create("cpu", seed)
    m = models.build(model, analog=analog, compute=c, **params)
    opt = make_optimizer("sgd", lr=lr, momentum=0.9)
    return Trainer(m, CrossEntropyLoss(), opt, make_rule(rule), c, batch_size=batch_size, seed=seed, callbacks=callbacks)


def test_digital_and_eapu_mlps_learn_digits(digits):
    train, test = digits
    for rule, analog in (("ideal", None), ("eapu", PAPER)):
        summary = make_trainer(rule, analog, lr=0.05, hidden=32).fit(train, test, epochs=3)
        assert summary["final"]["accuracy"] > 0.85, (rule, summary["final"])
        assert summary["steps"] == 3 * 44 and summary["epochs"] == 3
    json.dumps(summary)


def test_biases_update_exactly_under_eapu(digits):
    (x, y), _ = digits
    c = imc.Compute.create("cpu", 0)
    m = models.build("mlp", analog=PAPER, compute=c, hidden=16)
    t = Trainer(m, CrossEntropyLoss(), make_optimizer("sgd", lr=0.1), make_rule("eapu"), c, batch_size=32, seed=0)
    biases = {n: p.data.copy() for n, p in m.named_parameters() if not p.analog}
    t.train_step(c.asarray(x[:32]), y[:32], 0)
    for name, p in m.named_parameters():
        if not p.analog:
            np.testing.assert_array_equal(p.data, biases[name] - np.float32(0.1) * p.grad)


class StopAt:
    def __init__(self, step):
        self.step = step

    def on_step(self, trainer, metrics):
        if metrics["step"] == self.step:
            trainer.should_stop = True


def npz_round_trip(state):
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("rule", ["eapu", "mixed-precision", "write-verify", "analog-sgd"])
def test_resume_mid_epoch_is_exact(digits, rule):
    (x, y), (xt, yt) = digits
    train, test = (x[:300], y[:300]), (xt[:100], yt[:100])
    cnn = {"model": "cnn", "analog": AnalogConfig(preset="rram-realistic"), "rule": rule}
    train_img = (train[0].reshape(-1, 1, 8, 8), train[1])
    test_img = (test[0].reshape(-1, 1, 8, 8), test[1])
    full = make_trainer(**cnn)
    expected = full.fit(train_img, test_img, epochs=2)
    stopped = make_trainer(**cnn, callbacks=[StopAt(13)])  # 10 steps per epoch: stop inside epoch 2
    stopped.fit(train_img, test_img, epochs=2)
    assert stopped.step == 13
    state = npz_round_trip(stopped.state())
    resumed = make_trainer(**cnn, seed=0)
    resumed.load_state(state)
    got = resumed.fit(train_img, test_img, epochs=2)
    assert got == expected
    a, b = full.state(), resumed.state()
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_load_state_refuses_another_seed_and_leaves_trainer_unchanged(digits):
    (x, y), _ = digits
    t = make_trainer()
    t.fit((x[:64], y[:64]), epochs=1)
    state = t.state()
    other = make_trainer(seed=1)
    before = other.state()
    with pytest.raises(ValueError, match="seed 0"):
        other.load_state(state)
    broken = dict(state)
    broken["model.0.bias"] = np.zeros(3)
    same = make_trainer()
    with pytest.raises(ValueError, match="0.bias"):
        same.load_state(broken)
    for key, arr in before.items():
        np.testing.assert_array_equal(other.state()[key], arr)


def test_batch_order_depends_only_on_seed_and_epoch():
    a, b = make_trainer(seed=3), make_trainer(seed=3)
    np.testing.assert_array_equal(a.batch_order(2, 50), b.batch_order(2, 50))
    assert not np.array_equal(a.batch_order(1, 50), a.batch_order(2, 50))


def test_callbacks_get_json_metrics(digits):
    (x, y), (xt, yt) = digits
    seen = {"step": [], "epoch": []}

    class Recorder:
        def on_step(self, trainer, metrics):
            seen["step"].append(json.loads(json.dumps(metrics)))

        def on_epoch_end(self, trainer, metrics):
            seen["epoch"].append(json.loads(json.dumps(metrics)))

    make_trainer(callbacks=[Recorder(), object()]).fit((x[:96], y[:96]), (xt[:50], yt[:50]), epochs=2)
    assert [m["step"] for m in seen["step"]] == list(range(1, 7))
    assert {"loss", "update_ratio", "write_events", "pulses", "energy_system_j", "epoch"} <= seen["step"][0].keys()
    assert [m["epoch"] for m in seen["epoch"]] == [1, 2]
    assert 0 <= seen["epoch"][-1]["accuracy"] <= 1 and "update_ratio_epoch" in seen["epoch"][-1]


class NaNAt:
    def __init__(self, call):
        self.call, self.calls, self.inner = call, 0, CrossEntropyLoss()

    def forward(self, pred, target):
        self.calls += 1
        value = self.inner.forward(pred, target)
        return float("nan") if self.calls == self.call else value

    def backward(self):
        return self.inner.backward()


def test_nan_loss_stops_naming_the_step(digits):
    (x, y), _ = digits
    c = imc.Compute.create("cpu", 0)
    m = models.build("mlp", analog=None, compute=c)
    t = Trainer(m, NaNAt(3), make_optimizer("sgd", lr=0.1), make_rule("ideal"), c, batch_size=32, seed=0)
    with pytest.raises(TrainingDiverged, match="loss is nan at step 2 .epoch 0"):
        t.fit((x[:256], y[:256]), epochs=1)
    assert t.step == 2


def test_bad_input_is_a_clear_error(digits):
    (x, y), _ = digits
    t = make_trainer()
    with pytest.raises(ValueError, match="x has 10 samples but y has 9"):
        t.fit((x[:10], y[:9]))
    with pytest.raises(ValueError, match=r"expects input \(batch, 64\)"):
        t.fit((x[:10, :32], y[:10]))
    with pytest.raises(ValueError, match="integer class labels"):
        t.fit((x[:10], y[:10].astype(np.float32)))
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        t.fit((x[:10], y[:10]), epochs=0)
    with pytest.raises(ValueError, match="metric"):
        Trainer(t.model, t.loss, t.optimizer, t.rule, t.compute, batch_size=4, seed=0, metric="f1")


@pytest.mark.parametrize("name,params", [("dncnn", {"depth": 3, "channels": 4}), ("srnet", {"channels": 4})])
def test_image_models_train_with_psnr(digits, name, params):
    (x, _), _ = digits
    clean = x[:64].reshape(-1, 1, 8, 8)
    if name == "dncnn":
        noisy = clean + np.random.default_rng(0).normal(0, 0.1, clean.shape).astype(np.float32)
        data = (noisy, clean)
    else:
        data = (clean.reshape(-1, 1, 4, 2, 4, 2).mean(axis=(3, 5)), clean)  # 2x box-downsampled input
    for analog in (None, PAPER):
        c = imc.Compute.create("cpu", 0)
        m = models.build(name, analog=analog, compute=c, **params)
        t = Trainer(m, MSELoss(), make_optimizer("adam", lr=1e-3), make_rule("eapu"), c, batch_size=16, seed=0, metric="psnr")
        summary = t.fit(data, data, epochs=2)
        assert np.isfinite(summary["final"]["psnr"]) and summary["final"]["psnr"] > 5


def test_models_build_by_name():
    c = imc.Compute.create("cpu", 0)
    x = np.zeros((2, 1, 8, 8), np.float32)
    assert models.build("cnn", analog=None, compute=c).forward(x).shape == (2, 10)
    assert models.build("mlp", analog=PAPER, compute=c).forward(x.reshape(2, 64)).shape == (2, 10)
    assert models.build("dncnn", analog=None, compute=c).forward(x).shape == x.shape
    assert models.build("srnet", analog=None, compute=c).forward(x).shape == (2, 1, 16, 16)
    with pytest.raises(KeyError, match="known: cnn, dncnn, layers, mlp, srnet"):
        models.build("resnet", analog=None, compute=c)
    with pytest.raises(ValueError, match="unexpected keyword"):
        models.build("mlp", analog=None, compute=c, widht=3)
    # same seed, same initial weights whichever rule trains it
    a = models.build("mlp", analog=PAPER, compute=imc.Compute.create("cpu", 4))
    b = models.build("mlp", analog=PAPER, compute=imc.Compute.create("cpu", 4))
    np.testing.assert_array_equal(a.tiles()[0].peek_weights(), b.tiles()[0].peek_weights())


@pytest.mark.gpu
def test_gpu_training_matches_cpu_behaviour(digits):
    """The same code path on cupy: EaPU trains, writes sparsely, reports JSON-able results."""
    train, test = digits
    c = imc.Compute.create("gpu", 0)
    m = models.build("cnn", analog=PAPER, compute=c)
    t = Trainer(m, CrossEntropyLoss(), make_optimizer("sgd", lr=0.01, momentum=0.9), make_rule("eapu"), c,
                batch_size=32, seed=0)
    img = lambda d: (d[0].reshape(-1, 1, 8, 8), d[1])
    summary = t.fit(img(train), img(test), epochs=3)
    json.dumps(summary)
    assert summary["final"]["accuracy"] > 0.7
    assert 0 < summary["ledger"]["update_ratio_mean"] < 0.1
    assert all(isinstance(v, np.ndarray) for v in t.state().values())
