"""The reverse sweep of the hardware-exact backward (rules tabled in
:mod:`synnet_triton.hardware.dynamics`), one time segment at a time, on time-major float32
buffers.

Per population neuron j (P = N hidden + Nout output neurons) and step t, with σ = ∂n/∂u, the
clamps' pass-through factors recomputed from the forward's records, and ``thr`` = (1 − 2^−d_s)
on a delivery that saturation left alone (0 where it changed the sum):

    gV_t = a_{t+1}·gU_{t+1} + gVext_t                         a = ∂u[t]/∂v[t−1]
    gU_t = gV_t + (gS_t − θ·gV_t)·σ_t
         = (1 − θσ_t)·gV_t + gS_t·σ_t
    gI_t = thr_t·(c_t·gU_t + gI_{t+1} + gIext_t)             c = ∂u[t]/∂(i_1 + i_2)[t]

and a hidden neuron's spikes at t reach the currents of its targets at t + 1:
gS_t[k] += Σ_c gI_{t+1}[c]·W[k, c]. In a network whose spikes only go forward (a SynNet: layer
ℓ feeds ℓ + 1, the last hidden layer the readout), the neurons fall into levels, each fed only
by earlier ones; sweeping the levels from the readout back, every level's spike gradient is
known before its sweep, which is then two linear recurrences (one multiply and one add per
step, as the float backward's) with products over the segment between levels. A network whose
spikes form a cycle runs the step-by-step sweep instead (`stepwise_sweep`).

Segments of at most `steps_per_chunk` steps keep every buffer small (cache-sized, and below the
size at which each fresh allocation costs page faults); the gradients reaching a segment from
later steps are its `Carry`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from synnet_triton.arrays import steps_per_chunk
from synnet_triton.ops.scan import run_reverse_scan
from synnet_triton.xylo.chip import INT16_MAX, INT16_MIN, MAX_INPUT_EVENTS
from synnet_triton.xylo.layers import Level, spike_levels
from synnet_triton.xylo.sim import XyloSim

TRITON_SEGMENT_STEPS = 1024
"""Segment length on CUDA, where each segment's passes are kernel launches (a few dozen):
long segments amortise them; the CPU's segments stay cache-sized (`steps_per_chunk`)."""


@dataclass
class Carry:
    """Gradients reaching a segment from the steps after it.

    g_v: (B, P) on the membranes after the segment's last step (a_{t+1}·gU_{t+1})
    g_i: (B, 2, P) gI of the first step after the segment
    """

    g_v: Tensor
    g_i: Tensor


@dataclass
class SegmentTerms:
    """What the sweep needs for L steps, time-major float32.

    oms:     (L, B, P) 1 − θσ (σ the surrogate ∂n/∂u; 0 for θ ≤ 0 neurons)
    sigma:   (L, B, P) σ
    to_v:    (L, B, P) ∂u[t]/∂v[t−1] through the clamps and the membrane decay
    to_cur:  (L, B, P) ∂u[t]/∂(i_1 + i_2)[t] through the clamps
    through: (L, B, 2, P) the straight-through factor of each delivery onto synapse s of j
    g_s:     (L, B, P) external gradient on the spike counts; the sweep adds what the spikes
             pass to later steps and leaves the total here
    g_vmem:  (L, B, P) external gradient on the membranes, or None
    g_isyn:  (L, B, 2, P) external gradient on the currents, or None
    """

    oms: Tensor
    sigma: Tensor
    to_v: Tensor
    to_cur: Tensor
    through: Tensor
    g_s: Tensor
    g_vmem: Tensor | None
    g_isyn: Tensor | None


@dataclass
class SpecGradients:
    """Gradients on the population's parameters, float32.

    w_in (Nin, 2, P), w_spike (N, 2, P): on the effective weights onto synapse s of neuron j;
    threshold, bias (P,)
    """

    w_in: Tensor
    w_spike: Tensor
    threshold: Tensor
    bias: Tensor


def _hidden_part(level: Level, n_hidden: int) -> Level:
    """The hidden neurons of ``level`` (none for the readout's level)."""
    if isinstance(level, slice):
        return slice(level.start, min(level.stop, n_hidden))
    return level[level < n_hidden]


