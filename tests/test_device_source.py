"""The engine receives objects: a layer is built on any device factory, registered or not."""

from __future__ import annotations

import numpy as np

import imc
import imc.registry
from imc.models import build
from imc.nn import AnalogConfig, CrossEntropyLoss, DeviceSource
from imc.optim import make_optimizer
from imc.rules import make_rule
from imc.train import Trainer


def test_training_on_an_unregistered_factory_never_consults_the_registry(monkeypatch):
    from imc_memristor import MemristorDevice

    spec = imc.get_registry().spec("memristor", "eapu-paper").evolve(name="my-cell")
    built = []

    def my_factory(*, spec, shape, compute):  # a backend under development: not installed anywhere
        built.append(tuple(shape))
        return MemristorDevice(spec=spec, shape=shape, compute=compute)

    device = DeviceSource(spec=spec, factory=my_factory)
    rule = make_rule("eapu")
    optimizer = make_optimizer("sgd", lr=0.05)

    def no_registry():
        raise AssertionError("the engine looked a backend up by name")

    monkeypatch.setattr(imc.registry, "get_registry", no_registry)
    compute = imc.Compute.create("cpu", 0)
    model = build("mlp", analog=AnalogConfig(device=device, max_tile_rows=16), compute=compute, pm=_pm(), inputs=32,
                  hidden=8, classes=2)
    assert sorted(built) == [(8, 2), (16, 8), (16, 8)]  # 32 inputs in tiles of 16 rows, then 8 -> 2
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    trainer = Trainer(model, CrossEntropyLoss(), optimizer, rule, compute, batch_size=16, seed=0)
    summary = trainer.fit((x, y), (x, y), epochs=2)
    assert summary["ledger"]["write_events"] > 0
    assert all(dev.spec.name == "my-cell" for _, p in model.named_parameters() if p.analog for dev in p.tile.devices)


def _pm():
    """A plugin manager for the model catalogue that does not go through get_registry."""
    return imc.registry.make_plugin_manager(autoload=False)
