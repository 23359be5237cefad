"""LIF forward and forward + backward for each usable backend of ours over (B, T, N, S)."""

from __future__ import annotations

import pytest
import torch

from synnet_triton.bench import (
    FORWARD,
    PASSES,
    Runner,
    Workload,
    make_input,
    pass_call,
    synchronized,
)
from synnet_triton.nn.lif import LIF

ROUNDS = 5
CPU_SIZES = [(8, 1000, 128, 1), (8, 1000, 128, 2), (32, 500, 512, 1), (4, 10_000, 64, 1)]
GPU_SIZES = [(64, 1000, 512, 1), (64, 1000, 512, 2), (16, 500, 16_384, 1),
             (64, 10_000, 512, 1), (128, 250, 128, 1)]


def _backends(device: torch.device) -> list[str]:
    # The Triton kernels run on CPU only under the interpreter, which is not benchmarked.
    return ["triton", "torch"] if device.type == "cuda" else ["torch"]


def _sizes(device: torch.device) -> list[tuple[int, int, int, int]]:
    return GPU_SIZES if device.type == "cuda" else CPU_SIZES


@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("size_index", range(max(len(CPU_SIZES), len(GPU_SIZES))))
@pytest.mark.parametrize("backend", ["triton", "torch"])
def test_lif(benchmark, device, backend, size_index, pass_):
    if backend not in _backends(device):
        pytest.skip(f"backend {backend} is not benchmarked on {device.type}")
    sizes = _sizes(device)
    if size_index >= len(sizes):
        pytest.skip(f"{device.type} has {len(sizes)} sizes")
    batch, steps, neurons, synapses = sizes[size_index]
    workload = Workload("lif", "lif", batch, steps, neurons, synapses)
    lif = LIF(neurons, synapses, max_spikes_per_dt=31, backend=backend).to(device)
    x = make_input(workload, device, seed=0).requires_grad_(pass_ != FORWARD)
    runner = Runner(lambda inputs: inputs, lif, list(lif.parameters()))

    benchmark.group = f"LIF {pass_} B={batch} T={steps} N={neurons} S={synapses}"
    benchmark.extra_info.update(neuron_steps=workload.neuron_steps, backend=backend)
    benchmark.pedantic(synchronized(pass_call(runner, x, pass_), device), rounds=ROUNDS,
                       warmup_rounds=1)
