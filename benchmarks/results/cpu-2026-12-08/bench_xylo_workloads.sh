cd "$(dirname "$0")/../../.."
run() { echo "== $*"; timeout 900 .venv/bin/python benchmarks/bench_xylo.py --rockpool-samples 8 --repeats 2 "$@" 2>&1 | grep -E "workload|seconds_best|throughput_ratio|hidden_spikes|Error"; }
run
run --dense
run --dense --recurrence 0
run --dense --dense-dash 4
run --dense --dense-dash 8
run --dense --dense-dash 4 --recurrence 0
