"""The benchmark script runs end to end at tiny sizes and writes its JSON and Markdown (no timing checks)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_script_runs_at_tiny_sizes(tmp_path):
    cmd = [sys.executable, "-m", "benchmarks.run", "--quick", "--reps", "1", "--block-scale", "0",
           "--b2-size", "32", "--b2-batch", "8", "--b3-size", "32", "--b3-batch", "4",
           "--sizes", "16,32", "--mem-size", "16", "--batches", "8", "--ledger-epochs", "2", "--out", str(tmp_path), "--label", "smoke"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "smoke.json").read_text())
    ids = {r["id"] for r in data["results"]}
    assert {"B1-eapu-eapu-paper-b8", "B1-eapu-rram-realistic-b8", "B6-b8", "B7-ideal-eapu-paper-b32", "B8"} <= ids
    assert {"B2", "B3", "B3-adc", "B4-16", "B4-32", "B4-mem-eapu", "B4-mem-mixed-precision"} <= ids
    assert any(i.startswith("B5-") for i in ids)
    assert all(r["ratio"] > 0 for r in data["results"] if "ratio" in r)
    assert {"cpu", "numpy", "blas", "date_utc"} <= set(data["machine"])
    assert "| B2 |" in (tmp_path / "smoke.md").read_text()


def test_gpu_script_parses_and_passes_only_known_flags(monkeypatch):
    """benchmarks/gpu.sh is the prepared GPU session: its shell parses and every flag it gives benchmarks.run exists.

    (``COMPUTE=standin SMALL=1 benchmarks/gpu.sh`` runs all of it on the stand-in; see docs/performance.md.)"""
    import re

    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is a folder of the checkout, not an installed package
    from benchmarks import run

    path = ROOT / "benchmarks" / "gpu.sh"
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    script = path.read_text()
    bench = script[script.index("SIZES=(") : script.index("fi\n")] + script[script.index("-m benchmarks.run") :]
    known = {opt for action in run.build_parser()._actions for opt in action.option_strings}
    used = set(re.findall(r"(--[a-z][a-z0-9-]*)", bench))
    assert used and used <= known, sorted(used - known)
