"""Side-by-side comparison of our LIF operation with every installed peer library.

Every contender (ours per backend, Rockpool ``LIFTorch``/``LIFExodus``, SpikingJelly
``LIFNode``, snnTorch ``Synaptic``, Norse ``LIF``, a plain torch step loop eager and under
``torch.compile``) gets the same work: one LIF layer (optionally behind a ``Linear`` layer) on
the same input, forward alone and forward + backward of ``spikes.sum()``. Calls are
interleaved round-robin within one run so that load on a shared machine hits every contender
alike; the table reports the median and its ratio to ours.

Memory is reported two ways: bytes saved for backward per neuron-step, counted with
saved-tensor hooks (:mod:`synnet_triton.memory`; device independent, new allocations apart
from references to inputs and parameters), and on CUDA the peak allocated memory of one
forward + backward.

Roofline: the bytes an implementation must move are at least its inputs and outputs plus
what it saves (written once, read once); achieved bandwidth is that byte count over the
median time, compared with a measured copy on the same device. This is a model, a lower bound
on the traffic of every contender; it is meaningful on a GPU, printed on CPU for completeness.

Peers are optional: a contender whose library is missing, or that cannot run the workload
(device, synapse count), is listed with the reason and never replaced by anything else.

Run ``python -m synnet_triton.bench --help``; the rows with Norse and SpikingJelly need the
peers venv built by ``benchmarks/setup_peers_venv.sh``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from synnet_triton.memory import SavedBytes, count_saved_bytes
from synnet_triton.surrogates import periodic_exponential_grad, spike_count

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


@dataclass
class Runner:
    """A contender built for one workload.

    ``prepare`` turns the shared (B, T, C) input into the contender's own layout outside the
    timed region; ``forward`` maps that to spikes and includes whatever state reset a user
    must do before each batch; ``parameters`` are the trainable tensors.
    """

    prepare: Callable[[Tensor], Tensor]
    forward: Callable[[Tensor], Tensor]
    parameters: list[Tensor]


@dataclass(frozen=True)
class Contender:
    """A LIF implementation to measure.

    ``unavailable`` returns why it cannot run a workload on a device (None when it can);
    ``is_ours`` marks our own rows, the first usable of which is the ratio reference.
    """

    name: str
    build: Callable[[Workload, torch.device], Runner]
    unavailable: Callable[[Workload, torch.device], str | None]
    note: str = ""
    is_ours: bool = False


@dataclass
class ResultRow:
    """One line of the CSV: a contender on a workload and pass."""

    device: str
    workload: str
    suite: str
    batch: int
    steps: int
    neurons: int
    synapses: int
    linear: bool
    contender: str
    pass_: str
    status: str = "ok"
    repeats: int = 0
    median_s: float = math.nan
    min_s: float = math.nan
    ratio_to_ours: float = math.nan
    saved_new_bytes_per_neuron_step: float = math.nan
    saved_referenced_bytes_per_neuron_step: float = math.nan
    peak_allocated_mib: float = math.nan
    model_bytes: float = math.nan
    achieved_gbps: float = math.nan
    copy_gbps: float = math.nan
    fraction_of_copy: float = math.nan
    note: str = ""


# --------------------------------------------------------------------------------------------
# Workloads


def suite_workloads(suite: str, device: torch.device) -> list[Workload]:
    """The workloads of a named suite, sized for the device (CPU sizes are smaller)."""
    on_gpu = device.type == "cuda"
    if suite == "issue2":
        return [Workload("B8-T1000-N128", suite, 8, 1000, 128)]
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


SUITES = ("issue2", "open-neuromorphic", "long-audio", "sweep-t", "sweep-n", "tiny")
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


def _with_linear(workload: Workload, device: torch.device, lif: Callable[[Tensor], Tensor],
                 lif_parameters: list[Tensor], seed: int) -> tuple[Callable[[Tensor], Tensor],
                                                                    list[Tensor]]:
    """Put the workload's Linear layer (same weights for every contender) in front of ``lif``."""
    if not workload.linear:
        return lif, lif_parameters
    n_in, n_out = workload.neurons, workload.neurons * workload.synapses
    layer = nn.Linear(n_in, n_out).to(device)
    # nn.Linear's own initialisation range, drawn from a private generator so that every
    # contender gets the same weights without touching the global random state.
    generator = torch.Generator().manual_seed(seed)
    bound = 1 / math.sqrt(n_in)
    with torch.no_grad():
        layer.weight.copy_((torch.rand(n_out, n_in, generator=generator) * 2 - 1) * bound)
        layer.bias.copy_((torch.rand(n_out, generator=generator) * 2 - 1) * bound)

    def forward(x: Tensor) -> Tensor:
        return lif(layer(x))

    return forward, [*layer.parameters(), *lif_parameters]


