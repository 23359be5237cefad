"""The contenders: ours per backend and one adapter per peer library, each building a runner
for a workload (same input, same work) or saying why it cannot."""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from synnet_triton.bench.answers import Oracle, lif_oracle, snntorch_synaptic_oracle
from synnet_triton.bench.workloads import (
    CHECKPOINT_EVERY,
    DT,
    LEARNING_WINDOW,
    MAX_SPIKES,
    TAU_MEM,
    TAU_SYN,
    THRESHOLD,
    Workload,
    with_linear,
)
from synnet_triton.ops.lif.surrogates import periodic_exponential_grad, spike_count


@dataclass
class Runner:
    """A contender built for one workload.

    ``prepare`` turns the shared (B, T, C) input into the contender's own layout outside the
    timed region; ``forward`` maps that to spikes and includes whatever state reset a user
    must do before each batch; ``parameters`` are the trainable tensors; ``restore`` turns
    the spikes back into (B, T, N) for the answer check.
    """

    prepare: Callable[[Tensor], Tensor]
    forward: Callable[[Tensor], Tensor]
    parameters: list[Tensor]
    restore: Callable[[Tensor], Tensor] | None = None

    def spikes(self, x: Tensor) -> Tensor:
        """Spikes (B, T, N) of the shared input x (B, T, C)."""
        out = self.forward(self.prepare(x))
        return out if self.restore is None else self.restore(out)


@dataclass(frozen=True)
class Contender:
    """A LIF implementation to measure.

    ``unavailable`` returns why it cannot run a workload on a device (None when it can);
    ``is_ours`` marks our own rows, the first usable of which is the ratio reference;
    ``oracle`` computes the spikes of the model it states from the LIF input currents (see
    :mod:`synnet_triton.bench.answers`; None: only the causal-response check).
    """

    name: str
    build: Callable[[Workload, torch.device], Runner]
    unavailable: Callable[[Workload, torch.device], str | None]
    note: str = ""
    is_ours: bool = False
    oracle: Oracle | None = None


def _per_neuron_taus(workload: Workload) -> tuple[Tensor, Tensor]:
    """τ_mem (N,) and τ_syn (N, S): one trainable time constant per neuron and synapse, as in
    Rockpool's default ``LIFTorch``."""
    n, s = workload.neurons, workload.synapses
    return torch.full((n,), TAU_MEM), torch.full((n, s), TAU_SYN)


def _torch_parameters(module: nn.Module) -> list[Tensor]:
    """The module's torch parameters (Rockpool modules override ``parameters()`` with a dict)."""
    return list(nn.Module.parameters(module))


def _module_missing(name: str) -> str | None:
    """Why the top-level module ``name`` cannot be imported, or None."""
    return None if importlib.util.find_spec(name) is not None else f"{name} not installed"


def _single_synapse_only(workload: Workload) -> str | None:
    return "one synaptic current per neuron only (S > 1)" if workload.synapses > 1 else None


def batch_first(x: Tensor) -> Tensor:
    return x


def _time_first(x: Tensor) -> Tensor:
    """(B, T, C) → contiguous (T, B, C), the layout of Norse and SpikingJelly."""
    return x.transpose(0, 1).contiguous()


def _from_time_first(spikes: Tensor) -> Tensor:
    return spikes.transpose(0, 1)


def _ours(backend: str, checkpoint_every: int | None) -> Contender:
    def unavailable(workload: Workload, device: torch.device) -> str | None:
        if importlib.util.find_spec("synnet_triton.nn.lif") is None:
            return "synnet_triton.nn.lif not importable yet"
        if backend == "triton" and device.type != "cuda":
            return "Triton kernels need a CUDA GPU (the CPU interpreter is not benchmarked)"
        if backend == "numba" and device.type != "cpu":
            return "the numba loops run on the CPU"
        if backend == "numba" and importlib.util.find_spec("numba") is None:
            return "numba is not installed (pip install 'synnet-triton[cpu]')"
        return None

    def build(workload: Workload, device: torch.device) -> Runner:
        from synnet_triton.nn.lif import LIF

        tau_mem, tau_syn = _per_neuron_taus(workload)
        lif = LIF(workload.neurons, workload.synapses, tau_mem=tau_mem, tau_syn=tau_syn,
                  threshold=THRESHOLD, dt=DT, surrogate="periodic_exponential",
                  max_spikes_per_dt=MAX_SPIKES, backend=backend,
                  checkpoint_every=checkpoint_every).to(device)
        forward, parameters = with_linear(workload, device, lif, _torch_parameters(lif), 0)
        return Runner(batch_first, forward, parameters)

    suffix = f", checkpoint every {checkpoint_every}" if checkpoint_every else ""
    return Contender(f"synnet_triton [{backend}{suffix}]", build, unavailable, is_ours=True,
                     oracle=lif_oracle)


