"""The torch backend of the LIF operation: the CPU path and the oracle for the kernels.

Forward: Rockpool 3.1's float32 step loop (docs/design.md §3), in
:mod:`synnet_triton.ops.lif.torch_steps`; it keeps the pre-spike membrane u, time-major (T, B,
N), or with checkpointing the state before every K-th step. Backward (docs/design.md §4): s, v
and σ are recomputed from u (or by running a checkpointed segment again) segment by segment from
the last, and the reverse sweep of
:mod:`synnet_triton.ops.lif.torch_sweep` gives the gradients of x and the initial state; the
parameter gradients are per-segment reductions over (B, T).
"""

from __future__ import annotations

import torch
from torch import Tensor

from synnet_triton.arrays import steps_per_chunk
from synnet_triton.ops.lif.backend import (
    ForwardResult,
    Gradients,
    LIFInputs,
    NeedsGrad,
    OutputGrads,
)
from synnet_triton.ops.lif.surrogates import spike_count, surrogate_grad_into
from synnet_triton.ops.lif.torch_steps import run_steps, segment_bounds
from synnet_triton.ops.lif.torch_sweep import (
    SweepBuffers,
    feedforward_sweep,
    recurrent_sweep,
    spike_counts_into,
    time_major,
)
from synnet_triton.ops.lif.types import Surrogate
from synnet_triton.ops.scan.torch_backend import reverse_scan_loop


def forward(
    inputs: LIFInputs,
    *,
    max_spikes: float,
    record: bool,
    checkpoint_every: int,
    save: bool = True,
) -> ForwardResult:
    """Run the whole sequence; see :mod:`synnet_triton.ops.lif.backend` for shapes."""
    x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0 = inputs
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    xs = x.float().view(batch, steps, n_neurons, n_synapses)
    spikes = x.new_empty((batch, steps, n_neurons), dtype=torch.float32)
    vmem = torch.empty_like(spikes) if record else None
    isyn = xs.new_empty(xs.shape) if record else None

    if not save or checkpoint_every > 0:
        # u is scratch, one segment at a time; with checkpointing the state before each
        # segment is what the backward keeps
        length = checkpoint_every if save else steps_per_chunk(batch * n_neurons * n_synapses)
        scratch = x.new_empty((min(steps, length), batch, n_neurons), dtype=torch.float32)
        v, i, s = v0, i0, s0
        checkpoints: list[tuple[Tensor, Tensor, Tensor]] = []
        for start, stop in segment_bounds(steps, length):
            checkpoints.append((v, i, s))
            seg = slice(start, stop)
            v, i, s = run_steps(
                xs[:, seg], alpha, beta, threshold, bias,
                None if noise is None else noise[:, seg], w_rec, v, i, s, max_spikes,
                scratch[: stop - start], spikes[:, seg],
                None if vmem is None else vmem[:, seg],
                None if isyn is None else isyn[:, seg],
            )
        saved: tuple[Tensor, ...] = () if not save else tuple(
            torch.stack(parts, 1) if parts else ref.new_empty((batch, 0, *ref.shape[1:]))
            for parts, ref in zip(zip(*checkpoints) if checkpoints else ((), (), ()),
                                  (v0, i0, s0))
        )
    else:
        u_all = x.new_empty((steps, batch, n_neurons), dtype=torch.float32)
        v, i, s = run_steps(
            xs, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0, max_spikes,
            u_all, spikes, vmem, isyn,
        )
        saved = (u_all,)

    out_dtype = x.dtype
    return ForwardResult(
        spikes=spikes.to(out_dtype),
        vmem=None if vmem is None else vmem.to(out_dtype),
        isyn=None if isyn is None else isyn.view(batch, steps, n_neurons, n_synapses).to(out_dtype),
        final_vmem=v,
        final_isyn=i,
        final_spikes=s,
        saved=saved,
    )



