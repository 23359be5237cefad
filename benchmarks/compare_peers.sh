#!/usr/bin/env bash
# The side-by-side comparison with every peer: builds `.venv-peers` if it is missing
# (benchmarks/setup_peers_venv.sh), then runs `python -m synnet_triton.bench` there.
#
# Usage:  bash benchmarks/compare_peers.sh [bench arguments...]
#   e.g.  bash benchmarks/compare_peers.sh --suite issue2 --out bench-results/cpu
# Without arguments: every default suite, results in bench-results/<device>/.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_dir="${PEERS_VENV:-$repo_root/.venv-peers}"

test -x "$venv_dir/bin/python" || bash "$repo_root/benchmarks/setup_peers_venv.sh" "$venv_dir"

if [ "$#" -eq 0 ]; then
    device="$("$venv_dir/bin/python" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')"
    set -- --out "$repo_root/bench-results/$device"
fi
cd "$repo_root"
exec "$venv_dir/bin/python" -m synnet_triton.bench "$@"
