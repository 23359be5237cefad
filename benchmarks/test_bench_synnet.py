"""One SynNet training step (forward, cross-entropy on the time-averaged readout membrane,
backward, Adam update): ours (``synnet_triton.nn.synnet.SynNet``) and Rockpool's ``SynNet`` with
the same constructor arguments, in one pytest-benchmark group."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import pytest
import torch
from torch import Tensor, nn

ROUNDS = 3
CHANNELS, CLASSES = 16, 8
CPU_BATCH, CPU_STEPS = 4, 250  # Rockpool's SynNet takes minutes per step beyond this on 2 cores
GPU_BATCH, GPU_STEPS = 32, 1000
SYNNET_ARGS = dict(n_classes=CLASSES, n_channels=CHANNELS, size_hidden_layers=[60, 60, 60],
                   time_constants_per_layer=[2, 4, 8], output="vmem")


def _ours(device: torch.device) -> tuple[nn.Module, Callable[[Tensor], Tensor]]:
    from synnet_triton.nn.synnet import SynNet

    net = SynNet(**SYNNET_ARGS).to(device)
    return net, net


def _rockpool(device: torch.device) -> tuple[nn.Module, Callable[[Tensor], Tensor]]:
    from rockpool.nn.networks import SynNet

    net = SynNet(**SYNNET_ARGS).to(device)

    def forward(x: Tensor) -> Tensor:
        # Rockpool modules carry state between calls; each batch starts from rest.
        net.reset_state()
        output, _, _ = net(x)
        return output

    return net, forward


BUILDERS = {"synnet_triton SynNet": ("synnet_triton.nn.synnet", _ours),
            "rockpool SynNet": ("rockpool", _rockpool)}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_synnet_training_step(benchmark, device, name):
    module_name, build = BUILDERS[name]
    if importlib.util.find_spec(module_name) is None:
        pytest.skip(f"{module_name} not available")
    torch.manual_seed(0)
    net, forward = build(device)
    parameters = list(nn.Module.parameters(net))
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    batch, steps = (GPU_BATCH, GPU_STEPS) if device.type == "cuda" else (CPU_BATCH, CPU_STEPS)
    generator = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, steps, CHANNELS, generator=generator) < 0.05).float().to(device)
    labels = torch.randint(CLASSES, (batch,), generator=generator).to(device)

    def training_step() -> None:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(forward(x).mean(dim=1), labels)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    benchmark.group = f"SynNet training step B={batch} T={steps} ({device.type})"
    benchmark.pedantic(training_step, rounds=ROUNDS, warmup_rounds=1)
