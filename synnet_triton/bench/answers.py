"""Answer checks: a contender's spikes are checked before it is timed, so that an adapter
that runs fewer steps, gets the wrong input or computes another model than it states is
reported as a wrong answer, never timed or compared.

Two properties, on the first ``CHECK_STEPS`` steps of the workload's shared input:

* **agreement with its model's oracle**, for contenders whose model has one here: at least
  ``AGREEMENT`` of the (b, t, n) spike entries equal those of an independent plain loop of
  the contender's stated model on the same input through the same Linear weights —
  docs/design.md §3's recurrence (``naive_lif``: ours, Rockpool ``LIFTorch``, the torch step loops)
  or snnTorch's ``Synaptic`` recurrence (:func:`snntorch_synaptic_oracle`: single spikes,
  reset by the previous step's membrane). Float32 sums in another order can flip a spike
  where u lands on θ, hence not 100 %.
* **causal response**, for every contender: its spikes on an input whose last quarter of
  steps is changed (``4 x + θ`` there) equal, in at least ``AGREEMENT`` of the entries, its
  spikes on the input before that quarter, and differ within it. An adapter that drops
  steps, ignores its input or reorders it in time fails; this is the whole check for the
  models that have no oracle here (Norse, SpikingJelly, LIFExodus).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from synnet_triton.bench.workloads import (
    DT,
    MAX_SPIKES,
    TAU_MEM,
    TAU_SYN,
    THRESHOLD,
    Workload,
    shared_linear,
)

AGREEMENT = 0.999
CHECK_STEPS = 2000

Oracle = Callable[[Workload, Tensor], Tensor]
"""(workload, LIF input currents (B, T, N*S)) → the model's spikes (B, T, N)."""


@dataclass(frozen=True)
class Verdict:
    passed: bool
    detail: str


def lif_oracle(workload: Workload, currents: Tensor) -> Tensor:
    """docs/design.md §3 on ``currents``: the plain reference loop at the benchmark's constants."""
    from synnet_triton.ops.lif.naive import naive_lif

    n, s = workload.neurons, workload.synapses
    alpha = torch.full((n,), math.exp(-DT / TAU_MEM), device=currents.device)
    beta = torch.full((n, s), math.exp(-DT / TAU_SYN), device=currents.device)
    threshold = torch.full((n,), THRESHOLD, device=currents.device)
    out, _ = naive_lif(currents, alpha, beta, threshold, torch.zeros_like(threshold),
                       max_spikes_per_dt=MAX_SPIKES)
    return out.spikes


def snntorch_synaptic_oracle(workload: Workload, currents: Tensor) -> Tensor:
    """snnTorch ``Synaptic(alpha, beta, threshold, reset_mechanism="subtract")`` as its docs
    state it: syn ← α·syn + x, mem ← β·mem + syn − θ·H(mem_prev − θ), spike = H(mem − θ),
    H(z) = 1 for z > 0 (snnTorch's α is the synaptic decay, β the membrane decay)."""
    alpha, beta = math.exp(-DT / TAU_SYN), math.exp(-DT / TAU_MEM)
    syn = currents.new_zeros(currents.shape[0], currents.shape[2])
    mem = torch.zeros_like(syn)
    spikes = []
    for t in range(currents.shape[1]):
        reset = (mem - THRESHOLD > 0).to(currents.dtype)
        syn = alpha * syn + currents[:, t]
        mem = beta * mem + syn - reset * THRESHOLD
        spikes.append((mem - THRESHOLD > 0).to(currents.dtype))
    return torch.stack(spikes, dim=1)


def _agreement(a: Tensor, b: Tensor) -> float:
    return (a == b).double().mean().item() if a.numel() else 1.0


def check_answer(
    run: Callable[[Tensor], Tensor], oracle: Oracle | None, workload: Workload, x: Tensor
) -> Verdict:
    """Check a contender; ``run`` maps the shared (B, T, C) input to spikes (B, T, N)."""
    steps = min(x.shape[1], CHECK_STEPS)
    x = x[:, :steps]
    expected_shape = (x.shape[0], steps, workload.neurons)
    quarter = steps - max(1, steps // 4)
    changed = x.clone()
    changed[:, quarter:] = 4 * x[:, quarter:] + THRESHOLD
    with torch.no_grad():
        spikes, probe = run(x), run(changed)
    for name, tensor in (("spikes", spikes), ("probe", probe)):
        if tuple(tensor.shape) != expected_shape:
            return Verdict(False, f"{name} shape {tuple(tensor.shape)}, expected "
                           f"{expected_shape}")
        if not torch.isfinite(tensor).all():
            return Verdict(False, f"non-finite {name}")
    details = []
    if oracle is not None:
        with torch.no_grad():
            currents = x if not workload.linear else shared_linear(workload, x.device, 0)(x)
            agreement = _agreement(spikes, oracle(workload, currents).to(spikes.dtype))
        if agreement < AGREEMENT:
            return Verdict(False, f"spikes agree with the model's oracle in {agreement:.2%} "
                           f"of entries (< {AGREEMENT:.1%})")
        details.append(f"oracle agreement {agreement:.2%}")
    before = _agreement(spikes[:, :quarter], probe[:, :quarter])
    if before < AGREEMENT:
        return Verdict(False, f"changing the last quarter of the input changed {1 - before:.2%}"
                       " of the spikes before it (not causal in time)")
    if torch.equal(spikes[:, quarter:], probe[:, quarter:]):
        return Verdict(False, "spikes do not respond to the last quarter of the input")
    details.append("causal response")
    return Verdict(True, ", ".join(details) + f" ({steps} steps)")