def _rockpool_lif_torch() -> Contender:
    def build(workload: Workload, device: torch.device) -> Runner:
        from rockpool.nn.modules import LIFTorch
        from rockpool.nn.modules.torch.lif_torch import PeriodicExponential

        n, s = workload.neurons, workload.synapses
        tau_mem, tau_syn = _per_neuron_taus(workload)
        lif = LIFTorch(shape=(n * s, n), tau_mem=tau_mem, tau_syn=tau_syn, threshold=THRESHOLD,
                       spike_generation_fn=PeriodicExponential, learning_window=LEARNING_WINDOW,
                       max_spikes_per_dt=MAX_SPIKES, dt=DT).to(device)

        def lif_forward(x: Tensor) -> Tensor:
            # Rockpool modules carry state between calls; a new batch starts from rest.
            lif.reset_state()
            spikes, _, _ = lif(x)
            return spikes

        forward, parameters = with_linear(workload, device, lif_forward,
                                           _torch_parameters(lif), 0)
        return Runner(batch_first, forward, parameters)

    return Contender("rockpool LIFTorch", build,
                     lambda w, d: _module_missing("rockpool"),
                     note="Python loop over time", oracle=lif_oracle)


def _rockpool_lif_exodus() -> Contender:
    def unavailable(workload: Workload, device: torch.device) -> str | None:
        if device.type != "cuda":
            return "CUDA only (sinabs-exodus extension)"
        return _module_missing("rockpool") or _module_missing("sinabs")

    def build(workload: Workload, device: torch.device) -> Runner:
        from rockpool.nn.modules import LIFExodus

        n, s = workload.neurons, workload.synapses
        lif = LIFExodus(shape=(n * s, n), tau_mem=TAU_MEM, tau_syn=TAU_SYN,
                        threshold=THRESHOLD, learning_window=LEARNING_WINDOW, dt=DT).to(device)

        def lif_forward(x: Tensor) -> Tensor:
            lif.reset_state()
            spikes, _, _ = lif(x)
            return spikes

        forward, parameters = with_linear(workload, device, lif_forward,
                                           _torch_parameters(lif), 0)
        return Runner(batch_first, forward, parameters)

    return Contender("rockpool LIFExodus", build, unavailable,
                     note="own surrogate and spike limit, no threshold gradient")


def _snntorch_synaptic() -> Contender:
    def build(workload: Workload, device: torch.device) -> Runner:
        import snntorch

        # snnTorch names the synaptic decay alpha and the membrane decay beta.
        neuron = snntorch.Synaptic(alpha=math.exp(-DT / TAU_SYN), beta=math.exp(-DT / TAU_MEM),
                                   threshold=THRESHOLD, reset_mechanism="subtract").to(device)

        def lif_forward(x: Tensor) -> Tensor:
            syn, mem = neuron.init_synaptic()
            spikes = []
            for t in range(x.shape[1]):
                spike, syn, mem = neuron(x[:, t], syn, mem)
                spikes.append(spike)
            return torch.stack(spikes, dim=1)

        forward, parameters = with_linear(workload, device, lif_forward,
                                           _torch_parameters(neuron), 0)
        return Runner(batch_first, forward, parameters)

    def unavailable(workload: Workload, device: torch.device) -> str | None:
        return _module_missing("snntorch") or _single_synapse_only(workload)

    return Contender("snntorch Synaptic", build, unavailable,
                     note="single spike per step, fixed decays", oracle=snntorch_synaptic_oracle)


def _norse_lif() -> Contender:
    def build(workload: Workload, device: torch.device) -> Runner:
        from norse.torch import LIF, LIFParameters

        parameters = LIFParameters(tau_mem_inv=torch.tensor(1 / TAU_MEM, device=device),
                                   tau_syn_inv=torch.tensor(1 / TAU_SYN, device=device),
                                   v_th=torch.tensor(THRESHOLD, device=device))
        lif = LIF(parameters, dt=DT).to(device)

        def lif_forward(x: Tensor) -> Tensor:
            spikes, _ = lif(x)
            return spikes

        forward, trainable = with_linear(workload, device, lif_forward,
                                          _torch_parameters(lif), 0)
        return Runner(_time_first, forward, trainable, _from_time_first)

    def unavailable(workload: Workload, device: torch.device) -> str | None:
        return _module_missing("norse") or _single_synapse_only(workload)

    return Contender("norse LIF", build, unavailable,
                     note="time-first; Euler step, single spike, reset to 0")