def backward(
    saved: tuple[Tensor, ...],
    grads: OutputGrads,
    inputs: LIFInputs,
    *,
    surrogate: Surrogate,
    window: float,
    max_spikes: float,
    checkpoint_every: int,
    needs_grad: NeedsGrad,
) -> Gradients:
    """The reverse sweep of docs/design.md §4; see :mod:`synnet_triton.ops.lif.backend` for shapes.

    Segment by segment from the last, in time-major buffers: spikes and σ are recomputed from
    the saved u (or a checkpointed segment is run again), the sweep gives gU, gV, gI and gX,
    and the parameter gradients are per-segment reductions over (B, T):

        ∂α = Σ v_{t−1}·gU_t     ∂b = Σ gU_t     ∂θ = Σ (gS_t − θ·gV_t)·∂s/∂θ − gV_t·s_t
        ∂β = Σ pre_t·gI_t = Σ_k drive_k·R_k + i₀·R₀,   R_k = gI_k + β·R_{k+1}

    where pre_t = i_{t−1} + drive_t is the current before decay and drive_t = x_t (+ s_{t−1}
    W_rec): expanding pre over the past turns ∂β into a second reverse recurrence, so the
    currents are never recomputed.
    """
    grad_spikes, grad_vmem, grad_isyn, grad_final_vmem, grad_final_isyn, grad_final_spikes = grads
    x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0 = inputs
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    need_pre = needs_grad.beta or needs_grad.w_rec
    # x is read only for the β / W_rec gradients or to recompute checkpointed segments
    xs = (
        x.float().view(batch, steps, n_neurons, n_synapses)
        if need_pre or checkpoint_every > 0
        else x.new_zeros((), dtype=torch.float32).expand(batch, steps, n_neurons, n_synapses)
    )
    acc = {
        "alpha": alpha.new_zeros(alpha.shape),
        "beta": beta.new_zeros(beta.shape),
        "threshold": threshold.new_zeros(threshold.shape),
        "bias": bias.new_zeros(bias.shape),
        "w_rec": alpha.new_zeros(0) if w_rec is None else w_rec.new_zeros(w_rec.shape),
    }
    carry_v = v0.new_zeros(v0.shape) if grad_final_vmem is None else grad_final_vmem.float()
    carry_i = i0.new_zeros(i0.shape) if grad_final_isyn is None else grad_final_isyn.float()
    carry_s = s0.new_zeros(s0.shape) if grad_final_spikes is None else grad_final_spikes.float()
    carry_r = i0.new_zeros(i0.shape)
    g_x_all = v0.new_empty((batch, steps, n_neurons, n_synapses)) if needs_grad.x else None

    per_step = batch * n_neurons * n_synapses
    length = checkpoint_every if checkpoint_every > 0 else steps_per_chunk(per_step)
    segments = segment_bounds(steps, length)
    buf = SweepBuffers(v0, min(length, steps), batch, n_neurons, n_synapses,
                        recompute=checkpoint_every > 0, g_vmem=grad_vmem is not None,
                        g_isyn=grad_isyn is not None, pre=need_pre,
                       beta_scan=needs_grad.beta, recurrent=w_rec is not None)
    if checkpoint_every > 0:
        ckpt_v, ckpt_i, ckpt_s = saved
        recomputed_spikes = v0.new_empty((batch, min(length, steps), n_neurons))
    else:
        (u_all,) = saved

    for k in reversed(range(len(segments))):
        start, stop = segments[k]
        seg, n_steps = slice(start, stop), stop - start
        if checkpoint_every > 0 and buf.u is not None:
            v_start, s_start = ckpt_v[:, k], ckpt_s[:, k]
            run_steps(
                xs[:, seg], alpha, beta, threshold, bias,
                None if noise is None else noise[:, seg], w_rec, v_start, ckpt_i[:, k],
                s_start, max_spikes, buf.u[:n_steps], recomputed_spikes[:, :n_steps],
                None, None,
            )
            u = buf.u[:n_steps]
        else:
            u = u_all[seg]
            if start == 0:
                v_start, s_start = v0, s0
            else:
                u_before = u_all[start - 1]
                s_start = spike_count(u_before, threshold, max_spikes)
                v_start = u_before - s_start * threshold
        q = torch.div(u, threshold, out=buf.q[:n_steps])
        s = spike_counts_into(u, q, threshold, max_spikes, buf.s[:n_steps],
                               buf.scratch[:n_steps])
        sigma = surrogate_grad_into(surrogate, u, threshold, window, max_spikes,
                                    buf.sigma[:n_steps], buf.scratch[:n_steps])
        torch.mul(sigma, -threshold, out=buf.oms[:n_steps]).add_(1.0)
        g_s = buf.g_s[:n_steps]
        if grad_spikes is None:
            g_s.zero_()
        else:
            time_major(g_s, grad_spikes[:, seg])
        g_s[-1].add_(carry_s)
        if buf.g_v_ext is not None and grad_vmem is not None:
            time_major(buf.g_v_ext, grad_vmem[:, seg])
        if buf.g_i_ext is not None and grad_isyn is not None:
            time_major(buf.g_i_ext, grad_isyn[:, seg])

        if w_rec is None:
            feedforward_sweep(buf, n_steps, alpha, beta, carry_v, carry_i)
            carry_s = s0.new_zeros(s0.shape)
        else:
            carry_s = recurrent_sweep(buf, n_steps, alpha, beta, w_rec, carry_v, carry_i)
        g_u, g_v, g_x = buf.g_u[:n_steps], buf.g_v[:n_steps], buf.g_x[:n_steps]
        if g_x_all is not None:
            g_x_all[:, seg].copy_(g_x.transpose(0, 1))

        if needs_grad.bias:
            acc["bias"] += g_u.sum((0, 1))
        if needs_grad.threshold:
            # (gS − θ·gV)·∂s/∂θ − gV·s with ∂s/∂θ = −(u/θ)·σ, summed then negated
            term = torch.mul(g_v, threshold, out=buf.scratch[:n_steps])
            torch.sub(g_s, term, out=term).mul_(sigma).mul_(q).addcmul_(g_v, s)
            acc["threshold"] -= term.sum((0, 1))
        if needs_grad.alpha:
            v_prev = buf.v_prev[:n_steps]
            v_prev[0].copy_(v_start)
            torch.mul(s[:-1], threshold, out=v_prev[1:])
            torch.sub(u[:-1], v_prev[1:], out=v_prev[1:])
            acc["alpha"] += v_prev.mul_(g_u).sum((0, 1))
        if buf.pre is not None:
            pre = time_major(buf.pre, xs[:, seg])
            if w_rec is not None and buf.s_prev is not None:
                s_prev = buf.s_prev[:n_steps]
                s_prev[0].copy_(s_start)
                s_prev[1:].copy_(s[:-1])
                s_rows = s_prev.reshape(n_steps * batch, n_neurons)
                pre.view(n_steps * batch, -1).addmm_(s_rows, w_rec)
                if needs_grad.w_rec:
                    acc["w_rec"].addmm_(s_rows.t(), g_x.reshape(n_steps * batch, -1))
            if buf.r is not None:
                r = buf.r[:n_steps]
                g_i = buf.g_i[:n_steps]
                reverse_scan_loop(beta, g_i, g_i[-1] + beta * carry_r, r)
                acc["beta"] += pre.mul_(r).sum((0, 1))
                carry_r = r[0].clone()
        carry_v = alpha * g_u[0]
        carry_i = g_x[0].clone()

    if needs_grad.beta and steps:
        acc["beta"] += (i0 * carry_r).sum(0)
    return Gradients(
        x=None if g_x_all is None else g_x_all.view(x.shape).to(x.dtype),
        alpha=acc["alpha"] if needs_grad.alpha else None,
        beta=acc["beta"] if needs_grad.beta else None,
        threshold=acc["threshold"] if needs_grad.threshold else None,
        bias=acc["bias"] if needs_grad.bias else None,
        v0=carry_v if needs_grad.v0 else None,
        i0=carry_i if needs_grad.i0 else None,
        s0=carry_s if needs_grad.s0 else None,
        w_rec=acc["w_rec"] if needs_grad.w_rec else None,
    )