def layered_sweep(terms: SegmentTerms, carry: Carry, spike_weights: Tensor,
                  levels: list[Level], n_hidden: int,
                  backend: str) -> tuple[Tensor, Tensor, Tensor]:
    """The sweep level by level, readout first; returns (gU, gV, gI): (L, B, P), (L, B, P),
    (L, B, 2, P). ``spike_weights`` (N, 2, P) float32; ``levels`` from `spike_levels`;
    ``backend`` (resolved) runs the scans (:func:`synnet_triton.ops.scan.run_reverse_scan`)."""
    g_u = torch.empty_like(terms.oms)
    g_v = torch.empty_like(terms.oms)
    g_i = torch.empty_like(terms.through)
    for level in reversed(levels):
        # Spikes at t reach their targets' currents at t + 1; every target is in a later
        # level, already swept. Only the currents the level's hidden neurons reach (none from
        # the readout) enter the product.
        hidden = _hidden_part(level, n_hidden)
        weights = spike_weights[hidden]
        reached = torch.nonzero(weights.any(dim=0).flatten()).flatten()
        if reached.numel():
            weights = weights.flatten(1)[:, reached].T
            later = torch.cat([g_i[1:], carry.g_i[None]]).flatten(2)[..., reached]
            terms.g_s[:, :, hidden] += later @ weights
        oms, sigma, to_v = (x[:, :, level] for x in (terms.oms, terms.sigma, terms.to_v))
        g_vmem = None if terms.g_vmem is None else terms.g_vmem[:, :, level]
        coef = torch.empty_like(oms)
        torch.mul(oms[:-1], to_v[1:], out=coef[:-1])
        coef[-1] = 0.0  # never read: no step after the last
        drive = torch.mul(terms.g_s[:, :, level], sigma)
        if g_vmem is not None:
            drive.addcmul_(oms, g_vmem)
        level_u = torch.empty_like(drive)
        run_reverse_scan(coef, drive, drive[-1] + oms[-1] * carry.g_v[:, level], level_u,
                         backend)
        level_v = torch.empty_like(drive)
        torch.mul(to_v[1:], level_u[1:], out=level_v[:-1])
        level_v[-1] = carry.g_v[:, level]
        if g_vmem is not None:
            level_v.add_(g_vmem)
        through = terms.through[..., level]
        drive_i = (terms.to_cur[:, :, level] * level_u).unsqueeze(2).expand_as(through)
        if terms.g_isyn is not None:
            drive_i = drive_i + terms.g_isyn[..., level]
        drive_i = drive_i * through
        level_i = torch.empty_like(drive_i)
        run_reverse_scan(through, drive_i, drive_i[-1] + through[-1] * carry.g_i[..., level],
                         level_i, backend)
        g_u[:, :, level], g_v[:, :, level], g_i[..., level] = level_u, level_v, level_i
    return g_u, g_v, g_i


def stepwise_sweep(terms: SegmentTerms, carry: Carry, spike_weights: Tensor,
                   n_hidden: int) -> tuple[Tensor, Tensor, Tensor]:
    """The same sweep one step at a time, every neuron at once (spikes may form cycles)."""
    steps, batch, n_all = terms.oms.shape
    g_u = torch.empty_like(terms.oms)
    g_v = torch.empty_like(terms.oms)
    g_i = torch.empty_like(terms.through)
    weights_t = spike_weights.flatten(1).T.contiguous()
    grad_v, grad_in = carry.g_v.clone(), carry.g_i.clone()
    for t in range(steps - 1, -1, -1):
        terms.g_s[t, :, :n_hidden].addmm_(grad_in.flatten(1), weights_t)
        if terms.g_vmem is not None:
            grad_v.add_(terms.g_vmem[t])
        grad_u = torch.addcmul(grad_v * terms.oms[t], terms.g_s[t], terms.sigma[t])
        g_u[t], g_v[t] = grad_u, grad_v
        grad_v = grad_u * terms.to_v[t]
        grad_in = grad_in.add((grad_u * terms.to_cur[t]).unsqueeze(1))
        if terms.g_isyn is not None:
            grad_in.add_(terms.g_isyn[t])
        grad_in.mul_(terms.through[t])
        g_i[t] = grad_in
    return g_u, g_v, g_i


