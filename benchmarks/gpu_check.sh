#!/usr/bin/env bash
# One-call GPU check of the fused Triton kernels: ./benchmarks/gpu_check.sh [OUT_DIR]
#
# Needs one CUDA GPU with python, torch and triton already installed (rockpool and
# matplotlib optional); installs nothing and takes a few minutes (each step has a timeout,
# under 8 minutes in all). Writes into OUT_DIR (default gpu-results/):
#   env.txt            GPU, driver, python/torch/triton versions
#   cuda-tests.txt/xml the CUDA test subset (tests/kernels/test_kernels_cuda.py, compiled kernels)
#   gpu_bench.json/png the benchmark (benchmarks/gpu_bench.py)
#   summary.txt        the exit status of every step
set -uo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mkdir -p "${1:-gpu-results}" && cd "${1:-gpu-results}" && pwd)"
PY="${PYTHON:-python}"
cd "$REPO"

# The compiled kernels, not the interpreter that tests/conftest.py picks by default.
export TRITON_INTERPRET=0

# Without an installed package, make `synnet_triton.kernels` (the kernels/ folder, mapped by
# pyproject's package-dir) importable through a folder of symlinks; nothing is installed.
if ! "$PY" -c "import synnet_triton.kernels" 2>/dev/null; then
    SHIM="$(mktemp -d)"
    mkdir "$SHIM/synnet_triton"
    for entry in "$REPO"/synnet_triton/*; do ln -s "$entry" "$SHIM/synnet_triton/"; done
    ln -s "$REPO/kernels" "$SHIM/synnet_triton/kernels"
    export PYTHONPATH="$SHIM${PYTHONPATH:+:$PYTHONPATH}"
fi

{
    date -u +"%Y-%m-%dT%H:%M:%SZ"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    "$PY" -c "import sys, torch, triton; print('python', sys.version.split()[0]); print('torch', torch.__version__, 'cuda', torch.version.cuda); print('triton', triton.__version__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

timeout 300 "$PY" -m pytest -q -m cuda tests/kernels/test_kernels_cuda.py tests/ecosystem/test_ecosystem_cuda.py -p no:cacheprovider \
    -o addopts="" -rs --junitxml="$OUT/cuda-tests.xml" 2>&1 | tee "$OUT/cuda-tests.txt"
TESTS=${PIPESTATUS[0]}

timeout 150 "$PY" benchmarks/gpu_bench.py --out "$OUT" 2>&1 | tee "$OUT/gpu_bench.txt"
BENCH=${PIPESTATUS[0]}

printf 'cuda tests exit %s\nbenchmark exit %s\n' "$TESTS" "$BENCH" | tee "$OUT/summary.txt"
[ "$TESTS" -eq 0 ] && [ "$BENCH" -eq 0 ]
