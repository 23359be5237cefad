"""The torch backend's forward step loop, shared by its forward and its checkpointed backward.

Rockpool 3.1 ``LIFTorch.forward`` in float32, for t = 0 … T−1 (docs/design.md §3):

    i = i + x_t  [+ s_{t−1} @ W_rec]      v = v·α      i = i·β
    u = ((v + Σ_s i) + noise_t) + b       s = spike_count(u)      v = u − s·θ

Σ_s is torch's ``sum`` over the synapses, as in Rockpool (from S = 5 on, its order is torch's
own, so no other implementation gives its last bit).

The loop runs the exact float32 operations of Rockpool in the same order, so spike counts are
bitwise equal; it works in place on preallocated buffers because on small layers the cost of
a step is the per-op overhead, not arithmetic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from synnet_triton.arrays import array_namespace, steps_per_chunk

# u/θ from here on (2²³, a margin for the rounding of u/θ) may reach counts of 2²⁴
EXACT_COUNT_BOUND = 2.0**23


def run_steps(
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
    The bias is added even where it is zero, as Rockpool does: +0.0 turns a −0.0 membrane
    (from a −0.0 initial state) into +0.0.

    Returns the final (v (B, N), i (B, N, S), s (B, N)). On CPU the loop runs numpy's ufuncs on
    memory shared with the tensors: a step of a small layer costs per-op overhead, about three
    times less in numpy than in torch, and both do the same IEEE float32 operations. Inputs and
    batch-major outputs pass through small time-major staging buffers a chunk of steps at a
    time: contiguous steps run faster, and the buffers stay in cache.
    """
    batch, steps, n_neurons, n_synapses = x.shape
    v, i, s = v0.clone(), i0.clone(), s0.clone()
    xp, arrays = array_namespace(x)
    v_a, i_a, s_a = arrays(v), arrays(i), arrays(s)
    alpha_a, beta_a, threshold_a, bias_a = (arrays(t) for t in (alpha, beta, threshold, bias))
    chunk = max(1, min(steps, steps_per_chunk(batch * n_neurons * n_synapses)))

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
    synaptic = v.new_empty(v.shape)
    synaptic_a = arrays(synaptic)
    scratch = xp.empty_like(v_a)
    fired = xp.empty_like(v_a) > 0
    near_bound = False
    s_prev = s
    add, multiply, subtract, divide = xp.add, xp.multiply, xp.subtract, xp.divide
    floor, minimum, greater_equal = xp.floor, xp.minimum, xp.greater_equal
    for start in range(0, steps, chunk):
        n_steps = min(chunk, steps - start)
        for io in (x_io, noise_io):
            if io is not None:
                io[1][:n_steps] = xp.moveaxis(io[0][:, start : start + n_steps], 1, 0)
        # per-step views made once per chunk, ufuncs bound to locals: at ~1 µs per ufunc,
        # Python-level indexing and attribute lookups are a large part of a step
        rows = zip(
            x_io[1][:n_steps],  # type: ignore[index]
            u_a[start : start + n_steps],
            spikes_io[1][:n_steps],  # type: ignore[index]
            [None] * n_steps if noise_io is None else noise_io[1][:n_steps],
            range(n_steps),
        )
        for x_t, u, s_t, noise_t, k in rows:
            add(i_a, x_t, out=i_a)
            if w_rec_t is not None:
                irec = F.linear(s_prev, w_rec_t).view(batch, n_neurons, n_synapses)
                add(i_a, arrays(irec), out=i_a)
            multiply(v_a, alpha_a, out=v_a)
            multiply(i_a, beta_a, out=i_a)
            if n_synapses == 1:
                add(v_a, i_first, out=u)
            else:
                # torch's sum, as Rockpool's isyn.sum(2): from 5 synapses on its order is
                # torch's own (neither numpy's nor left to right), and the bits follow it
                torch.sum(i, 2, out=synaptic)
                add(v_a, synaptic_a, out=u)
            if noise_t is not None:
                add(u, noise_t, out=u)
            add(u, bias_a, out=u)
            # spike_count(u), step by step into preallocated buffers
            divide(u, threshold_a, out=s_t)
            floor(s_t, out=s_t)
            greater_equal(u, threshold_a, out=fired)
            multiply(s_t, fired, out=s_t)
            if literal_clamp:
                xp.greater(s_t, limit, out=fired)
                subtract(s_t, limit, out=scratch)
                multiply(scratch, fired, out=scratch)
                subtract(s_t, scratch, out=s_t)
            else:
                minimum(s_t, limit, out=s_t)
                # (u >= θ) · floor(u / θ) is −0.0 below θ where u < 0; Rockpool's clamp
                # s − (s − M)·0 turns it into +0.0, and so must this shortcut
                add(s_t, 0.0, out=s_t)
            multiply(s_t, threshold_a, out=scratch)
            subtract(u, scratch, out=v_a)
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
        return run_steps(
            x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0, max_spikes,
            u_out, spikes_out, vmem_out, isyn_out, literal_clamp=True,
        )
    if steps:
        s.copy_(spikes_out[:, -1])
    return v, i, s


def segment_bounds(steps: int, length: int) -> list[tuple[int, int]]:
    """[start, stop) bounds of consecutive segments of ``length`` steps covering ``steps``."""
    return [(start, min(start + length, steps)) for start in range(0, steps, length)]