def relative_surrogate(
    u: Tensor, threshold: Tensor, window: float, cap: Tensor
) -> tuple[Tensor, Tensor]:
    """PeriodicExponential (∂n/∂u, ∂n/∂θ) as Rockpool computes it, with the window
    ``window · θ`` of each neuron (SynNet's 0.5 at θ = 1 stays half a threshold wide).

    Rockpool's σ = exp(−|v̂ − θ/2| / (wθ)) / θ, with v̂ = u − θ/2 below θ and u − θ/2 − pθ from
    θ on, p = min(⌊(u − θ/2)/θ⌋, cap − 1), is exp(−|u − (1 + p')θ| / (wθ)) / θ with
    p' = clamp(⌊u/θ − 1/2⌋, 0, cap − 1) for every u (below θ/2 the floor is negative, between
    θ/2 and θ it is 0); where rounding puts ⌊·⌋ on the other side of an integer the two sides'
    σ agree (|·| = θ/2 on both). ∂n/∂θ = −σ·u/θ. Both (L, B, P) for u (L, B, P), θ (P,) > 0.
    """
    inverse = 1.0 / threshold
    peak = torch.mul(u, inverse).sub_(0.5).floor_().clamp_(min=0).minimum(cap - 1)
    sigma = peak.add_(1.0).mul_(threshold).sub_(u).abs_().mul_(-inverse / window).exp_()
    sigma.mul_(inverse)
    return sigma, (sigma * u).mul_(-inverse)


@dataclass
class SegmentRecords:
    """The forward's values for steps [start, stop), time-major float32 population tensors.

    v:        (L, B, P) membranes after each step
    v_prev:   (L, B, P) membranes after the step before each step (zeros before step 0)
    currents: (L, B, P) i_1 + i_2 after each step
    spikes:   (L, B, N) hidden spike counts of each step
    spikes_prev: (L, B, N) those of the step before (what each step delivers)
    clipped:  step → (batch rows, current columns) where saturation changed a delivery
    """

    v: Tensor
    v_prev: Tensor
    currents: Tensor
    spikes: Tensor
    spikes_prev: Tensor
    clipped: dict[int, tuple[Tensor, Tensor]]


def _time_major_population(record: dict[str, Tensor], hidden: str, out: str) -> Tensor:
    return torch.cat([record[hidden].transpose(0, 1).float(),
                      record[out].transpose(0, 1).float()], dim=2)


def _segment_from_record(record: dict[str, Tensor], before: dict[str, Tensor], n_hidden: int,
                         clipped: dict[int, tuple[Tensor, Tensor]]) -> SegmentRecords:
    """``record`` (B, L, ·) of L steps and ``before``, the state ahead of them (as
    ``XyloSim.carried_state``)."""
    v = _time_major_population(record, "Vmem", "Vmem_out")
    currents = _time_major_population(record, "Isyn", "Isyn_out")
    if "Isyn2" in record:
        currents[:, :, :n_hidden] += record["Isyn2"].transpose(0, 1)
    spikes = record["Spikes"].transpose(0, 1).float()
    v_prev = torch.cat([before["vmem"].float()[None], v[:-1]])
    spikes_prev = torch.cat([before["spikes"][:, :n_hidden].float()[None], spikes[:-1]])
    return SegmentRecords(v, v_prev, currents, spikes, spikes_prev, clipped)


