#!/usr/bin/env bash
# The GPU session in one script (issues 7 and 15), for a machine with cupy and a CUDA device
# (about 5 minutes): the GPU tests, the numpy-vs-cupy conformance check on every backend, and
# the cupy benchmarks. Results: benchmarks/results/gpu-<time>.json/.md and
# gpu-conformance-<time>.json; copy them back and commit them.
#
#   PY=.venv/bin/python benchmarks/gpu.sh
#
# Dry run on any machine (the cupy stand-in on numpy, tiny sizes), to prove every command runs:
#   COMPUTE=standin SMALL=1 PY=.venv/bin/python benchmarks/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
COMPUTE=${COMPUTE:-gpu}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-benchmarks/results}
if [ "${SMALL:-0}" = 1 ]; then
    SIZES=(--b2-size 64 --b3-size 64 --b3-batch 8 --sizes 32,64 --b4-batch 8 --mem-size 32 --reps 1
           --block-scale 0.01 --ledger-epochs 2 --batches 8)
else
    SIZES=(--b2-size 8192 --b3-size 8192 --b3-batch 256 --sizes 1024,2048,4096,8192 --b4-batch 256 --reps 5)
fi
if [ "$COMPUTE" = gpu ]; then
    nvidia-smi --query-gpu=name,memory.total --format=csv || true
    "$PY" -c "import cupy; print('cupy', cupy.__version__, 'devices', cupy.cuda.runtime.getDeviceCount())"
    # 1. the GPU tests (skipped on CPU-only machines)
    "$PY" -m pytest -q -m gpu tests
    # 2. numpy vs cupy on every installed backend: same products from the same state, same write statistics
    "$PY" -m imc.cli conformance --all --compute gpu --check numpy_cupy_agree \
        --json "$OUT/gpu-conformance-$STAMP.json" || echo "numpy_cupy_agree FAILED on some backend: see $OUT/gpu-conformance-$STAMP.json"
else
    # 1-2 on the stand-in: every preset and rule trains under it within the host-sync budget
    "$PY" -m pytest -q tests/test_cupy_standin.py
fi
# 3. the benchmarks on this compute: B1 rules vs ideal, B2-B5 against the product floors, B2 also
#    against the same step on numpy, B6/B7 against hand-written numpy steps, B8 the ledger
timeout 540 "$PY" -m benchmarks.run --compute "$COMPUTE" --only B1,B2,B3,B4,B5,B6,B7,B8 --rules eapu "${SIZES[@]}" \
    --vs-numpy --out "$OUT" --label "gpu-$COMPUTE-$STAMP"
