"""Seeded training runs of the digits MLP (hidden 64 and 1024, every rule, both memristor presets):
final metrics as JSON, to compare two versions of the code (python benchmarks/seeded_runs.py > out.json)."""
import json

import numpy as np
from sklearn.datasets import load_digits

from imc.compute import Compute
from imc.models import build
from imc.nn import AnalogConfig, CrossEntropyLoss
from imc.optim import SGD
from imc.rules import make_rule
from imc.train import Trainer

b = load_digits()
x, y = (b.data / 16).astype(np.float32), b.target.astype(np.int64)
out = {}
for hidden in (64, 1024):
    for preset in ("eapu-paper", "rram-realistic"):
        for rule in ("ideal", "original", "eapu", "mixed-precision", "manhattan"):
            for seed in ((0,) if hidden == 64 else (0, 1, 2)):
                if hidden == 1024 and rule != "eapu":
                    continue
                c = Compute.create("cpu", seed)
                m = build("mlp", analog=AnalogConfig(preset=preset), compute=c, hidden=hidden)
                t = Trainer(m, CrossEntropyLoss(), SGD(lr=0.1), make_rule(rule), c, batch_size=32, seed=seed)
                s = t.fit((x[:1400], y[:1400]), (x[1400:], y[1400:]), epochs=2)
                out[f"{hidden}/{preset}/{rule}/{seed}"] = {"acc": s["final"]["accuracy"], "loss": s["final"]["test_loss"],
                    "writes": s["ledger"]["write_events"], "ratio": s["ledger"]["update_ratio_mean"]}
print(json.dumps(out, indent=0))
