"""Compare update rules on scikit-learn's digits through the library API (no config file).

The same data split, model, optimiser and seed as ``imc compare`` on the built-in default
config; each rule trains the same model (same initial weights, same batch order) on the
memristor the EaPU paper simulates. The command-line tool is the place for real
comparisons (``imc compare --rules ideal,original,eapu``); this shows the parts it is built
from.

    python examples/compare_rules.py
    python examples/compare_rules.py --rules original,eapu --epochs 5
"""

from __future__ import annotations

import argparse

import imc
from imc.models import build
from imc.nn import AnalogConfig, CrossEntropyLoss, DeviceSource
from imc.optim import make_optimizer
from imc.rules import make_rule
from imc.tasks import load_task
from imc.tasks.digits import DigitsTask
from imc.train import Trainer


def train(rule: str, device: DeviceSource, epochs: int, seed: int = 0) -> dict:
    """One rule on digits (the default config's split: 25 % held out, stratified, split seed 0)."""
    data = load_task(DigitsTask())
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731  (the MLP takes flat inputs)
    compute = imc.Compute.create("cpu", seed)
    model = build("mlp", analog=AnalogConfig(device=device), compute=compute, inputs=64, classes=10, hidden=64)
    trainer = Trainer(model, CrossEntropyLoss(), make_optimizer("sgd", lr=0.005, momentum=0.9),
                      make_rule(rule), compute, batch_size=32, seed=seed)
    return trainer.fit((flat(data.x_train), data.y_train), (flat(data.x_test), data.y_test), epochs=epochs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rules", default="ideal,original,eapu", help="comma-separated rule names")
    p.add_argument("--epochs", type=int, default=30)
    args = p.parse_args(argv)
    device = DeviceSource.from_registry("memristor", "eapu-paper")  # resolved once, shared by every rule
    print(f"{'rule':>10}  {'accuracy':>8}  {'write events':>13}  {'lifetime (trainings)':>20}")
    for rule in [r.strip() for r in args.rules.split(",") if r.strip()]:
        summary = train(rule, device, args.epochs)
        ledger = summary["ledger"]
        life = ledger["lifetime"]["trainings_worst_cell"]
        print(f"{rule:>10}  {summary['final']['accuracy']:8.4f}  {ledger['write_events']:13,}  "
              f"{'unlimited' if life is None else format(life, '.3g'):>20}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
