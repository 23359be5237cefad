"""A literal transcription of the LIF update loop, differentiated by autograd.

The readable oracle: one Python step per time step, in any float dtype (float64 for gradient
checks), nothing fused, nothing hand-derived except the surrogate of the spike count. Slow;
for tests and for reading. Shapes as in :func:`synnet_triton.ops.lif.functional.lif_decays`, with
``alpha`` (N,), ``beta`` (N, S), ``threshold`` (N,), ``bias`` (N,) already broadcast.
"""

from __future__ import annotations

import torch
from torch import Tensor

from synnet_triton.ops.lif.surrogates import spike_count, surrogate_grad
from synnet_triton.ops.lif.types import LIFOutput, LIFState, Surrogate


class _SpikeCount(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, threshold, surrogate, window, max_spikes):  # type: ignore[no-untyped-def]
        ctx.save_for_backward(u, threshold)
        ctx.surrogate, ctx.window, ctx.max_spikes = surrogate, window, max_spikes
        return spike_count(u, threshold, max_spikes)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[no-untyped-def]
        u, threshold = ctx.saved_tensors
        ds_du, ds_dtheta = surrogate_grad(ctx.surrogate, u, threshold, ctx.window,
                                          ctx.max_spikes)
        g_theta = (grad * ds_dtheta).sum_to_size(threshold.shape)
        return grad * ds_du, g_theta, None, None, None


def naive_lif(
    x: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    bias: Tensor,
    *,
    surrogate: Surrogate = Surrogate.PERIODIC_EXPONENTIAL,
    learning_window: float = 0.5,
    max_spikes_per_dt: float = 2.0**16,
    noise: Tensor | None = None,
    w_rec: Tensor | None = None,
    initial_state: LIFState | None = None,
) -> tuple[LIFOutput, LIFState]:
    """x (B, T, N·S) → (LIFOutput(spikes, vmem, isyn), final LIFState), autograd throughout."""
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    xs = x.reshape(batch, steps, n_neurons, n_synapses)
    if initial_state is None:
        v = x.new_zeros((batch, n_neurons))
        i = x.new_zeros((batch, n_neurons, n_synapses))
        s = x.new_zeros((batch, n_neurons))
    else:
        v, i, s = initial_state
    spikes, vmem, isyn = [], [], []
    for t in range(steps):
        i = i + xs[:, t]
        if w_rec is not None:
            i = i + (s @ w_rec).reshape(batch, n_neurons, n_synapses)
        v = v * alpha
        i = i * beta
        u = v + i.sum(2)
        if noise is not None:
            u = u + noise[:, t]
        u = u + bias
        s = _SpikeCount.apply(u, threshold, surrogate, learning_window, max_spikes_per_dt)
        v = u - s * threshold
        spikes.append(s)
        vmem.append(v)
        isyn.append(i)
    out = LIFOutput(torch.stack(spikes, 1), torch.stack(vmem, 1), torch.stack(isyn, 1))
    return out, LIFState(v, i, s)