class RecordedSteps:
    """Segments sliced from the records of the whole forward."""

    def __init__(self, sim: XyloSim, record: dict[str, Tensor],
                 clip_log: list[tuple[int, Tensor, Tensor]]) -> None:
        self.record, self.n_hidden = record, sim.spec.n_hidden
        self.zeros = sim.reset_state().carried_state(record["Vmem"].shape[0])
        self.clipped = {step: (rows, cols) for step, rows, cols in clip_log}

    def segment(self, start: int, stop: int) -> SegmentRecords:
        if start == 0:
            before = self.zeros
        else:
            before = {
                "vmem": torch.cat([self.record["Vmem"][:, start - 1],
                                   self.record["Vmem_out"][:, start - 1]], dim=1),
                "spikes": self.record["Spikes"][:, start - 1],
            }
        record = {key: value[:, start:stop] for key, value in self.record.items()}
        clipped = {step - start: place for step, place in self.clipped.items()
                   if start <= step < stop}
        return _segment_from_record(record, before, self.n_hidden, clipped)


class ReplayedSteps:
    """Segments re-simulated from the states a checkpointed forward saved every K steps
    (``checkpoint_every``): the same integers as the whole forward's records."""

    def __init__(self, sim: XyloSim, events: Tensor, checkpoints: dict[int, dict[str, Tensor]]
                 ) -> None:
        self.sim, self.events, self.checkpoints = sim, events, checkpoints

    def segment(self, start: int, stop: int) -> SegmentRecords:
        state = self.checkpoints[start]
        self.sim.carry(state)
        self.sim.clip_log = []
        try:
            _, _, record = self.sim(self.events[:, start:stop], record=True)
            clip_log = self.sim.clip_log
        finally:
            self.sim.clip_log = None
        clipped = {step: (rows, cols) for step, rows, cols in clip_log}
        return _segment_from_record(record, state, self.sim.spec.n_hidden, clipped)


SegmentSource = RecordedSteps | ReplayedSteps


def hardware_backward(
    sim: XyloSim,
    window: float,
    events: Tensor,
    source: SegmentSource,
    grad_output: Tensor,
    segment_steps: int | None = None,
) -> SpecGradients:
    """The backward of the simulator's forward on ``events`` (B, T, Nin) from the forward's
    values (``source``: its records, or replays from checkpoints) and the gradient on its
    output ``grad_output`` (B, T, Nout). Segments of ``segment_steps`` (a replay's
    checkpoint interval), else of a cache-sized length."""
    batch, steps, n_in = events.shape
    n_hidden = sim.spec.n_hidden
    n_all = sim.threshold.shape[0]
    threshold = sim.threshold.float()
    positive = threshold > 0
    safe_threshold = torch.where(positive, threshold, 1.0)
    cap = sim.spike_cap.float()
    keep = (1.0 - 2.0**-sim.dash_syn.float())  # (2, P): the decay's linear part
    spike_weights = sim.drive_weights[n_in:].float().reshape(n_hidden, 2, n_all)
    levels = spike_levels(sim.drive_weights[n_in:], n_hidden)

    grads = SpecGradients(
        w_in=threshold.new_zeros(n_in, 2 * n_all),
        w_spike=threshold.new_zeros(n_hidden, 2 * n_all),
        threshold=threshold.new_zeros(n_all), bias=threshold.new_zeros(n_all))
    carry = Carry(threshold.new_zeros(batch, n_all), threshold.new_zeros(batch, 2, n_all))
    backend = sim.resolved_backend(grad_output.device)
    length = segment_steps or (TRITON_SEGMENT_STEPS if backend == "triton"
                               else steps_per_chunk(batch * 2 * n_all))
    for start in reversed(range(0, steps, length)):
        segment = slice(start, min(start + length, steps))
        records = source.segment(segment.start, segment.stop)
        terms, to_bias, counts, dn_dtheta = _segment_terms(
            sim, records, window, safe_threshold, positive, cap, keep,
            grad_output[:, segment])
        if levels is None:
            g_u, g_v, g_i = stepwise_sweep(terms, carry, spike_weights, n_hidden)
        else:
            g_u, g_v, g_i = layered_sweep(terms, carry, spike_weights, levels, n_hidden,
                                          backend)
        carry = Carry(g_u[0] * terms.to_v[0], g_i[0])

        grads.threshold += (terms.g_s.sub_(threshold * g_v).mul_(dn_dtheta)
                            .sub_(g_v * counts)).sum(dim=(0, 1))
        grads.bias += (g_u * to_bias).sum(dim=(0, 1))
        flat_i = g_i.flatten(2).flatten(0, 1)
        drive_in = events[:, segment].transpose(0, 1).clamp(max=MAX_INPUT_EVENTS).float()
        grads.w_in.addmm_(drive_in.flatten(0, 1).T, flat_i)
        grads.w_spike.addmm_(records.spikes_prev.flatten(0, 1).T, flat_i)
    grads.w_in = grads.w_in.reshape(n_in, 2, n_all)
    grads.w_spike = grads.w_spike.reshape(n_hidden, 2, n_all)
    return grads