# --------------------------------------------------------------------------------------------
# Contenders


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


def _batch_first(x: Tensor) -> Tensor:
    return x


def _time_first(x: Tensor) -> Tensor:
    """(B, T, C) → contiguous (T, B, C), the layout of Norse and SpikingJelly."""
    return x.transpose(0, 1).contiguous()


def _ours(backend: str, checkpoint_every: int | None) -> Contender:
    def unavailable(workload: Workload, device: torch.device) -> str | None:
        if importlib.util.find_spec("synnet_triton.modules") is None:
            return "synnet_triton.modules not importable yet"
        if backend == "triton" and device.type != "cuda":
            return "Triton kernels need a CUDA GPU (the CPU interpreter is not benchmarked)"
        return None

    def build(workload: Workload, device: torch.device) -> Runner:
        from synnet_triton.modules import LIF

        tau_mem, tau_syn = _per_neuron_taus(workload)
        lif = LIF(workload.neurons, workload.synapses, tau_mem=tau_mem, tau_syn=tau_syn,
                  threshold=THRESHOLD, dt=DT, surrogate="periodic_exponential",
                  max_spikes_per_dt=MAX_SPIKES, backend=backend,
                  checkpoint_every=checkpoint_every).to(device)
        forward, parameters = _with_linear(workload, device, lif, _torch_parameters(lif), 0)
        return Runner(_batch_first, forward, parameters)

    suffix = f", checkpoint every {checkpoint_every}" if checkpoint_every else ""
    return Contender(f"synnet_triton [{backend}{suffix}]", build, unavailable, is_ours=True)


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

        forward, parameters = _with_linear(workload, device, lif_forward,
                                           _torch_parameters(lif), 0)
        return Runner(_batch_first, forward, parameters)

    return Contender("rockpool LIFTorch", build,
                     lambda w, d: _module_missing("rockpool"),
                     note="Python loop over time")


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

        forward, parameters = _with_linear(workload, device, lif_forward,
                                           _torch_parameters(lif), 0)
        return Runner(_batch_first, forward, parameters)

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

        forward, parameters = _with_linear(workload, device, lif_forward,
                                           _torch_parameters(neuron), 0)
        return Runner(_batch_first, forward, parameters)

    def unavailable(workload: Workload, device: torch.device) -> str | None:
        return _module_missing("snntorch") or _single_synapse_only(workload)

    return Contender("snntorch Synaptic", build, unavailable,
                     note="single spike per step, fixed decays")


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

        forward, trainable = _with_linear(workload, device, lif_forward,
                                          _torch_parameters(lif), 0)
        return Runner(_time_first, forward, trainable)

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

        forward, parameters = _with_linear(workload, device, lif_forward,
                                           _torch_parameters(node), 0)
        return Runner(_time_first, forward, parameters)

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
    """One step of DESIGN §3 (no bias, noise or recurrence) with autograd through it."""
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

        forward, parameters = _with_linear(workload, device, lif_forward,
                                           [tau_mem, tau_syn, threshold], 0)
        return Runner(_batch_first, forward, parameters)

    name = "torch.compile step loop" if compiled else "torch eager step loop"
    note = "compile time excluded (warm-up)" if compiled else "autograd through the loop"
    return Contender(name, build, lambda w, d: None, note=note)


