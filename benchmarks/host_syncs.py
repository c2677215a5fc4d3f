"""Host synchronisations per training step, per rule and preset, under the cupy stand-in.

    python -m benchmarks.host_syncs [--layers 2] [--steps 3]

The stand-in (``Compute.create("standin")``) counts every point where a GPU run would wait
for the device: ``bool()/int()/float()/.item()/.get()``, boolean masks, ``flatnonzero``...
A digits MLP with ``--layers`` analog layers trains ``--steps`` steps per combination (after
one warm-up step); the table gives syncs per step and where the most frequent ones come from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

import numpy as np


def count(backend: str, preset: str, rule: str, layers: int, steps: int, x, y) -> tuple[float, str]:
    from imc.compute import Compute
    from imc.nn import AnalogConfig, CrossEntropyLoss, Linear, ReLU, Sequential
    from imc.optim import make_optimizer
    from imc.rules import make_rule
    from imc.train import Trainer

    c = Compute.create("standin", 0)
    cfg = AnalogConfig(backend=backend, preset=preset)
    sizes = [64] + [32] * (layers - 1) + [10]
    mods = []
    for k in range(layers):
        mods.append(Linear(sizes[k], sizes[k + 1], compute=c.spawn(k + 1), analog=cfg))
        if k < layers - 1:
            mods.append(ReLU())
    t = Trainer(Sequential(*mods), CrossEntropyLoss(), make_optimizer("sgd", lr=0.1, momentum=0.9), make_rule(rule), c,
                batch_size=16, seed=0)
    batches = [(c.xp.asarray(x[i : i + 16]), c.xp.asarray(y[i : i + 16])) for i in range(0, 16 * (steps + 1), 16)]
    t.train_step(*batches[0], 0, checked=True)
    c.xp.reset()
    for xb, yb in batches[1:]:
        t.train_step(xb, yb, 0, checked=True)
    top = sorted(c.xp.sync_sites.items(), key=lambda kv: -kv[1])[:2]
    where = "; ".join(f"{kind} {Path(site).name}" for (kind, site), _ in top)
    return c.xp.sync_count / steps, where


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args(argv)
    import imc
    from imc.rules import available_rules

    from .cases import digits_arrays

    x, y = digits_arrays()
    x, y = x[: 16 * (args.steps + 1)], y[: 16 * (args.steps + 1)].astype(np.int64)
    reg = imc.get_registry()
    print(f"Host syncs per training step under the cupy stand-in ({args.layers} analog layers)\n")
    print("| backend | preset | " + " | ".join(available_rules()) + " |")
    print("|---|---|" + "---|" * len(available_rules()))
    notes = {}
    for backend, entry in sorted(reg.backends().items()):
        for preset in sorted(entry.info.presets):
            cells = []
            for rule in available_rules():
                n, where = count(backend, preset, rule, args.layers, args.steps, x, y)
                cells.append(f"{n:g}")
                if n > 2:
                    notes.setdefault(rule, where)
            print(f"| {backend} | {preset} | " + " | ".join(cells) + " |")
    for rule, where in notes.items():
        print(f"\n{rule}: most frequent syncs at {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
