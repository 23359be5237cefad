#!/usr/bin/env bash
# Build `.venv-peers`: a separate virtual environment holding every peer library of the
# side-by-side benchmark (Norse, SpikingJelly, snnTorch, Rockpool) next to this package.
#
# Why separate: Norse and SpikingJelly require torchvision, and PyPI's torchvision does not
# import beside the CPU build of torch that the project venv uses; installing them into
# `.venv` would replace its torch with a CUDA build of several GB. Here we install a matching
# torch/torchvision pair first so that pip resolves the peers against it and pulls nothing
# else. On x86_64 that pair is torch 2.14.1 + torchvision 0.29.1 (a CUDA build, ~5.5 GB, runs
# on the CPU too); on aarch64 torch 2.9.1 + torchvision 0.24.1 (a CPU build, ~0.7 GB).
#
# Usage:  bash benchmarks/setup_peers_venv.sh [VENV_DIR]     (default: .venv-peers)
# Then:   .venv-peers/bin/python -m synnet_triton.bench --help
# Idempotent: re-running only installs what is missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv_dir="${1:-$repo_root/.venv-peers}"
python_bin="${PYTHON:-python3}"

case "$(uname -m)" in
    x86_64) torch_pair=("torch==2.14.1" "torchvision==0.29.1") ;;
    aarch64) torch_pair=("torch==2.9.1" "torchvision==0.24.1") ;;
    *) echo "unsupported machine $(uname -m): pick a torch/torchvision pair by hand" >&2; exit 1 ;;
esac

test -x "$venv_dir/bin/python" || "$python_bin" -m venv "$venv_dir"
pip=("$venv_dir/bin/python" -m pip install -q)

"${pip[@]}" --upgrade pip
"${pip[@]}" "${torch_pair[@]}"
# The peers, each resolved against the torch pair above (listing the pair again keeps pip
# from upgrading it).
"${pip[@]}" "${torch_pair[@]}" norse spikingjelly "snntorch>=0.9" "rockpool==3.1.*"
# This package without its dependencies (they would re-resolve torch), then its light ones.
"${pip[@]}" --no-deps -e "$repo_root"
"${pip[@]}" "${torch_pair[@]}" numpy tqdm "triton>=3.0" pytest pytest-benchmark matplotlib

"$venv_dir/bin/python" - <<'PY'
import importlib

for name in ("torch", "torchvision", "norse", "spikingjelly", "snntorch", "rockpool",
             "synnet_triton"):
    module = importlib.import_module(name)
    print(f"{name:14s} {getattr(module, '__version__', '?')}")
PY