def all_contenders() -> list[Contender]:
    """Every contender, ours first (the first usable one is the ratio reference)."""
    return [
        _ours("triton", None),
        _ours("torch", None),
        _ours("triton", CHECKPOINT_EVERY),
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


# --------------------------------------------------------------------------------------------
# Measurement


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pass_call(runner: Runner, x: Tensor, pass_: str) -> Callable[[], None]:
    """A closure running one forward (no grad) or one forward + backward of spikes.sum()."""
    if pass_ == FORWARD:
        def forward_only() -> None:
            with torch.no_grad():
                runner.forward(x)
        return forward_only

    def forward_backward() -> None:
        x.grad = None
        for parameter in runner.parameters:
            parameter.grad = None
        runner.forward(x).sum().backward()
    return forward_backward


def synchronized(call: Callable[[], None], device: torch.device) -> Callable[[], None]:
    """``call`` followed by waiting for the device, so that a timing covers the GPU's work."""
    if device.type != "cuda":
        return call

    def call_and_wait() -> None:
        call()
        _synchronize(device)

    return call_and_wait


def _timed(call: Callable[[], None], device: torch.device) -> float:
    _synchronize(device)
    start = time.perf_counter()
    call()
    _synchronize(device)
    return time.perf_counter() - start


def _saved_bytes(runner: Runner, workload: Workload, device: torch.device, seed: int
                 ) -> SavedBytes:
    """Saved-for-backward bytes of one forward at batch ≤ 2 (the count scales with B)."""
    batch = min(workload.batch, 2)
    x = runner.prepare(make_input(workload, device, seed))
    x = (x[:batch] if runner.prepare is _batch_first else x[:, :batch]).clone()
    x.requires_grad_(not workload.linear)
    spikes, saved = count_saved_bytes(lambda: runner.forward(x), [x, *runner.parameters])
    del spikes
    scale = workload.batch / batch
    return SavedBytes(round(saved.new_bytes * scale), round(saved.referenced_bytes * scale),
                      saved.n_storages)


def _peak_allocated_mib(call: Callable[[], None], device: torch.device) -> float:
    if device.type != "cuda":
        return math.nan
    _synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device)
    call()
    _synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - baseline) / 2**20


def measure_copy_bandwidth(device: torch.device, repeats: int = 5) -> float:
    """Bytes per second of a device-to-same-device tensor copy (read + write counted)."""
    n_floats = 2**28 if device.type == "cuda" else 2**25
    source = torch.ones(n_floats, device=device)
    target = torch.empty_like(source)

    def copy() -> None:
        target.copy_(source)

    copy()
    times = [_timed(copy, device) for _ in range(repeats)]
    return 2 * source.numel() * source.element_size() / statistics.median(times)


def model_bytes(workload: Workload, pass_: str, saved: SavedBytes | None) -> float:
    """Lower bound on the bytes a LIF pass moves (fp32): inputs and outputs, plus the saved
    tensors written in the forward and read in the backward (references read once).

    Not defined with the Linear layer in front: there the matrix products dominate.
    """
    if workload.linear:
        return math.nan
    per_step = 4 * workload.neurons * (workload.synapses + 1)  # read x, write spikes
    io = workload.batch * workload.steps * per_step
    if pass_ == FORWARD:
        return float(io)
    if saved is None:
        return math.nan
    # The backward reads the spike gradient and writes the input gradient: as much again.
    return float(2 * io + 2 * saved.new_bytes + saved.referenced_bytes)


@dataclass
class _Entry:
    """A contender's runner and measurements on one workload."""

    contender: Contender
    runner: Runner | None = None
    skip_reason: str | None = None
    times: dict[str, list[float]] = field(default_factory=dict)
    saved: SavedBytes | None = None
    memory_note: str = ""
    peak_mib: dict[str, float] = field(default_factory=dict)


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="call", file=sys.stderr, leave=False)