def _spikingjelly_lif_node() -> Contender:
    # SpikingJelly 2.0 picks its implementation per process from this variable (CUDA: cuda,
    # triton or torch); on the CPU it always runs its torch implementation.
    implementation = os.environ.get("SJ_LIF_CUDA_IMPLEMENTATION", "auto")

    def build(workload: Workload, device: torch.device) -> Runner:
        from spikingjelly.activation_based import functional, neuron

        # decay_input=False: v ← v − v/τ + x, so τ = 1 / (1 − α) gives our membrane decay α.
        tau_steps = 1 / (1 - math.exp(-DT / TAU_MEM))
        node = neuron.LIFNode(tau=tau_steps, decay_input=False, v_threshold=THRESHOLD,
                              v_reset=None, detach_reset=False, step_mode="m").to(device)

        def lif_forward(x: Tensor) -> Tensor:
            functional.reset_net(node)
            return node(x)

        forward, parameters = with_linear(workload, device, lif_forward,
                                           _torch_parameters(node), 0)
        return Runner(_time_first, forward, parameters, _from_time_first)

    def unavailable(workload: Workload, device: torch.device) -> str | None:
        return _module_missing("spikingjelly") or _single_synapse_only(workload)

    label = "torch" if implementation == "auto" else implementation
    return Contender(f"spikingjelly LIFNode [{label}]", build, unavailable,
                     note="time-first; NO synaptic current, single spike")


class _StepSpike(torch.autograd.Function):
    """Multi-spike count with the PeriodicExponential surrogate, for the plain step loop."""

    @staticmethod
    def forward(ctx: Any, u: Tensor, threshold: Tensor) -> Tensor:
        ctx.save_for_backward(u, threshold)
        return spike_count(u, threshold, MAX_SPIKES)

    @staticmethod
    def backward(ctx: Any, grad_spikes: Tensor) -> tuple[Tensor, Tensor]:
        u, threshold = ctx.saved_tensors
        d_u, d_threshold = periodic_exponential_grad(u, threshold, LEARNING_WINDOW, MAX_SPIKES)
        grad_threshold = (grad_spikes * d_threshold).sum_to_size(threshold.shape)
        return grad_spikes * d_u, grad_threshold


def _lif_step(x_t: Tensor, v: Tensor, i: Tensor, alpha: Tensor, beta: Tensor,
              threshold: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One step of docs/design.md §3 (no bias, noise or recurrence) with autograd through it."""
    i = (i + x_t) * beta
    u = v * alpha + i.sum(-1)
    s = _StepSpike.apply(u, threshold)
    return s, u - s * threshold, i


def _plain_torch_loop(compiled: bool) -> Contender:
    def build(workload: Workload, device: torch.device) -> Runner:
        n, s = workload.neurons, workload.synapses
        tau_mem = nn.Parameter(torch.full((n,), TAU_MEM, device=device))
        tau_syn = nn.Parameter(torch.full((n, s), TAU_SYN, device=device))
        threshold = nn.Parameter(torch.full((n,), THRESHOLD, device=device))
        if compiled:
            # Dynamo caches compiled variants per function and stops compiling after a few
            # (shapes × grad modes); every workload starts from an empty cache instead.
            torch.compiler.reset()
        step = torch.compile(_lif_step, dynamic=False) if compiled else _lif_step

        def lif_forward(x: Tensor) -> Tensor:
            alpha = torch.exp(-DT / tau_mem)
            beta = torch.exp(-DT / tau_syn)
            x = x.unflatten(-1, (n, s))
            v = x.new_zeros(x.shape[0], n)
            i = x.new_zeros(x.shape[0], n, s)
            spikes = []
            for t in range(x.shape[1]):
                spike, v, i = step(x[:, t], v, i, alpha, beta, threshold)
                spikes.append(spike)
            return torch.stack(spikes, dim=1)

        forward, parameters = with_linear(workload, device, lif_forward,
                                           [tau_mem, tau_syn, threshold], 0)
        return Runner(batch_first, forward, parameters)

    name = "torch.compile step loop" if compiled else "torch eager step loop"
    note = "compile time excluded (warm-up)" if compiled else "autograd through the loop"
    return Contender(name, build, lambda w, d: None, note=note, oracle=lif_oracle)


def all_contenders() -> list[Contender]:
    """Every contender, ours first (the first usable one is the ratio reference)."""
    return [
        _ours("triton", None),
        _ours("numba", None),
        _ours("torch", None),
        _ours("triton", CHECKPOINT_EVERY),
        _ours("numba", CHECKPOINT_EVERY),
        _ours("torch", CHECKPOINT_EVERY),
        _rockpool_lif_torch(),
        _rockpool_lif_exodus(),
        _snntorch_synaptic(),
        _norse_lif(),
        _spikingjelly_lif_node(),
        _plain_torch_loop(compiled=False),
        _plain_torch_loop(compiled=True),
    ]


def select_contenders(contenders: Sequence[Contender], patterns: Sequence[str] | None
                      ) -> list[Contender]:
    """Contenders whose name contains any of ``patterns`` (case-insensitive); all when None."""
    if not patterns:
        return list(contenders)
    lowered = [p.lower() for p in patterns]
    return [c for c in contenders if any(p in c.name.lower() for p in lowered)]