def _segment_terms(
    sim: XyloSim, records: SegmentRecords, window: float, safe_threshold: Tensor,
    positive: Tensor, cap: Tensor, keep: Tensor, grad_output: Tensor,
) -> tuple[SegmentTerms, Tensor, Tensor, Tensor]:
    """Each step's forward of a segment recomputed from its records (the step before
    included): the sweep's terms and (L, B, P) ∂u/∂bias, spike counts, ∂n/∂θ.
    ``grad_output`` (B, L, Nout) is the segment's."""
    n_hidden = sim.spec.n_hidden
    v, v_prev = records.v, records.v_prev
    batch, n_all = v.shape[1], v.shape[2]
    dash_mem = sim.dash_mem.float()
    decay = torch.floor(v_prev * 2.0**-dash_mem)
    decay = torch.where(decay == 0, torch.sign(v_prev), decay)
    decay = torch.where(decay == INT16_MIN, -float(INT16_MIN), decay)  # xylosim's int16 negation
    dv0 = records.currents.clone().sub_(decay)
    dv1 = dv0.clamp(INT16_MIN, INT16_MAX)
    # each clamp passes the gradient where it left its input alone (bounds included)
    to_cur = (dv1 == dv0).float()
    dv1b = dv1.add_(sim.bias.float())
    u = dv1b.clamp(INT16_MIN, INT16_MAX)
    to_bias = (u == dv1b).float()
    u_pre = u.add_(v_prev)
    u = u_pre.clamp(INT16_MIN, INT16_MAX)
    inside = (u == u_pre).float()
    to_bias.mul_(inside)
    to_cur.mul_(to_bias)
    to_v = inside.sub_(to_cur * 2.0**-dash_mem)
    del decay, dv0, dv1, dv1b, u_pre

    # spike counts: the record's for hidden neurons, (u − v) / θ for outputs (exact integers)
    outputs = slice(n_hidden, None)
    counts = torch.cat([records.spikes,
                        (u[..., outputs] - v[..., outputs]).div_(safe_threshold[outputs])
                        .round_()], dim=2)
    sigma, dn_dtheta = relative_surrogate(u, safe_threshold, window, cap)
    if not bool(positive.all()):
        # θ ≤ 0 neurons (xylosim's wrapping loop) pass no gradient through their counts
        counts.mul_(positive)
        sigma.mul_(positive)
        dn_dtheta.mul_(positive)

    # External gradients: on output spikes (Spike mode) or on an output state.
    external = grad_output.transpose(0, 1).float()
    g_s = torch.zeros_like(sigma)
    g_vmem = g_isyn = None
    if sim.output_mode == "Spike":
        g_s[..., n_hidden:] = external
    elif sim.output_mode == "Vmem":
        g_vmem = torch.zeros_like(sigma)
        g_vmem[..., n_hidden:] = external
    else:
        g_isyn = sigma.new_zeros(len(sigma), batch, 2, n_all)
        g_isyn[:, :, 0, n_hidden:] = external
    through = keep.expand(len(sigma), batch, 2, n_all).clone()
    flat_through = through.view(len(sigma), batch, 2 * n_all)
    for step, (rows, cols) in records.clipped.items():
        flat_through[step, rows, cols] = 0.0
    terms = SegmentTerms(oms=1.0 - safe_threshold * sigma, sigma=sigma, to_v=to_v,
                         to_cur=to_cur, through=through, g_s=g_s, g_vmem=g_vmem, g_isyn=g_isyn)
    return terms, to_bias, counts, dn_dtheta
