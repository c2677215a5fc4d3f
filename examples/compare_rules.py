"""Compare update rules on scikit-learn's digits: accuracy, writes, update ratio, energy, lifetime.

Every rule trains the same model (same seed, same initial weights, same batch order,
same optimiser settings) on the same device backend; the table shows the ledger columns.

    python examples/compare_rules.py                                  # MLP, memristor eapu-paper
    python examples/compare_rules.py --model cnn --batch-size 8 --lr 0.0005 --k 1.5 --epochs 40
    python examples/compare_rules.py --backend fefet --preset fefet
    python examples/compare_rules.py --backend mram --preset stt
    python examples/compare_rules.py --json results.json              # also write all summaries
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.datasets import load_digits

import imc
from imc import models
from imc.nn import AnalogConfig, CrossEntropyLoss
from imc.optim import make_optimizer
from imc.rules import make_rule
from imc.train import Trainer

RULES = ("ideal", "original", "eapu", "mixed-precision", "manhattan")


def digits(seed: int = 0, test_fraction: float = 0.2, image: bool = False):
    """Digits scaled to [0, 1], shuffled with ``seed``: ((x_train, y_train), (x_test, y_test))."""
    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    if image:
        x = x.reshape(-1, 1, 8, 8)
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = round(len(x) * test_fraction)
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])


def run(rule: str, args, rule_params: dict) -> dict:
    compute = imc.Compute.create(args.compute, args.seed)
    analog = AnalogConfig(backend=args.backend, preset=args.preset, dac_bits=args.dac_bits, adc_bits=args.adc_bits)
    model = models.build(args.model, analog=analog, compute=compute)
    opt = make_optimizer(args.optimizer, lr=args.lr, **({"momentum": args.momentum} if args.optimizer == "sgd" else {}))
    trainer = Trainer(model, CrossEntropyLoss(), opt, make_rule(rule, **rule_params), compute,
                      batch_size=args.batch_size, seed=args.seed)
    train, test = digits(args.seed, image=args.model == "cnn")
    start = time.perf_counter()
    summary = trainer.fit(train, test, epochs=args.epochs)
    summary["seconds"] = time.perf_counter() - start
    return summary


def row(rule: str, s: dict) -> list:
    led = s["ledger"]
    life = led["lifetime"]["trainings_worst_cell"]
    e, b = led["energy_by_category_j"], led["energy_by_boundary_j"]
    return [
        rule,
        f"{100 * s['final']['accuracy']:.2f}",
        f"{led['write_events']:,}",
        f"{1000 * led['update_ratio_mean']:.3f}",
        f"{1000 * led['update_ratio_mean_after_first_epoch']:.3f}",
        f"{led['wear']['max_pulses']}",
        f"{e['array_write']:.3e}",
        f"{b['array']:.3e}",
        f"{b['chip']:.3e}",
        f"{b['system']:.3e}",
        "inf" if life is None else f"{life:.3g}",
    ]


HEADER = ["rule", "acc %", "write events", "ratio o/oo", "ratio>ep1 o/oo", "worst pulses", "write J", "array J", "chip J",
          "system J", "lifetimes (worst cell)"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    p.add_argument("--backend", default="memristor")
    p.add_argument("--preset", default="eapu-paper")
    p.add_argument("--rules", default=",".join(RULES), help="comma-separated rule names")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--k", type=float, default=1.0, help="EaPU threshold multiplier (dG_th = k * write noise)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compute", default="cpu")
    p.add_argument("--dac-bits", type=int, default=None)
    p.add_argument("--adc-bits", type=int, default=None)
    p.add_argument("--json", default=None, help="write every summary to this JSON file")
    args = p.parse_args(argv)
    results = {}
    print(f"# {args.model} on digits, {args.backend}/{args.preset}, {args.optimizer} lr={args.lr} "
          f"momentum={args.momentum}, batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}")
    print(" | ".join(HEADER))
    for rule in [r.strip() for r in args.rules.split(",") if r.strip()]:
        params = {"k": args.k} if rule == "eapu" else {}
        results[rule] = run(rule, args, params)
        print(" | ".join(row(rule, results[rule])), flush=True)
    if "eapu" in results and "original" in results:
        e, o = results["eapu"]["ledger"], results["original"]["ledger"]
        eb, ob = e["energy_by_boundary_j"], o["energy_by_boundary_j"]
        print(f"original/eapu: write events {o['write_events'] / max(e['write_events'], 1):.1f}x, "
              + ", ".join(f"{k} energy {ob[k] / max(eb[k], 1e-30):.2f}x" for k in ("array", "chip", "system")))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "results": results}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
