"""The reverse sweep of the torch backend's backward (docs/design.md §4), one time segment at a
time.

Everything works on time-major float32 buffers of one segment, allocated once per backward
and reused segment by segment. Without recurrence the sweep is two linear recurrences,

    gU_t = α(1 − θσ_t)·gU_{t+1} + gS_t·σ_t        gI_t = β·gI_{t+1} + gU_t

each one multiply and one add per step, and everything else is whole-segment passes. With
recurrence gS_{t−1} also receives gX_t·W_recᵀ, so the sweep runs step by step.
"""

from __future__ import annotations

import torch
from torch import Tensor

from synnet_triton.ops.scan.torch_backend import reverse_scan_loop


class SweepBuffers:
    """Time-major float32 buffers of one backward segment, allocated once per backward and
    reused by every segment (fresh large allocations cost page faults on every call).

    (L, B, N): q = u/θ, s, sigma = ∂s/∂u, oms = 1 − θσ, coef = α(1 − θσ), drive (gU's own
    drive), g_s, g_u, g_v, v_prev, scratch, and u when checkpointed segments are recomputed;
    (L, B, N, S): g_i, g_x, pre (x plus recurrent input) when β or W_rec needs a gradient,
    r (the β accumulator) when β does; g_v_ext and g_i_ext hold incoming record gradients;
    s_prev the spikes of the step before (W_rec).
    """

    def __init__(self, like: Tensor, length: int, batch: int, n_neurons: int, n_synapses: int,
                 *, recompute: bool, g_vmem: bool, g_isyn: bool, pre: bool, beta_scan: bool,
                 recurrent: bool) -> None:
        def new(*shape: int) -> Tensor:
            return like.new_empty(shape, dtype=torch.float32)

        per_neuron = (length, batch, n_neurons)
        per_synapse = (*per_neuron, n_synapses)
        (self.q, self.s, self.sigma, self.oms, self.coef, self.drive, self.g_s, self.g_u,
         self.g_v, self.v_prev, self.scratch) = (new(*per_neuron) for _ in range(11))
        self.u = new(*per_neuron) if recompute else None
        self.g_i, self.g_x = new(*per_synapse), new(*per_synapse)
        self.pre = new(*per_synapse) if pre else None
        self.r = new(*per_synapse) if beta_scan else None
        self.g_v_ext = new(*per_neuron) if g_vmem else None
        self.g_i_ext = new(*per_synapse) if g_isyn else None
        self.s_prev = new(*per_neuron) if recurrent else None


def time_major(out: Tensor, source: Tensor) -> Tensor:
    """Copy ``source`` (B, L, ...) into the time-major buffer ``out`` (≥ L, B, ...)."""
    steps = source.shape[1]
    return out[:steps].copy_(source.transpose(0, 1))


def spike_counts_into(u: Tensor, quotient: Tensor, threshold: Tensor, max_spikes: float,
                       out: Tensor, scratch: Tensor) -> Tensor:
    """spike_count(u) from u and u/θ into ``out`` (the forward's values bitwise): the literal
    Rockpool clamp only where a count reaches 2²⁴, min(s, M) below, where the two agree."""
    torch.floor(quotient, out=out)
    out.mul_(torch.ge(u, threshold, out=scratch))
    if out.numel() and bool(out.max() >= 2.0**24):
        over = torch.gt(out, max_spikes, out=scratch)
        return out.sub_((out - max_spikes).mul_(over))
    return out.clamp_(max=max_spikes)


def recurrent_sweep(buf: SweepBuffers, steps: int, alpha: Tensor, beta: Tensor,
                     w_rec: Tensor, carry_v: Tensor, carry_i: Tensor) -> Tensor:
    """The step-by-step sweep with recurrence: gS_{t} also receives gX_{t+1}·W_recᵀ.

    Fills g_s, g_v, g_u, g_i, g_x of the segment's ``steps`` steps; returns the gradient
    reaching the spikes of the step before the segment, gX_0·W_recᵀ (B, N).
    """
    batch, n_neurons = carry_v.shape
    w_rec_t = w_rec.t()
    g_s, g_v, g_u, g_i, g_x = (b[:steps] for b in (buf.g_s, buf.g_v, buf.g_u, buf.g_i, buf.g_x))
    for t in range(steps - 1, -1, -1):
        if t == steps - 1:
            g_v[t].copy_(carry_v)
            g_i[t].copy_(carry_i)
        else:
            g_s[t] += g_x[t + 1].reshape(batch, -1) @ w_rec_t
            torch.mul(g_u[t + 1], alpha, out=g_v[t])
            torch.mul(g_i[t + 1], beta, out=g_i[t])
        if buf.g_v_ext is not None:
            g_v[t].add_(buf.g_v_ext[t])
        torch.addcmul(g_v[t] * buf.oms[t], g_s[t], buf.sigma[t], out=g_u[t])
        g_i[t].add_(g_u[t].unsqueeze(-1))
        if buf.g_i_ext is not None:
            g_i[t].add_(buf.g_i_ext[t])
        torch.mul(g_i[t], beta, out=g_x[t])
    return g_x[0].reshape(batch, -1) @ w_rec_t


def feedforward_sweep(buf: SweepBuffers, steps: int, alpha: Tensor, beta: Tensor,
                       carry_v: Tensor, carry_i: Tensor) -> None:
    """Without recurrence the sweep is two linear recurrences (docs/design.md §4):

        gU_t = α(1 − θσ_t)·gU_{t+1} + gS_t·σ_t + gVext_t·(1 − θσ_t)
        gI_t = β·gI_{t+1} + gU_t + gIext_t

    with the carries from later steps entering at the segment's last step; gV_t = gVext_t +
    α·gU_{t+1} and gX = β·gI follow in whole-segment passes.
    """
    oms, sigma, coef, drive = (b[:steps] for b in (buf.oms, buf.sigma, buf.coef, buf.drive))
    g_s, g_v, g_u, g_i, g_x = (b[:steps] for b in (buf.g_s, buf.g_v, buf.g_u, buf.g_i, buf.g_x))
    torch.mul(oms, alpha, out=coef)
    torch.mul(g_s, sigma, out=drive)
    g_v_ext = None if buf.g_v_ext is None else buf.g_v_ext[:steps]
    if g_v_ext is not None:
        drive.addcmul_(g_v_ext, oms)
    drive[-1].addcmul_(oms[-1], carry_v)
    reverse_scan_loop(coef, drive, drive[-1], g_u)
    torch.mul(g_u[1:], alpha, out=g_v[:-1])
    g_v[-1].copy_(carry_v)
    if g_v_ext is not None:
        g_v.add_(g_v_ext)
    drive_i = g_u.unsqueeze(-1)
    if buf.g_i_ext is not None:
        drive_i = buf.g_i_ext[:steps].add_(drive_i)
    reverse_scan_loop(beta, drive_i, drive_i[-1] + carry_i, g_i)
    torch.mul(g_i, beta, out=g_x)
