"""The torch backend of the LIF operation: the CPU path and the oracle for the kernels.

Forward (DESIGN §3, Rockpool 3.1 ``LIFTorch.forward``), float32, for t = 0 … T−1:

    i = i + x_t  [+ s_{t−1} @ W_rec]      v = v·α      i = i·β
    u = ((v + Σ_s i) + noise_t) + b       s = spike_count(u)      v = u − s·θ

The step loop runs the exact float32 operations of Rockpool in the same order, so spike counts
are bitwise equal; it works in place on preallocated buffers because on small layers the cost
of a step is the per-op overhead, not arithmetic.

Backward (DESIGN §4): from the saved pre-spike membrane u, kept time-major (T, B, N),
everything else (s, v, σ) is recomputed segment by segment from the last, in time-major
buffers reused by every segment. Without recurrence the reverse sweep is two linear
recurrences,

    gU_t = α(1 − θσ_t)·gU_{t+1} + gS_t·σ_t        gI_t = β·gI_{t+1} + gU_t

each one multiply and one add per step; everything else is whole-segment passes, and the
parameter gradients are reductions over (B, T). With recurrence gS_{t−1} also receives
gX_t·W_recᵀ, so the sweep runs step by step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from synnet_triton.backend import ForwardResult, Gradients, NeedsGrad
from synnet_triton.surrogates import spike_count, surrogate_grad_into
from synnet_triton.types import Surrogate

SWEEP_STEPS = 128
SWEEP_ELEMENTS = 2**18
# u/θ from here on (2²³, a margin for the rounding of u/θ) may reach counts of 2²⁴
EXACT_COUNT_BOUND = 2.0**23


def _run_steps(
    x: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    bias: Tensor,
    noise: Tensor | None,
    w_rec: Tensor | None,
    v0: Tensor,
    i0: Tensor,
    s0: Tensor,
    max_spikes: float,
    u_out: Tensor,
    spikes_out: Tensor,
    vmem_out: Tensor | None,
    isyn_out: Tensor | None,
    literal_clamp: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """The sequential step loop over x (B, T, N, S) float32, writing u (T, B, N) time-major,
    spikes (B, T, N) and the records vmem (B, T, N) and isyn (B, T, N, S).

    Rockpool clamps the count as s − (s − M)·(s > M). That equals min(s, M) while s < 2²⁴,
    where float32 integers are exact; the cheaper min is used unless ``literal_clamp``, and a
    sequence whose u/θ came near 2²⁴ is run again with the literal formula.
    Adding a bias of exactly zero only changes the sign of zeros, so it is skipped.

    Returns the final (v (B, N), i (B, N, S), s (B, N)). On CPU the loop runs numpy's ufuncs on
    memory shared with the tensors: a step of a small layer costs per-op overhead, about three
    times less in numpy than in torch, and both do the same IEEE float32 operations. Inputs and
    batch-major outputs pass through small time-major staging buffers a chunk of steps at a
    time: contiguous steps run faster, and the buffers stay in cache.
    """
    batch, steps, n_neurons, n_synapses = x.shape
    v, i, s = v0.clone(), i0.clone(), s0.clone()
    xp, arrays = _array_namespace(x)
    v_a, i_a, s_a = arrays(v), arrays(i), arrays(s)
    alpha_a, beta_a, threshold_a, bias_a = (arrays(t) for t in (alpha, beta, threshold, bias))
    has_bias = bool(bias.any())
    chunk = min(steps, _sweep_length(batch, n_neurons, n_synapses))

    def staging(source: Tensor | None) -> tuple[Any, Any] | None:
        """(the (B, T, ...) array, a (chunk, B, ...) time-major buffer) for one stream."""
        if source is None:
            return None
        buffer = source.new_empty((chunk, batch, *source.shape[2:]), dtype=torch.float32)
        return arrays(source), arrays(buffer)

    x_io, noise_io, spikes_io, vmem_io, isyn_io = (
        staging(t) for t in (x, noise, spikes_out, vmem_out, isyn_out)
    )
    u_a = arrays(u_out)
    bound = arrays(EXACT_COUNT_BOUND * threshold)
    as_tensor = torch.from_numpy if xp is np else (lambda a: a)
    w_rec_t = None if w_rec is None else w_rec.t()
    limit = xp.full_like(s_a, max_spikes)
    i_first = i_a[..., 0]
    scratch = xp.empty_like(v_a)
    fired = xp.empty_like(v_a) > 0
    near_bound = False
    s_prev = s
    for start in range(0, steps, chunk):
        n_steps = min(chunk, steps - start)
        for io in (x_io, noise_io):
            if io is not None:
                io[1][:n_steps] = xp.moveaxis(io[0][:, start : start + n_steps], 1, 0)
        for k in range(n_steps):
            t = start + k
            xp.add(i_a, x_io[1][k], out=i_a)  # type: ignore[index]
            if w_rec_t is not None:
                irec = F.linear(s_prev, w_rec_t).view(batch, n_neurons, n_synapses)
                xp.add(i_a, arrays(irec), out=i_a)
            xp.multiply(v_a, alpha_a, out=v_a)
            xp.multiply(i_a, beta_a, out=i_a)
            u = u_a[t]
            if n_synapses == 1:
                xp.add(v_a, i_first, out=u)
            else:
                xp.add(v_a, xp.sum(i_a, 2), out=u)
            if noise_io is not None:
                xp.add(u, noise_io[1][k], out=u)
            if has_bias:
                xp.add(u, bias_a, out=u)
            s_t = spikes_io[1][k]  # type: ignore[index]
            # spike_count(u), step by step into preallocated buffers
            xp.divide(u, threshold_a, out=s_t)
            xp.floor(s_t, out=s_t)
            xp.greater_equal(u, threshold_a, out=fired)
            xp.multiply(s_t, fired, out=s_t)
            if literal_clamp:
                xp.greater(s_t, limit, out=fired)
                xp.subtract(s_t, limit, out=scratch)
                xp.multiply(scratch, fired, out=scratch)
                xp.subtract(s_t, scratch, out=s_t)
            else:
                xp.minimum(s_t, limit, out=s_t)
            xp.multiply(s_t, threshold_a, out=scratch)
            xp.subtract(u, scratch, out=v_a)
            if vmem_io is not None:
                vmem_io[1][k] = v_a
            if isyn_io is not None:
                isyn_io[1][k] = i_a
            if w_rec_t is not None:
                s_prev = as_tensor(s_t)
        for io in (spikes_io, vmem_io, isyn_io):
            if io is not None:
                io[0][:, start : start + n_steps] = xp.moveaxis(io[1][:n_steps], 0, 1)
        if not literal_clamp and not near_bound:
            near_bound = bool((u_a[start : start + n_steps] >= bound).any())
    if near_bound:
        return _run_steps(
            x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0, max_spikes,
            u_out, spikes_out, vmem_out, isyn_out, literal_clamp=True,
        )
    if steps:
        s.copy_(spikes_out[:, -1])
    return v, i, s


def _array_namespace(t: Tensor):  # type: ignore[no-untyped-def]
    """(numpy, Tensor → ndarray view) for CPU tensors, (torch, identity) otherwise."""
    if t.device.type == "cpu":
        return np, lambda a: a.detach().numpy()
    return torch, lambda a: a


def forward(
    x: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    bias: Tensor,
    noise: Tensor | None,
    w_rec: Tensor | None,
    v0: Tensor,
    i0: Tensor,
    s0: Tensor,
    *,
    max_spikes: float,
    record: bool,
    checkpoint_every: int,
    save: bool = True,
) -> ForwardResult:
    """Run the whole sequence; see :mod:`synnet_triton.backend` for shapes."""
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    xs = x.float().view(batch, steps, n_neurons, n_synapses)
    spikes = x.new_empty((batch, steps, n_neurons), dtype=torch.float32)
    vmem = torch.empty_like(spikes) if record else None
    isyn = xs.new_empty(xs.shape) if record else None

    if not save or checkpoint_every > 0:
        # u is scratch, one segment at a time; with checkpointing the state before each
        # segment is what the backward keeps
        length = checkpoint_every if save else _sweep_length(batch, n_neurons, n_synapses)
        scratch = x.new_empty((min(steps, length), batch, n_neurons), dtype=torch.float32)
        v, i, s = v0, i0, s0
        checkpoints: list[tuple[Tensor, Tensor, Tensor]] = []
        for start, stop in _segments(steps, length):
            checkpoints.append((v, i, s))
            seg = slice(start, stop)
            v, i, s = _run_steps(
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
        v, i, s = _run_steps(
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



def _segments(steps: int, length: int) -> list[tuple[int, int]]:
    """[start, stop) bounds of consecutive segments of ``length`` steps covering ``steps``."""
    return [(start, min(start + length, steps)) for start in range(0, steps, length)]



def _sweep_length(batch: int, n_neurons: int, n_synapses: int) -> int:
    """Steps per backward segment: about SWEEP_ELEMENTS per buffer, at most SWEEP_STEPS.

    The sweep streams a dozen segment-sized buffers; kept near 1 MiB each they stay in cache,
    while fewer, longer segments save per-op overhead on small layers (measured on the
    2-core EPYC: 128 steps best at 1 024 neurons·batch, 32 at 16 384).
    """
    return max(1, min(SWEEP_STEPS, SWEEP_ELEMENTS // (batch * n_neurons * n_synapses)))


class _SweepBuffers:
    """Time-major float32 buffers of one backward segment, allocated once per backward and
    reused by every segment (fresh large allocations cost page faults on every call).

    (L, B, N): q = u/θ, s, sigma = ∂s/∂u, oms = 1 − θσ, coef = α(1 − θσ), drive (gU's own
    drive), g_s, g_u, g_v, v_prev, scratch, and u when checkpointed segments are recomputed;
    (L, B, N, S): g_i, g_x and, when β or W_rec needs a gradient, pre (x plus recurrent input)
    and r (the β accumulator); g_v_ext and g_i_ext hold incoming record gradients; s_prev the
    spikes of the step before (W_rec).
    """

    def __init__(self, like: Tensor, length: int, batch: int, n_neurons: int, n_synapses: int,
                 *, recompute: bool, g_vmem: bool, g_isyn: bool, pre: bool,
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
        self.r = new(*per_synapse) if pre else None
        self.g_v_ext = new(*per_neuron) if g_vmem else None
        self.g_i_ext = new(*per_synapse) if g_isyn else None
        self.s_prev = new(*per_neuron) if recurrent else None


def _time_major(out: Tensor, source: Tensor) -> Tensor:
    """Copy ``source`` (B, L, ...) into the time-major buffer ``out`` (≥ L, B, ...)."""
    steps = source.shape[1]
    return out[:steps].copy_(source.transpose(0, 1))


def _spike_counts_into(u: Tensor, quotient: Tensor, threshold: Tensor, max_spikes: float,
                       out: Tensor, scratch: Tensor) -> Tensor:
    """spike_count(u) from u and u/θ into ``out`` (the forward's values bitwise): the literal
    Rockpool clamp only where a count reaches 2²⁴, min(s, M) below, where the two agree."""
    torch.floor(quotient, out=out)
    out.mul_(torch.ge(u, threshold, out=scratch))
    if out.numel() and bool(out.max() >= 2.0**24):
        over = torch.gt(out, max_spikes, out=scratch)
        return out.sub_((out - max_spikes).mul_(over))
    return out.clamp_(max=max_spikes)


def _reverse_scan(coef: Tensor, drive: Tensor, out: Tensor, last: Tensor,
                  varying: bool) -> None:
    """out_t = coef_t·out_{t+1} + drive_t over axis 0, from out_{L−1} = ``last`` back.

    ``coef`` is (L, ...) when ``varying``, else one array broadcast over every step; ``drive``
    broadcasts against ``out``. The loop runs on numpy views for CPU tensors (lower per-op
    overhead than torch's, same IEEE float32 operations).
    """
    xp, arrays = _array_namespace(out)
    out_a, drive_a, coef_a = arrays(out), arrays(drive), arrays(coef)
    out_a[-1] = arrays(last)
    for t in range(out_a.shape[0] - 2, -1, -1):
        c = coef_a[t] if varying else coef_a
        xp.multiply(c, out_a[t + 1], out=out_a[t])
        xp.add(out_a[t], drive_a[t], out=out_a[t])


def _recurrent_sweep(buf: _SweepBuffers, steps: int, alpha: Tensor, beta: Tensor,
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


def _feedforward_sweep(buf: _SweepBuffers, steps: int, alpha: Tensor, beta: Tensor,
                       carry_v: Tensor, carry_i: Tensor) -> None:
    """Without recurrence the sweep is two linear recurrences (DESIGN §4):

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
    _reverse_scan(coef, drive, g_u, drive[-1], varying=True)
    torch.mul(g_u[1:], alpha, out=g_v[:-1])
    g_v[-1].copy_(carry_v)
    if g_v_ext is not None:
        g_v.add_(g_v_ext)
    drive_i = g_u.unsqueeze(-1)
    if buf.g_i_ext is not None:
        drive_i = buf.g_i_ext[:steps].add_(drive_i)
    _reverse_scan(beta, drive_i, g_i, drive_i[-1] + carry_i, varying=False)
    torch.mul(g_i, beta, out=g_x)


def backward(
    saved: tuple[Tensor, ...],
    grad_spikes: Tensor | None,
    grad_vmem: Tensor | None,
    grad_isyn: Tensor | None,
    grad_final_vmem: Tensor | None,
    grad_final_isyn: Tensor | None,
    grad_final_spikes: Tensor | None,
    x: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    bias: Tensor,
    noise: Tensor | None,
    w_rec: Tensor | None,
    v0: Tensor,
    i0: Tensor,
    s0: Tensor,
    *,
    surrogate: Surrogate,
    window: float,
    max_spikes: float,
    checkpoint_every: int,
    needs_grad: NeedsGrad,
) -> Gradients:
    """The reverse sweep of DESIGN §4; see :mod:`synnet_triton.backend` for shapes.

    Segment by segment from the last, in time-major buffers: spikes and σ are recomputed from
    the saved u (or a checkpointed segment is run again), the sweep gives gU, gV, gI and gX,
    and the parameter gradients are per-segment reductions over (B, T):

        ∂α = Σ v_{t−1}·gU_t     ∂b = Σ gU_t     ∂θ = Σ (gS_t − θ·gV_t)·∂s/∂θ − gV_t·s_t
        ∂β = Σ pre_t·gI_t = Σ_k drive_k·R_k + i₀·R₀,   R_k = gI_k + β·R_{k+1}

    where pre_t = i_{t−1} + drive_t is the current before decay and drive_t = x_t (+ s_{t−1}
    W_rec): expanding pre over the past turns ∂β into a second reverse recurrence, so the
    currents are never recomputed.
    """
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
    g_x_all = v0.new_empty((batch, steps, n_neurons, n_synapses))

    length = checkpoint_every if checkpoint_every > 0 else _sweep_length(batch, n_neurons,
                                                                         n_synapses)
    segments = _segments(steps, length)
    buf = _SweepBuffers(v0, min(length, steps), batch, n_neurons, n_synapses,
                        recompute=checkpoint_every > 0, g_vmem=grad_vmem is not None,
                        g_isyn=grad_isyn is not None, pre=need_pre, recurrent=w_rec is not None)
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
            _run_steps(
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
        s = _spike_counts_into(u, q, threshold, max_spikes, buf.s[:n_steps],
                               buf.scratch[:n_steps])
        sigma = surrogate_grad_into(surrogate, u, q, threshold, window, max_spikes,
                                    buf.sigma[:n_steps])
        torch.mul(sigma, -threshold, out=buf.oms[:n_steps]).add_(1.0)
        g_s = buf.g_s[:n_steps]
        if grad_spikes is None:
            g_s.zero_()
        else:
            _time_major(g_s, grad_spikes[:, seg])
        g_s[-1].add_(carry_s)
        if buf.g_v_ext is not None and grad_vmem is not None:
            _time_major(buf.g_v_ext, grad_vmem[:, seg])
        if buf.g_i_ext is not None and grad_isyn is not None:
            _time_major(buf.g_i_ext, grad_isyn[:, seg])

        if w_rec is None:
            _feedforward_sweep(buf, n_steps, alpha, beta, carry_v, carry_i)
            carry_s = s0.new_zeros(s0.shape)
        else:
            carry_s = _recurrent_sweep(buf, n_steps, alpha, beta, w_rec, carry_v, carry_i)
        g_u, g_v, g_x = buf.g_u[:n_steps], buf.g_v[:n_steps], buf.g_x[:n_steps]
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
        if need_pre and buf.pre is not None and buf.r is not None:
            pre = _time_major(buf.pre, xs[:, seg])
            if w_rec is not None and buf.s_prev is not None:
                s_prev = buf.s_prev[:n_steps]
                s_prev[0].copy_(s_start)
                s_prev[1:].copy_(s[:-1])
                s_rows = s_prev.reshape(n_steps * batch, n_neurons)
                pre.view(n_steps * batch, -1).addmm_(s_rows, w_rec)
                if needs_grad.w_rec:
                    acc["w_rec"].addmm_(s_rows.t(), g_x.reshape(n_steps * batch, -1))
            if needs_grad.beta:
                r = buf.r[:n_steps]
                g_i = buf.g_i[:n_steps]
                _reverse_scan(beta, g_i, r, g_i[-1] + beta * carry_r, varying=False)
                acc["beta"] += pre.mul_(r).sum((0, 1))
                carry_r = r[0].clone()
        carry_v = alpha * g_u[0]
        carry_i = g_x[0].clone()

    if needs_grad.beta and steps:
        acc["beta"] += (i0 * carry_r).sum(0)
    return Gradients(
        x=g_x_all.view(x.shape).to(x.dtype) if needs_grad.x else None,
        alpha=acc["alpha"] if needs_grad.alpha else None,
        beta=acc["beta"] if needs_grad.beta else None,
        threshold=acc["threshold"] if needs_grad.threshold else None,
        bias=acc["bias"] if needs_grad.bias else None,
        v0=carry_v if needs_grad.v0 else None,
        i0=carry_i if needs_grad.i0 else None,
        s0=carry_s if needs_grad.s0 else None,
        w_rec=acc["w_rec"] if needs_grad.w_rec else None,
    )
