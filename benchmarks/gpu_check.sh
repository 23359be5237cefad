#!/usr/bin/env bash
# One-call GPU check of the fused Triton kernels, and its rehearsal on a CPU machine.
#
#   benchmarks/gpu_check.sh [OUT]             on the GPU server (default OUT: gpu-results/)
#   benchmarks/gpu_check.sh --rehearse OUT    the same steps on a CPU: kernels under the Triton
#                                             interpreter, the benchmark's dry run for timings
#
# Needs python3 (or $PYTHON) with torch and triton; pytest for the test steps; matplotlib,
# rockpool optional. Installs nothing and imports the package from this checkout, never from
# site-packages: a folder of symlinks maps kernels/ to synnet_triton.kernels (as pyproject's
# package-dir does), every Python step runs from a scratch folder with PYTHONSAFEPATH=1 so
# the checkout's own synnet_triton/ (which has no kernels/) cannot shadow it.
#
# The device call brings back at most 8 files, so OUT receives exactly seven, always (also
# when a step fails): summary.txt (the benchmark's headline, one line per step with status,
# time and limit, the first failure and the last line of its log), results.tar.gz (every
# step's log and output), and beside them the figures read first: gpu_bench.json,
# gpu_bench.png, gpu_hardware.json, kernel_configs.json, cuda-tests.txt (a placeholder line
# where a step wrote none). Everything else (the symlinks, the steps' working folder, the
# Triton, inductor and matplotlib caches, hypothesis' database, $HOME, the logs) lives in a
# scratch folder under $TMPDIR that is removed at the end: nothing is written outside OUT.
#
# Steps in order of what matters most if the call is cut short, with their time limits in
# seconds, 480 in all (within the 8-minute call even if every step ran to its limit):
#   env 15 · import 30
#   · benchmark 75 (benchmarks/gpu_bench.py: Triton and the torch reference at B=64 T=10 000
#     N=512, Linear+LIF up to n=16 384, each checked against the reference before it is timed)
#   · hardware 35 (benchmarks/gpu_hardware.py: the Xylo simulation one launch per layer and a
#     hardware-exact training step on CUDA, each checked against the CPU before it is timed)
#   · cuda-tests 120 (hypothesis cases, a >2^31-element call, one torch.compile)
#   · kernel-configs 75 (benchmarks/kernel_configs.py: BLOCK_N 32/64 × num_stages 3 and
#     deeper, forward and x-only backward, and time-chunked register tiles, CHUNK_T 16 and 8
#     (benchmarks/chunked_time_tiles.py), on the model's workloads (a)-(c), each checked
#     bitwise against the default configuration before it is timed; rows saved as they come)
#   · compile-report 65 (AOT builds for sm_90a and the performance model)
#   · kernel-structure 65 (tests/kernels/test_kernels_compile.py: sm_80 and sm_90a builds)
# On a 2-core CPU (rehearsal) the compile steps take 20-45 s (48 builds per capability,
# compiled in parallel processes: seconds on the server's 16 cores), the others 2-15 s.
set -uo pipefail

MODE=gpu
if [ "${1:-}" = "--rehearse" ]; then
    MODE=rehearsal
    shift
    [ -n "${1:-}" ] || { echo "usage: $0 --rehearse OUT" >&2; exit 2; }
fi
REPO="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mkdir -p "${1:-gpu-results}" && cd "${1:-gpu-results}" && pwd)"

if [ -n "${PYTHON:-}" ]; then
    PY="$PYTHON"
elif command -v python3 >/dev/null 2>&1; then
    PY=python3
else
    PY=python
fi
# a relative interpreter path must survive the steps' change of directory
case "$PY" in /*) ;; */*) PY="$PWD/$PY" ;; esac

SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"
SHIM="$SCRATCH/shim"
WORK="$SCRATCH/work"
CACHE="$SCRATCH/cache"
LOGS="$SCRATCH/results"
SUMMARY="$OUT/summary.txt"
BROUGHT_BACK=(gpu_bench.json gpu_bench.png gpu_hardware.json kernel_configs.json cuda-tests.txt)
STEPS=()
FIRST_FAILURE=""
mkdir -p "$SHIM/synnet_triton" "$WORK" "$LOGS" "$CACHE/home" "$CACHE/triton" \
    "$CACHE/matplotlib" "$CACHE/inductor" "$CACHE/hypothesis"

