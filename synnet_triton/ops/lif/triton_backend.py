"""The Triton backend of the LIF operation: fused whole-sequence kernels (``kernels/``).

Implements the contract of :mod:`synnet_triton.ops.lif.backend` with one forward launch and, for the
backward, one launch of the reverse sweep (plus one forward launch that recomputes the
synaptic currents when β needs a gradient).

Saved for the backward: u (B, T, N) float32, 4 bytes per neuron-step. With
``checkpoint_every=K`` the forward saves only the state (v, i, s) before steps 0, K, 2K, ...;
the backward walks the segments from the last to the first and, for each, recomputes u (and
the currents when needed) into a scratch buffer of K steps, then runs the reverse sweep on
it. The sweep carries its gradients and parameter partials through memory from segment to
segment in the same order as one sweep over the whole sequence, so both modes give bitwise
equal gradients while the memory held between forward and backward is O(T/K).

Recurrent weights are not fused: with ``w_rec`` both functions raise NotImplementedError and
:mod:`synnet_triton.ops.lif.functional` runs the torch backend instead.
"""

from __future__ import annotations

import torch
from torch import Tensor

from synnet_triton.kernels.lif_backward import (
    PERIODIC_EXPONENTIAL,
    STEP_PWL,
    launch_lif_backward,
)
from synnet_triton.kernels.lif_forward import launch_lif_forward
from synnet_triton.ops.lif.backend import (
    ForwardResult,
    Gradients,
    LIFInputs,
    NeedsGrad,
    OutputGrads,
)
from synnet_triton.ops.lif.types import Surrogate

_SURROGATE_CODE = {
    Surrogate.PERIODIC_EXPONENTIAL: PERIODIC_EXPONENTIAL,
    Surrogate.STEP_PWL: STEP_PWL,
}


def _no_recurrence(w_rec: Tensor | None) -> None:
    if w_rec is not None:
        raise NotImplementedError(
            "the Triton LIF kernels do not fuse recurrent weights (w_rec); "
            "use the torch backend for recurrent layers"
        )


