#!/usr/bin/env bash
# Issue 7 GPU checks, one script for a machine with cupy and a CUDA device (a few minutes).
# Usage (repository root): PY=.venv/bin/python benchmarks/gpu.sh
# Writes benchmarks/results/gpu-<time>.json/.md; copy them back and commit them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
nvidia-smi --query-gpu=name,memory.total --format=csv || true
"$PY" -c "import cupy; print('cupy', cupy.__version__, 'devices', cupy.cuda.runtime.getDeviceCount())"
# 1. the GPU tests (skipped on CPU-only machines)
"$PY" -m pytest -q -m gpu tests
# 2. cupy against the cupy product floor at 8192x8192, and cupy against numpy on the same step
timeout 480 "$PY" -m benchmarks.run --compute gpu --only B2,B3,B4,B5 --b2-size 8192 --b3-size 8192 --b3-batch 256 \
    --sizes 1024,2048,4096,8192 --b4-batch 256 --reps 5 --vs-numpy --label "gpu-$STAMP"
