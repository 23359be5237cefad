"""The torch backend of the LIF operation: the CPU path and the oracle for the kernels.

Forward (DESIGN §3, Rockpool 3.1 ``LIFTorch.forward``), float32, for t = 0 … T−1:

    i = i + x_t  [+ s_{t−1} @ W_rec]      v = v·α      i = i·β
    u = ((v + Σ_s i) + noise_t) + b       s = spike_count(u)      v = u − s·θ

The step loop runs the exact float32 operations of Rockpool in the same order, so spike counts
are bitwise equal; it works in place on preallocated buffers because on small layers the cost
of a step is the per-op overhead, not arithmetic.

Backward (DESIGN §4): from the saved pre-spike membrane u everything else (s, v, σ) is
recomputed over all T at once. Without recurrence the reverse sweep is two linear recurrences,

    gV_t = gVext_t + α_{t+1}·(1 − θσ_{t+1})·gV_{t+1} + α·σ_{t+1}·gS_{t+1}
    gI_t = gIext_t + gU_t + β·gI_{t+1}

each one fused multiply-add per step; the parameter gradients are reductions over (B, T).
With recurrence gS_{t−1} also receives gx_t @ W_recᵀ, so the sweep runs step by step.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from synnet_triton.backend import ForwardResult, Gradients, NeedsGrad
from synnet_triton.surrogates import spike_count, surrogate_grad
from synnet_triton.types import Surrogate

SWEEP_STEPS = 128
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
    """The sequential step loop over x (B, T, N, S) float32, writing u, spikes and records.

    Rockpool clamps the count as s − (s − M)·(s > M). That equals min(s, M) while s < 2²⁴,
    where float32 integers are exact; the cheaper min is used unless ``literal_clamp``, and a
    sequence whose u/θ came near 2²⁴ is run again with the literal formula.
    Adding a bias of exactly zero only changes the sign of zeros, so it is skipped.

    Returns the final (v (B, N), i (B, N, S), s (B, N)). On CPU the loop runs numpy's ufuncs on
    memory shared with the tensors: a step of a small layer costs per-op overhead, about three
    times less in numpy than in torch, and both do the same IEEE float32 operations.
    """
    batch, steps, n_neurons, n_synapses = x.shape
    v, i, s = v0.clone(), i0.clone(), s0.clone()
    xp, arrays = _array_namespace(x)
    v_a, i_a, s_a = arrays(v), arrays(i), arrays(s)
    alpha_a, beta_a, threshold_a, bias_a = (arrays(t) for t in (alpha, beta, threshold, bias))
    x_steps = _input_steps(arrays(x))
    noise_steps = None if noise is None else _input_steps(arrays(noise))
    outputs = [None if t is None else arrays(t) for t in (u_out, spikes_out, vmem_out, isyn_out)]
    staged = [None if a is None else _output_steps(a) for a in outputs]
    u_steps, spike_steps = staged[0][1], staged[1][1]  # type: ignore[index]
    vmem_steps = None if staged[2] is None else staged[2][1]
    isyn_steps = None if staged[3] is None else staged[3][1]
    as_tensor = torch.from_numpy if xp is np else (lambda a: a)
    w_rec_t = None if w_rec is None else w_rec.t()
    limit = xp.full_like(s_a, max_spikes)
    has_bias = bool(bias.any())
    i_first = i_a[..., 0]
    scratch = xp.empty_like(v_a)
    fired = xp.empty_like(v_a) > 0
    s_prev = s
    for t in range(steps):
        xp.add(i_a, x_steps[t], out=i_a)
        if w_rec_t is not None:
            irec = F.linear(s_prev, w_rec_t).view(batch, n_neurons, n_synapses)
            xp.add(i_a, arrays(irec), out=i_a)
        xp.multiply(v_a, alpha_a, out=v_a)
        xp.multiply(i_a, beta_a, out=i_a)
        u = u_steps[t]
        if n_synapses == 1:
            xp.add(v_a, i_first, out=u)
        else:
            xp.add(v_a, xp.sum(i_a, 2), out=u)
        if noise_steps is not None:
            xp.add(u, noise_steps[t], out=u)
        if has_bias:
            xp.add(u, bias_a, out=u)
        s_t = spike_steps[t]
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
        if vmem_steps is not None:
            vmem_steps[t][...] = v_a
        if isyn_steps is not None:
            isyn_steps[t][...] = i_a
        if w_rec_t is not None:
            s_prev = as_tensor(s_t)
    for out, stage in zip(outputs, staged):
        if out is not None and stage is not None and stage[0] is not None:
            out[...] = xp.moveaxis(stage[0], 0, 1)
    if not literal_clamp and bool((u_out >= EXACT_COUNT_BOUND * threshold).any()):
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


def _input_steps(a):  # type: ignore[no-untyped-def]
    """Per-step views a[:, t] of (B, T, ...); numpy gets a time-major copy, whose contiguous
    steps its ufuncs run about a third faster (measured) than strided ones."""
    if isinstance(a, Tensor):
        return a.unbind(1)
    return list(np.ascontiguousarray(np.moveaxis(a, 1, 0)))


def _output_steps(a):  # type: ignore[no-untyped-def]
    """(staging buffer or None, per-step views) for an output (B, T, ...) written step by step;
    numpy writes a time-major buffer copied back after the loop."""
    if isinstance(a, Tensor):
        return None, a.unbind(1)
    staging = np.empty((a.shape[1], a.shape[0], *a.shape[2:]), dtype=a.dtype)
    return staging, list(staging)


def _reverse_recurrence(drive: Tensor, coef: Tensor, out: Tensor, varying: bool) -> None:
    """out_t = drive_t + c_{t+1} · out_{t+1} over axis 1, from the last step back.

    ``coef`` is (B, L, ...) when ``varying`` (c_{t+1} = coef[:, t+1]), else one array
    broadcast over every step.
    """
    xp, arrays = _array_namespace(out)
    out_a = arrays(out)
    drive_steps = _input_steps(arrays(drive))
    staging, out_steps = _output_steps(out_a)
    coef_a = arrays(coef)
    coef_steps = _input_steps(coef_a) if varying else None
    steps = len(out_steps)
    out_steps[-1][...] = drive_steps[-1]
    for t in range(steps - 2, -1, -1):
        c = coef_steps[t + 1] if coef_steps is not None else coef_a
        xp.multiply(c, out_steps[t + 1], out=out_steps[t])
        xp.add(out_steps[t], drive_steps[t], out=out_steps[t])
    if staging is not None:
        out_a[...] = xp.moveaxis(staging, 0, 1)


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
        length = checkpoint_every if save else SWEEP_STEPS
        scratch = x.new_empty((batch, min(steps, length), n_neurons), dtype=torch.float32)
        v, i, s = v0, i0, s0
        checkpoints: list[tuple[Tensor, Tensor, Tensor]] = []
        for start, stop in _segments(steps, length):
            checkpoints.append((v, i, s))
            seg = slice(start, stop)
            v, i, s = _run_steps(
                xs[:, seg], alpha, beta, threshold, bias,
                None if noise is None else noise[:, seg], w_rec, v, i, s, max_spikes,
                scratch[:, : stop - start], spikes[:, seg],
                None if vmem is None else vmem[:, seg],
                None if isyn is None else isyn[:, seg],
            )
        saved: tuple[Tensor, ...] = () if not save else tuple(
            torch.stack(parts, 1) if parts else ref.new_empty((batch, 0, *ref.shape[1:]))
            for parts, ref in zip(zip(*checkpoints) if checkpoints else ((), (), ()),
                                  (v0, i0, s0))
        )
    else:
        u_all = x.new_empty((batch, steps, n_neurons), dtype=torch.float32)
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


def _synaptic_currents(
    xs: Tensor,
    beta: Tensor,
    u: Tensor,
    threshold: Tensor,
    w_rec: Tensor | None,
    i0: Tensor,
    s0: Tensor,
    max_spikes: float,
) -> Tensor:
    """Post-decay currents i_t (B, T, N, S), recomputed forward from x (B, T, N, S).

    The synaptic recurrence is linear and stable forward; running it backwards by dividing by β
    would amplify rounding (DESIGN §4). With recurrence, the recurrent drive comes from the
    spikes recomputed from the saved u (B, T, N).
    """
    batch, steps, n_neurons, n_synapses = xs.shape
    drive = xs
    if w_rec is not None:
        s = spike_count(u, threshold, max_spikes)
        s_prev = torch.cat([s0.unsqueeze(1), s[:, :-1]], 1)
        drive = xs + (s_prev @ w_rec).view(batch, steps, n_neurons, n_synapses)
    currents = torch.empty_like(xs)
    xp, arrays = _array_namespace(xs)
    currents_a = arrays(currents)
    drive_steps = _input_steps(arrays(drive))
    staging, current_steps = _output_steps(currents_a)
    beta_a = arrays(beta)
    i = arrays(i0)
    for t in range(steps):
        xp.add(i, drive_steps[t], out=current_steps[t])
        xp.multiply(current_steps[t], beta_a, out=current_steps[t])
        i = current_steps[t]
    if staging is not None:
        currents_a[...] = xp.moveaxis(staging, 0, 1)
    return currents

def _sweep_segment(
    u: Tensor,
    v_start: Tensor,
    i_seg: Tensor | None,
    i_start: Tensor,
    x_seg: Tensor,
    s_start: Tensor,
    g_spikes: Tensor | None,
    g_vmem: Tensor | None,
    g_isyn: Tensor | None,
    g_v_carry: Tensor,
    g_i_carry: Tensor,
    g_s_carry: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    w_rec: Tensor | None,
    surrogate: Surrogate,
    window: float,
    max_spikes: float,
    needs_grad: NeedsGrad,
    acc: dict[str, Tensor],
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Reverse sweep over one time segment.

    u (B, L, N): pre-spike membrane of the segment; v_start (B, N), i_start (B, N, S), s_start
    (B, N): the state before the segment; i_seg (B, L, N, S): post-decay currents (only when
    β or W_rec needs a gradient); x_seg (B, L, N, S) float32. g_*_carry: gradients arriving from
    after the segment at its last v (B, N), i (B, N, S) and s (B, N). Parameter gradients are
    added into ``acc``. Returns (gx (B, L, N, S), gV, gI, gS) at the state before the segment.
    """
    batch, steps, n_neurons = u.shape
    n_synapses = beta.shape[1]
    s = spike_count(u, threshold, max_spikes)
    sigma, ds_dtheta = surrogate_grad(surrogate, u, threshold, window, max_spikes)
    g_s = u.new_zeros(u.shape) if g_spikes is None else g_spikes.float().clone()
    g_s[:, -1] += g_s_carry
    g_v_ext = u.new_zeros(u.shape) if g_vmem is None else g_vmem.float().clone()
    g_v_ext[:, -1] += g_v_carry
    g_i_ext = (
        u.new_zeros((batch, steps, n_neurons, n_synapses))
        if g_isyn is None
        else g_isyn.float().clone()
    )
    g_i_ext[:, -1] += g_i_carry

    g_v = torch.empty_like(u)
    g_u = torch.empty_like(u)
    g_i = torch.empty_like(g_i_ext)
    g_x = torch.empty_like(g_i_ext)
    if w_rec is None:
        # gV_t = gVext_t + A_{t+1}·gV_{t+1} + C_{t+1} with A = α(1 − θσ), C = α·σ·gS
        one_minus = 1 - threshold * sigma
        coef = alpha * one_minus
        drive = g_v_ext.clone()
        drive[:, :-1] += alpha * sigma[:, 1:] * g_s[:, 1:]
        _reverse_recurrence(drive, coef, g_v, varying=True)
        torch.addcmul(g_v * one_minus, g_s, sigma, out=g_u)
        g_i_ext.add_(g_u.unsqueeze(-1))
        _reverse_recurrence(g_i_ext, beta, g_i, varying=False)
        torch.mul(g_i, beta, out=g_x)
        g_s_before = u.new_zeros((batch, n_neurons))
    else:
        w_rec_t = w_rec.t()
        g_u_next = u.new_zeros((batch, n_neurons))
        g_i_next = u.new_zeros((batch, n_neurons, n_synapses))
        g_x_next = u.new_zeros((batch, n_neurons * n_synapses))
        for t in range(steps - 1, -1, -1):
            g_s[:, t] += g_x_next @ w_rec_t
            g_v[:, t] = g_v_ext[:, t] + alpha * g_u_next
            g_u[:, t] = g_v[:, t] + (g_s[:, t] - threshold * g_v[:, t]) * sigma[:, t]
            g_i[:, t] = g_i_ext[:, t] + g_u[:, t].unsqueeze(-1) + beta * g_i_next
            g_x[:, t] = beta * g_i[:, t]
            g_u_next, g_i_next = g_u[:, t], g_i[:, t]
            g_x_next = g_x[:, t].reshape(batch, n_neurons * n_synapses)
        g_s_before = g_x_next @ w_rec_t

    v_prev = torch.cat([v_start.unsqueeze(1), (u - s * threshold)[:, :-1]], 1)
    if needs_grad.alpha:
        acc["alpha"] += (v_prev * g_u).sum((0, 1))
    if needs_grad.bias:
        acc["bias"] += g_u.sum((0, 1))
    if needs_grad.threshold:
        acc["threshold"] += ((g_s - threshold * g_v) * ds_dtheta - g_v * s).sum((0, 1))
    if needs_grad.beta or needs_grad.w_rec:
        if i_seg is None:
            raise RuntimeError("synaptic currents are needed for the beta / w_rec gradients")
        s_prev = torch.cat([s_start.unsqueeze(1), s[:, :-1]], 1)
        i_prev = torch.cat([i_start.unsqueeze(1), i_seg[:, :-1]], 1)
        pre = i_prev + x_seg
        if w_rec is not None:
            irec = (s_prev @ w_rec).view(batch, steps, n_neurons, n_synapses)
            pre = pre + irec
            if needs_grad.w_rec:
                acc["w_rec"] += s_prev.reshape(-1, n_neurons).t() @ g_x.reshape(
                    batch * steps, -1
                )
        if needs_grad.beta:
            acc["beta"] += (pre * g_i).sum((0, 1))
    return g_x, alpha * g_u[:, 0], beta * g_i[:, 0], g_s_before


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
    """The reverse sweep of DESIGN §4; see :mod:`synnet_triton.backend` for shapes."""
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    need_i = needs_grad.beta or needs_grad.w_rec
    # x is read only to recompute synaptic currents or checkpointed segments
    xs = (
        x.float().view(batch, steps, n_neurons, n_synapses)
        if need_i or checkpoint_every > 0
        else x.new_zeros((), dtype=torch.float32).expand(batch, steps, n_neurons, n_synapses)
    )
    acc: dict[str, Tensor] = {
        "alpha": alpha.new_zeros(alpha.shape),
        "beta": beta.new_zeros(beta.shape),
        "threshold": threshold.new_zeros(threshold.shape),
        "bias": bias.new_zeros(bias.shape),
        "w_rec": alpha.new_zeros(0) if w_rec is None else w_rec.new_zeros(w_rec.shape),
    }
    g_v = v0.new_zeros(v0.shape) if grad_final_vmem is None else grad_final_vmem.float()
    g_i = i0.new_zeros(i0.shape) if grad_final_isyn is None else grad_final_isyn.float()
    g_s = s0.new_zeros(s0.shape) if grad_final_spikes is None else grad_final_spikes.float()
    g_x = v0.new_empty((batch, steps, n_neurons, n_synapses))

    currents = None
    if checkpoint_every > 0:
        ckpt_v, ckpt_i, ckpt_s = saved
        segments = _segments(steps, checkpoint_every)
    else:
        (u_all,) = saved
        # Short segments keep the sweep's temporaries in cache; the result does not depend on it.
        segments = _segments(steps, SWEEP_STEPS)
        if need_i:
            currents = _synaptic_currents(xs, beta, u_all, threshold, w_rec, i0, s0, max_spikes)

    for k in reversed(range(len(segments))):
        start, stop = segments[k]
        seg = slice(start, stop)
        i_seg: Tensor | None
        if checkpoint_every > 0:
            v_start, i_start, s_start = ckpt_v[:, k], ckpt_i[:, k], ckpt_s[:, k]
            u_seg = xs.new_empty((batch, stop - start, n_neurons))
            i_seg = v0.new_empty((batch, stop - start, n_neurons, n_synapses)) if need_i else None
            _run_steps(
                xs[:, seg], alpha, beta, threshold, bias,
                None if noise is None else noise[:, seg], w_rec, v_start, i_start, s_start,
                max_spikes, u_seg, torch.empty_like(u_seg), None, i_seg,
            )
        else:
            u_seg = u_all[:, seg]
            i_seg = None if currents is None else currents[:, seg]
            if start == 0:
                v_start, i_start, s_start = v0, i0, s0
            else:
                u_before = u_all[:, start - 1]
                s_start = spike_count(u_before, threshold, max_spikes)
                v_start = u_before - s_start * threshold
                i_start = i0 if currents is None else currents[:, start - 1]
        g_x_seg, g_v, g_i, g_s = _sweep_segment(
            u_seg, v_start, i_seg, i_start, xs[:, seg], s_start,
            None if grad_spikes is None else grad_spikes[:, seg],
            None if grad_vmem is None else grad_vmem[:, seg],
            None if grad_isyn is None else grad_isyn[:, seg],
            g_v, g_i, g_s, alpha, beta, threshold, w_rec, surrogate, window, max_spikes,
            needs_grad, acc,
        )
        g_x[:, seg] = g_x_seg

    return Gradients(
        x=g_x.view(x.shape).to(x.dtype) if needs_grad.x else None,
        alpha=acc["alpha"] if needs_grad.alpha else None,
        beta=acc["beta"] if needs_grad.beta else None,
        threshold=acc["threshold"] if needs_grad.threshold else None,
        bias=acc["bias"] if needs_grad.bias else None,
        v0=g_v if needs_grad.v0 else None,
        i0=g_i if needs_grad.i0 else None,
        s0=g_s if needs_grad.s0 else None,
        w_rec=acc["w_rec"] if needs_grad.w_rec else None,
    )