def forward(
    inputs: LIFInputs,
    *,
    max_spikes: float,
    record: bool,
    checkpoint_every: int,
    save: bool = True,
) -> ForwardResult:
    """Run the whole sequence in one launch; see :mod:`synnet_triton.ops.lif.backend` for shapes."""
    x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0 = inputs
    _no_recurrence(w_rec)
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    f32 = torch.float32
    spikes = x.new_empty((batch, steps, n_neurons))
    vmem = x.new_empty((batch, steps, n_neurons)) if record else None
    isyn = x.new_empty((batch, steps, n_neurons, n_synapses)) if record else None
    final_v = x.new_empty((batch, n_neurons), dtype=f32)
    final_i = x.new_empty((batch, n_neurons, n_synapses), dtype=f32)
    final_s = x.new_empty((batch, n_neurons), dtype=f32)
    u = ckpt_v = ckpt_i = ckpt_s = None
    saved: tuple[Tensor, ...] = ()
    if not save:
        checkpoint_every = 0
    elif checkpoint_every > 0:
        n_ckpt = -(-steps // checkpoint_every)
        ckpt_v = x.new_empty((batch, n_ckpt, n_neurons), dtype=f32)
        ckpt_i = x.new_empty((batch, n_ckpt, n_neurons, n_synapses), dtype=f32)
        ckpt_s = x.new_empty((batch, n_ckpt, n_neurons), dtype=f32)
        saved = (ckpt_v, ckpt_i, ckpt_s)
    else:
        u = x.new_empty((batch, steps, n_neurons), dtype=f32)
        saved = (u,)
    launch_lif_forward(
        x, noise, alpha, beta, threshold, bias, v0, i0, s0,
        n_steps=steps, seq_start=0, max_spikes=max_spikes,
        spikes=spikes, vmem=vmem, isyn=isyn, u=u,
        ckpt_v=ckpt_v, ckpt_i=ckpt_i, ckpt_s=ckpt_s, checkpoint_every=checkpoint_every,
        final_v=final_v, final_i=final_i, final_s=final_s,
    )  # fmt: skip
    return ForwardResult(spikes, vmem, isyn, final_v, final_i, final_s, saved)


def _float32_or_zeros(grad: Tensor | None, like: Tensor) -> Tensor:
    """A fresh contiguous float32 copy of ``grad`` (the kernel overwrites it), or zeros."""
    if grad is None:
        return torch.zeros_like(like, dtype=torch.float32)
    return grad.to(dtype=torch.float32, copy=True).contiguous()


def _contiguous(grad: Tensor | None) -> Tensor | None:
    return None if grad is None else grad.contiguous()


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
    """The reverse sweep of docs/design.md §4; :mod:`synnet_triton.ops.lif.backend` has the
    shapes."""
    grad_spikes, grad_vmem, grad_isyn, grad_final_vmem, grad_final_isyn, grad_final_spikes = grads
    x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0 = inputs
    _no_recurrence(w_rec)
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    f32 = torch.float32
    grad_spikes, grad_vmem, grad_isyn = map(_contiguous, (grad_spikes, grad_vmem, grad_isyn))
    grad_v = _float32_or_zeros(grad_final_vmem, v0)  # becomes the gradient of v0
    grad_i = _float32_or_zeros(grad_final_isyn, i0)  # becomes the gradient of i0
    grad_s_final = _float32_or_zeros(grad_final_spikes, s0)
    no_extra = torch.zeros_like(grad_s_final)
    partials = {
        name: torch.zeros_like(v0 if name != "beta" else i0, dtype=f32) if need else None
        for name, need in (
            ("alpha", needs_grad.alpha),
            ("beta", needs_grad.beta),
            ("threshold", needs_grad.threshold),
            ("bias", needs_grad.bias),
        )
    }
    # x may be a shape-only placeholder (expanded) when the β gradient is not needed
    grad_x = x.new_empty(x.shape) if needs_grad.x else None
    sweep = dict(
        max_spikes=max_spikes,
        window=window,
        surrogate=_SURROGATE_CODE[Surrogate(surrogate)],
        grad_x=grad_x,
        partial_alpha=partials["alpha"],
        partial_beta=partials["beta"],
        partial_threshold=partials["threshold"],
        partial_bias=partials["bias"],
        # the β gradient's reverse scan, carried from segment to segment like gV and gI
        beta_scan=torch.zeros_like(i0, dtype=f32) if needs_grad.beta else None,
    )
    step_grads = (grad_spikes, grad_vmem, grad_isyn)

    if checkpoint_every > 0:
        ckpt_v, ckpt_i, ckpt_s = saved
        # One segment of scratch, reused: O(K) memory during the backward.
        length = min(checkpoint_every, steps)
        u = x.new_empty((batch, length, n_neurons), dtype=f32)
        for k in reversed(range(ckpt_v.shape[1])):
            start = k * checkpoint_every
            n_steps = min(checkpoint_every, steps - start)
            v_start, i_start, s_start = (c[:, k].contiguous() for c in (ckpt_v, ckpt_i, ckpt_s))
            launch_lif_forward(
                x, noise, alpha, beta, threshold, bias, v_start, i_start, s_start,
                n_steps=n_steps, seq_start=start, max_spikes=max_spikes,
                u=u,
            )  # fmt: skip
            last = k == ckpt_v.shape[1] - 1
            launch_lif_backward(
                u, x, *step_grads, alpha, beta, threshold,
                v_start, i_start, grad_s_final if last else no_extra, grad_v, grad_i,
                n_steps=n_steps, seq_start=start, **sweep,
            )  # fmt: skip
    else:
        (u,) = saved
        launch_lif_backward(
            u, x, *step_grads, alpha, beta, threshold, v0, i0, grad_s_final, grad_v, grad_i,
            n_steps=steps, seq_start=0, **sweep,
        )  # fmt: skip

    def batch_sum(name: str) -> Tensor | None:
        partial = partials[name]
        return None if partial is None else partial.sum(0)

    return Gradients(
        x=grad_x,
        alpha=batch_sum("alpha"),
        beta=batch_sum("beta"),
        threshold=batch_sum("threshold"),
        bias=batch_sum("bias"),
        v0=grad_v if needs_grad.v0 else None,
        i0=grad_i if needs_grad.i0 else None,
        # Without recurrence s0 reaches the output only as the final spikes of an empty sequence.
        s0=(grad_s_final if steps == 0 else torch.zeros_like(grad_s_final))
        if needs_grad.s0
        else None,
        w_rec=None,
    )