write_summary() {
    {
        echo "gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) mode=$MODE python=$PY repo=$REPO"
        [ -f "$LOGS/headline.txt" ] && cat "$LOGS/headline.txt"
        printf '%-18s %-24s %8s %6s\n' step status seconds limit
        for line in "${STEPS[@]}"; do echo "$line"; done
        if [ -n "$FIRST_FAILURE" ]; then
            echo "first failure: $FIRST_FAILURE"
        else
            echo "all steps passed"
        fi
    } > "$SUMMARY"
}
# OUT gets its seven files and nothing else, after every step (a call cut short still
# brings back what ran); at the end the scratch folder goes.
publish() {
    write_summary > /dev/null
    cp "$SUMMARY" "$LOGS/summary.txt"
    for name in "${BROUGHT_BACK[@]}"; do
        if [ -f "$LOGS/$name" ]; then
            cp "$LOGS/$name" "$OUT/$name"
        else
            echo "not written: the step that writes $name failed or did not run" > "$OUT/$name"
        fi
    done
    tar -czf "$OUT/results.tar.gz.partial" -C "$LOGS" . && \
        mv "$OUT/results.tar.gz.partial" "$OUT/results.tar.gz"
}
cleanup() {
    publish
    cat "$SUMMARY"
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

for entry in "$REPO"/synnet_triton/*; do
    [ "$(basename "$entry")" = "__pycache__" ] || ln -s "$entry" "$SHIM/synnet_triton/"
done
ln -s "$REPO/kernels" "$SHIM/synnet_triton/kernels"

export PYTHONPATH="$SHIM${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONSAFEPATH=1 PYTHONDONTWRITEBYTECODE=1
export HOME="$CACHE/home" XDG_CACHE_HOME="$CACHE" MPLCONFIGDIR="$CACHE/matplotlib"
export TRITON_HOME="$CACHE/triton" TRITON_CACHE_DIR="$CACHE/triton/cache"
export TORCHINDUCTOR_CACHE_DIR="$CACHE/inductor" HYPOTHESIS_STORAGE_DIRECTORY="$CACHE/hypothesis"
# A rehearsal runs on a small shared CPU where the compile steps are slower than on the GPU
# server's 16 cores: its limits are doubled (the GPU limits are the ones above).
LIMIT_SCALE=1
if [ "$MODE" = gpu ]; then
    export TRITON_INTERPRET=0   # the compiled kernels, not the interpreter tests/conftest.py picks
else
    export TRITON_INTERPRET=1
    LIMIT_SCALE=2
fi

# step NAME LIMIT LOG COMMAND...: run COMMAND from the scratch folder with a time limit, log to LOG
# (and the terminal), record the status. Later steps run after a failure: each says something.
step() {
    local name="$1" limit=$(( $2 * LIMIT_SCALE )) log="$3"
    shift 3
    local start end status code
    start=$(date +%s%N)
    (cd "$WORK" && timeout "$limit" "$@") 2>&1 | tee "$log"
    code=${PIPESTATUS[0]}
    end=$(date +%s%N)
    if [ "$code" -eq 0 ]; then
        status=ok
    elif [ "$code" -eq 124 ]; then
        status="timed out"
    else
        status="failed (exit $code)"
    fi
    local tenths=$(( (end - start) / 100000000 ))
    STEPS+=("$(printf '%-18s %-24s %6d.%d %6s' "$name" "$status" $((tenths / 10)) $((tenths % 10)) "$limit")")
    if [ "$code" -ne 0 ] && [ -z "$FIRST_FAILURE" ]; then
        FIRST_FAILURE="$name: $status: $(grep -v '^\s*$' "$log" | tail -n 1)"
    fi
    publish
    return 0
}

env_report() {
    date -u +"%Y-%m-%dT%H:%M:%SZ"
    echo "mode $MODE"
    if command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    else
        echo "nvidia-smi: not found"
    fi
    "$PY" -c "import sys, numpy, torch, triton; print('python', sys.version.split()[0]); print('numpy', numpy.__version__); print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available()); print('triton', triton.__version__)"
}
export -f env_report
export MODE PY

step env 15 "$LOGS/env.txt" bash -c env_report
step import 30 "$LOGS/import.txt" "$PY" -c "import synnet_triton, synnet_triton.kernels as k, synnet_triton.ops.lif.triton_backend; print('synnet_triton from', synnet_triton.__file__); print('kernels from', k.__file__)"
PYTEST=("$PY" -m pytest -q -p no:cacheprovider -o addopts= -rs --rootdir "$REPO" -c "$REPO/pyproject.toml")
DRY=()
[ "$MODE" = gpu ] || DRY=(--dry-run)
step benchmark 75 "$LOGS/gpu_bench.txt" "$PY" "$REPO/benchmarks/gpu_bench.py" "${DRY[@]}" \
    --out "$LOGS"
step hardware 35 "$LOGS/gpu_hardware.txt" "$PY" "$REPO/benchmarks/gpu_hardware.py" "${DRY[@]}" \
    --out "$LOGS"
step cuda-tests 120 "$LOGS/cuda-tests.txt" "${PYTEST[@]}" -m cuda \
    --junitxml="$LOGS/cuda-tests.xml" \
    "$REPO/tests/kernels/test_kernels_cuda.py" "$REPO/tests/ecosystem/test_ecosystem_cuda.py"
if [ "$MODE" = gpu ]; then
    step kernel-configs 75 "$LOGS/kernel_configs.txt" "$PY" "$REPO/benchmarks/kernel_configs.py" \
        --out "$LOGS"
else
    step kernel-configs 75 "$LOGS/kernel_configs.txt" "$PY" "$REPO/benchmarks/kernel_configs.py" \
        --dry-run --repeats 1 --out "$LOGS"
fi
step compile-report 65 "$LOGS/compile-report.txt" bash -c \
    "'$PY' -m synnet_triton.cli kernels --capability 90 --predict"
step kernel-structure 65 "$LOGS/kernel-structure.txt" "${PYTEST[@]}" \
    --junitxml="$LOGS/kernel-structure.xml" "$REPO/tests/kernels/test_kernels_compile.py"

[ -z "$FIRST_FAILURE" ]