def run_workload(workload: Workload, contenders: Sequence[Contender], device: torch.device,
                 *, passes: Sequence[str] = PASSES, repeats: int = 5, budget_s: float = 60.0,
                 seed: int = 0, copy_bandwidth: float = math.nan, progress: bool = False
                 ) -> list[ResultRow]:
    """Measure every contender on one workload, interleaved round-robin; one row per pass.

    Each contender gets ``repeats`` timed calls per pass unless its warm-up call says that
    would exceed ``budget_s``; then it gets as many as fit (at least one) and sits out the
    later rounds. The order of contenders rotates every round.
    """
    entries = [_Entry(c) for c in contenders]
    base_input = make_input(workload, device, seed)
    for entry in entries:
        entry.skip_reason = entry.contender.unavailable(workload, device)
        if entry.skip_reason is not None:
            continue
        try:
            entry.runner = entry.contender.build(workload, device)
        except Exception as error:  # a peer that fails to build is reported, not fatal
            entry.skip_reason = f"failed to build: {type(error).__name__}: {error}"
    usable = [e for e in entries if e.runner is not None]
    inputs = {}
    for entry in usable:
        assert entry.runner is not None
        x = entry.runner.prepare(base_input).clone()
        inputs[id(entry)] = x.requires_grad_(not workload.linear)

    bar = _progress(len(passes) * len(usable) * (repeats + 1), progress)
    for pass_ in passes:
        allowed: dict[int, int] = {}
        calls: dict[int, Callable[[], None]] = {}
        for entry in list(usable):
            assert entry.runner is not None
            call = pass_call(entry.runner, inputs[id(entry)], pass_)
            try:
                warm = _timed(call, device)
                if warm < budget_s / 4:
                    warm = _timed(call, device)
            except Exception as error:  # a peer that fails on this workload is reported
                entry.skip_reason = f"failed: {type(error).__name__}: {error}"
                usable.remove(entry)
                continue
            calls[id(entry)] = call
            allowed[id(entry)] = max(1, min(repeats, int(budget_s // max(warm, 1e-9))))
            entry.times[pass_] = []
            if bar is not None:
                bar.update(1)
        for round_index in range(repeats):
            rotation = round_index % max(len(usable), 1)
            for entry in usable[rotation:] + usable[:rotation]:
                if round_index < allowed.get(id(entry), 0):
                    entry.times[pass_].append(_timed(calls[id(entry)], device))
                    if bar is not None:
                        bar.update(1)
        for entry in usable:
            entry.peak_mib[pass_] = _peak_allocated_mib(calls[id(entry)], device)
    if bar is not None:
        bar.close()

    for entry in usable:
        assert entry.runner is not None
        try:
            entry.saved = _saved_bytes(entry.runner, workload, device, seed)
        except Exception as error:  # the memory count is optional for a peer that rejects it
            entry.memory_note = f"saved-bytes count failed: {type(error).__name__}: {error}"
    return _rows(workload, entries, passes, device, copy_bandwidth)


def _rows(workload: Workload, entries: Sequence[_Entry], passes: Sequence[str],
          device: torch.device, copy_bandwidth: float) -> list[ResultRow]:
    """Turn measurements into rows, with ratios to the first usable row of ours."""
    reference = next((e for e in entries if e.contender.is_ours and e.times), None)
    rows = []
    for entry in entries:
        for pass_ in passes:
            row = ResultRow(str(device), workload.name, workload.suite, workload.batch,
                            workload.steps, workload.neurons, workload.synapses,
                            workload.linear, entry.contender.name, pass_,
                            note="; ".join(filter(None, [entry.contender.note,
                                                         entry.memory_note])))
            times = entry.times.get(pass_)
            if not times:
                row.status = f"skipped: {entry.skip_reason}"
                rows.append(row)
                continue
            row.repeats = len(times)
            row.median_s = statistics.median(times)
            row.min_s = min(times)
            if reference is not None and reference.times.get(pass_):
                row.ratio_to_ours = row.median_s / statistics.median(reference.times[pass_])
            if entry.saved is not None:
                row.saved_new_bytes_per_neuron_step = entry.saved.new_bytes / workload.neuron_steps
                row.saved_referenced_bytes_per_neuron_step = (
                    entry.saved.referenced_bytes / workload.neuron_steps)
            row.peak_allocated_mib = entry.peak_mib.get(pass_, math.nan)
            row.model_bytes = model_bytes(workload, pass_, entry.saved)
            row.achieved_gbps = row.model_bytes / row.median_s / 1e9
            row.copy_gbps = copy_bandwidth / 1e9
            row.fraction_of_copy = row.achieved_gbps / row.copy_gbps
            rows.append(row)
    return rows


def run_comparison(workloads: Iterable[Workload], contenders: Sequence[Contender],
                   device: torch.device, *, passes: Sequence[str] = PASSES, repeats: int = 5,
                   budget_s: float = 60.0, seed: int = 0, progress: bool = False,
                   on_workload_done: Callable[[list[ResultRow]], None] | None = None
                   ) -> list[ResultRow]:
    """Run :func:`run_workload` over ``workloads``; one copy-bandwidth measurement for all.

    ``on_workload_done`` receives the rows so far after each workload, so that a long run
    leaves its results behind even if it is stopped.
    """
    copy_bandwidth = measure_copy_bandwidth(device)
    rows: list[ResultRow] = []
    for workload in workloads:
        rows += run_workload(workload, contenders, device, passes=passes, repeats=repeats,
                             budget_s=budget_s, seed=seed, copy_bandwidth=copy_bandwidth,
                             progress=progress)
        if on_workload_done is not None:
            on_workload_done(rows)
    return rows


# --------------------------------------------------------------------------------------------
# Output


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo where there is one, else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _short_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it (a venv's python)."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def environment() -> dict[str, Any]:
    """What the numbers were measured on: date, machine, load, library versions."""
    versions = {}
    for name in ("torch", "triton", "rockpool", "snntorch", "norse", "spikingjelly", "sinabs"):
        if importlib.util.find_spec(name) is not None:
            try:
                from importlib.metadata import version

                versions[name] = version(name)
            except Exception:  # a module without distribution metadata
                versions[name] = "?"
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu_model()}, {os.cpu_count()} CPUs",
        "gpu": gpu,
        "torch_threads": torch.get_num_threads(),
        "load_average_1_5_15": os.getloadavg(),
        "python": platform.python_version(),
        "versions": versions,
        "command": shlex.join([_short_path(sys.executable), "-m", "synnet_triton.bench",
                               *sys.argv[1:]]),
    }


def write_csv(rows: Sequence[ResultRow], path: Path) -> None:
    """One line per row; column ``pass`` holds fwd or fwd+bwd."""
    names = [f.replace("pass_", "pass") for f in asdict(rows[0])] if rows else []
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in rows:
            writer.writerow(list(asdict(row).values()))


def _format_float(value: float, digits: int = 3) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.{digits}g}"


def format_markdown(rows: Sequence[ResultRow]) -> str:
    """A markdown table per workload: times in ms, ratio to ours, memory per neuron-step."""
    lines: list[str] = []
    workloads = list(dict.fromkeys(r.workload for r in rows))
    for workload in workloads:
        group = [r for r in rows if r.workload == workload]
        first = group[0]
        lines += [
            "",
            f"**{workload}** (B={first.batch}, T={first.steps}, N={first.neurons}, "
            f"S={first.synapses}{', Linear+LIF' if first.linear else ''}, {first.device})",
            "",
            "| contender | fwd ms | fwd+bwd ms | fwd+bwd × ours | saved B/neuron-step "
            "(new + ref) | peak MiB | note |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        contenders = list(dict.fromkeys(r.contender for r in group))
        for name in contenders:
            by_pass = {r.pass_: r for r in group if r.contender == name}
            full = by_pass.get(FORWARD_BACKWARD) or next(iter(by_pass.values()))
            if full.status != "ok":
                lines.append(f"| {name} | | | | | | {full.status} |")
                continue
            forward = by_pass.get(FORWARD)
            forward_ms = _format_float(forward.median_s * 1e3) if forward else "–"
            memory = (f"{_format_float(full.saved_new_bytes_per_neuron_step)} + "
                      f"{_format_float(full.saved_referenced_bytes_per_neuron_step)}")
            lines.append(
                f"| {name} | {forward_ms} | {_format_float(full.median_s * 1e3)} | "
                f"{_format_float(full.ratio_to_ours)} | {memory} | "
                f"{_format_float(full.peak_allocated_mib)} | {full.note} |")
    return "\n".join(lines) + "\n"


def plot_results(rows: Sequence[ResultRow], out_dir: Path) -> list[Path]:
    """PNG plots of the sweeps: time vs T, time vs N, saved memory vs T (fwd+bwd)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.status == "ok" and r.pass_ == FORWARD_BACKWARD]
    figures = [
        ("time_vs_T.png", "sweep-t", "steps", "median_s", "T (steps)", "fwd+bwd time (s)"),
        ("time_vs_N.png", "sweep-n", "neurons", "median_s", "N (neurons)",
         "fwd+bwd time (s)"),
        ("memory_vs_T.png", "sweep-t", "steps", "saved_mib", "T (steps)",
         "saved for backward, new allocations (MiB)"),
    ]
    written = []
    for filename, suite, x_field, y_field, x_label, y_label in figures:
        subset = [r for r in ok if r.suite == suite]
        if not subset:
            continue
        figure, axes = plt.subplots(figsize=(6.4, 4.4))
        for name in dict.fromkeys(r.contender for r in subset):
            points = sorted((getattr(r, x_field), _plot_value(r, y_field))
                            for r in subset if r.contender == name)
            points = [(x, y) for x, y in points if not math.isnan(y) and y > 0]
            if points:
                axes.plot(*zip(*points, strict=True), marker="o", label=name)
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel(x_label)
        axes.set_ylabel(y_label)
        axes.set_title(f"{y_label} — {subset[0].device}", fontsize=9)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7)
        figure.tight_layout()
        path = out_dir / filename
        figure.savefig(path, dpi=120)
        plt.close(figure)
        written.append(path)
    return written


def _plot_value(row: ResultRow, field_name: str) -> float:
    if field_name == "saved_mib":
        per_step = row.saved_new_bytes_per_neuron_step
        return per_step * row.batch * row.steps * row.neurons / 2**20
    return float(getattr(row, field_name))


# --------------------------------------------------------------------------------------------
# Command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synnet-triton bench",
        description="Side-by-side LIF benchmark of synnet_triton against installed peers.")
    parser.add_argument("--suite", action="append", choices=SUITES,
                        help=f"workload suite, repeatable (default: {', '.join(DEFAULT_SUITES)})")
    parser.add_argument("--contender", action="append", metavar="SUBSTRING",
                        help="only contenders whose name contains this, repeatable")
    parser.add_argument("--pass", dest="passes", action="append", choices=PASSES,
                        help="fwd and/or fwd+bwd (default: both)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed calls per contender and pass (default 5)")
    parser.add_argument("--budget-s", type=float, default=60.0,
                        help="time budget per contender, workload and pass (default 60 s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench-results"),
                        help="folder for results.csv, table.md, environment.json and plots")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison, print the markdown table, write CSV, table, environment, plots."""
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    suites = args.suite or list(DEFAULT_SUITES)
    workloads = [w for suite in suites for w in suite_workloads(suite, device)]
    contenders = select_contenders(all_contenders(), args.contender)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = run_comparison(workloads, contenders, device, passes=args.passes or PASSES,
                          repeats=args.repeats, budget_s=args.budget_s, seed=args.seed,
                          progress=not args.no_progress,
                          on_workload_done=lambda so_far: write_csv(so_far,
                                                                    args.out / "results.csv"))
    env = environment()
    table = format_markdown(rows)
    header = (f"Measured {env['date_utc']} on {env['machine']}"
              f"{', GPU ' + env['gpu'] if env['gpu'] else ''}, "
              f"{env['torch_threads']} torch thread(s); load average "
              f"{', '.join(f'{x:.2f}' for x in env['load_average_1_5_15'])}; "
              f"command `{env['command']}`\n")
    (args.out / "table.md").write_text(header + table)
    (args.out / "environment.json").write_text(json.dumps(env, indent=2) + "\n")
    written = [] if args.no_plots else plot_results(rows, args.out)
    print(header + table)
    print(f"wrote {args.out / 'results.csv'}, {args.out / 'table.md'}"
          + "".join(f", {p}" for p in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
