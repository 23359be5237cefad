"""The measured configurations: constants shared by every contender, workloads, suites and
the shared input."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

TAU_MEM = 0.02
TAU_SYN = 0.02
DT = 1e-3
THRESHOLD = 1.0
MAX_SPIKES = 31
LEARNING_WINDOW = 0.5
CHECKPOINT_EVERY = 32
"""Segment length of our checkpointed variant: (v, i) saved every 32 steps is 0.25 B per
neuron-step at S = 1."""

FORWARD = "fwd"
FORWARD_BACKWARD = "fwd+bwd"
PASSES = (FORWARD, FORWARD_BACKWARD)


@dataclass(frozen=True)
class Workload:
    """One measured configuration.

    Input x is (batch, steps, neurons * synapses) for the LIF alone; with ``linear`` it is
    spikes (batch, steps, neurons) fed through ``Linear(neurons, neurons * synapses)`` first,
    as in the Open Neuromorphic SNN library benchmark.
    """

    name: str
    suite: str
    batch: int
    steps: int
    neurons: int
    synapses: int = 1
    linear: bool = False

    @property
    def neuron_steps(self) -> int:
        return self.batch * self.steps * self.neurons


def suite_workloads(suite: str, device: torch.device) -> list[Workload]:
    """The workloads of a named suite, sized for the device (CPU sizes are smaller)."""
    on_gpu = device.type == "cuda"
    if suite == "issue2":
        return [Workload("B8-T1000-N128", suite, 8, 1000, 128)]
    if suite == "cpu-training":
        # a KWS SynNet's hidden layer at two batch sizes: the CPU path's bars
        return [Workload(f"B{b}-T1000-N128", suite, b, 1000, 128) for b in (8, 32)]
    if suite == "open-neuromorphic":
        sizes: tuple[int, ...] = (4096, 8192, 16384) if on_gpu else (256, 512, 1024)
        return [Workload(f"ON-n{n}", suite, 16, 500, n, linear=True) for n in sizes]
    if suite == "long-audio":
        batch, neurons = (64, 512) if on_gpu else (4, 128)
        return [Workload(f"audio-B{batch}-T10000-N{neurons}", suite, batch, 10_000, neurons)]
    if suite == "sweep-t":
        batch, neurons = (64, 512) if on_gpu else (8, 128)
        steps: tuple[int, ...] = (100, 1000, 10_000, 100_000) if on_gpu else (100, 1000, 10_000)
        return [Workload(f"T{t}", suite, batch, t, neurons) for t in steps]
    if suite == "sweep-n":
        batch = 64 if on_gpu else 8
        sizes = (128, 512, 2048, 8192, 32768) if on_gpu else (32, 128, 512, 2048)
        return [Workload(f"N{n}", suite, batch, 1000, n) for n in sizes]
    if suite == "tiny":
        return [
            Workload("tiny-S2", suite, 2, 12, 5, synapses=2),
            Workload("tiny-linear", suite, 2, 12, 6, linear=True),
        ]
    raise ValueError(f"unknown suite {suite!r}; expected one of {SUITES}")


SUITES = ("issue2", "cpu-training", "open-neuromorphic", "long-audio", "sweep-t", "sweep-n",
          "tiny")
DEFAULT_SUITES = ("issue2", "open-neuromorphic", "long-audio", "sweep-t", "sweep-n")


def make_input(workload: Workload, device: torch.device, seed: int) -> Tensor:
    """The shared input of a workload: currents for the LIF alone, sparse spikes before Linear.

    Currents N(0.01, 0.05) give a moderate multi-spike rate at τ = 20 ms, dt = 1 ms.
    """
    generator = torch.Generator().manual_seed(seed)
    if workload.linear:
        shape = (workload.batch, workload.steps, workload.neurons)
        x = (torch.rand(shape, generator=generator) < 0.05).float()
    else:
        shape = (workload.batch, workload.steps, workload.neurons * workload.synapses)
        x = 0.01 + 0.05 * torch.randn(shape, generator=generator)
    return x.to(device)


def shared_linear(workload: Workload, device: torch.device, seed: int) -> nn.Linear:
    """The workload's ``Linear(neurons, neurons * synapses)``, the same weights for every
    contender: ``nn.Linear``'s own initialisation range, drawn from a private generator so
    that the global random state is untouched."""
    n_in, n_out = workload.neurons, workload.neurons * workload.synapses
    layer = nn.Linear(n_in, n_out).to(device)
    generator = torch.Generator().manual_seed(seed)
    bound = 1 / math.sqrt(n_in)
    with torch.no_grad():
        layer.weight.copy_((torch.rand(n_out, n_in, generator=generator) * 2 - 1) * bound)
        layer.bias.copy_((torch.rand(n_out, generator=generator) * 2 - 1) * bound)
    return layer


def with_linear(workload: Workload, device: torch.device, lif: Callable[[Tensor], Tensor],
                 lif_parameters: list[Tensor], seed: int) -> tuple[Callable[[Tensor], Tensor],
                                                                    list[Tensor]]:
    """Put the workload's Linear layer (:func:`shared_linear`) in front of ``lif``."""
    if not workload.linear:
        return lif, lif_parameters
    layer = shared_linear(workload, device, seed)

    def forward(x: Tensor) -> Tensor:
        return lif(layer(x))

    return forward, [*layer.parameters(), *lif_parameters]
