"""The LIF recurrence as compiled CPU loops (numba): the forward step loop and the fused
reverse sweep of the numba backend (:mod:`synnet_triton.ops.lif.numba_backend`).

Forward, per neuron n and step t, in float32 and in exactly the order of the torch reference
(:mod:`synnet_triton.ops.lif.torch_steps`, Rockpool 3.1's ``LIFTorch``, docs/design.md §3):

    i ← (i + x_t)·β      v ← v·α      u = ((v + Σ_s i) + noise_t) + b
    s = (u ≥ θ)·⌊u/θ⌋,  s ← s − (s − M)·(s > M)      v ← u − s·θ

Σ_s is torch's ``sum`` over at most 4 synapses, as the reference and Rockpool take it: from
+0.0, left to right (:func:`synaptic_sum`); the bias is added even where it is zero, as
Rockpool does (+0.0 turns −0.0 into +0.0).
Rockpool's literal clamp is used at every step: it is what the reference computes (its
cheaper min(s, M) is used only where both agree).

Backward (docs/design.md §4), per neuron from the last step to the first, in one pass:

    gV_t = gVext_t + α·gU_{t+1}           gU_t = gV_t·(1 − θσ_t) + gS_t·σ_t
    gI_t = gIext_t + gU_t + β·gI_{t+1}    gX_t = β·gI_t
    R_t  = gI_t + β·R_{t+1}               ∂β += x_t·R_t          (then ∂β += i₀·R₀)
    ∂α += v_{t−1}·gU_t    ∂b += gU_t    ∂θ −= (gS_t − θ·gV_t)·σ_t·u_t/θ + gV_t·s_t

with σ = ∂s/∂u of the surrogate (docs/design.md §3) recomputed from the saved u, and the
parameter sums accumulated in float64 per (batch, neuron). The loops run in parallel over
(batch, block of neurons): each work item owns its rows, so no two threads write one value
and the result does not depend on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

F32 = np.float32
ZERO = F32(0.0)
ONE = F32(1.0)
# neurons per work item: the unit of parallel work, and the length of the vectorised inner
# loop; one thread, B = 32, T = 1000, N = 128: the forward took 1.0–1.4 ns per neuron-step
# with 128 against 1.75 with 64, the backward 3.9–4.0 with 64 against 4.5–7.0 with 128
FORWARD_BLOCK = 128
SWEEP_BLOCK = 64
# steps summed in float32 before a float64 addition (reverse_sweep_single's parameter sums)
SUM_CHUNK = 64
# exp by range reduction (exp_nonpositive): ln 2 split in two for an exact k·ln2, and 2^k
LOG2_E = F32(1.4426950408889634)
LN2_HIGH = F32(0.693359375)
LN2_LOW = F32(-2.12194440e-4)
POWERS_OF_TWO = np.array([2.0**k for k in range(-127, 1)], dtype=np.float32)


@njit(cache=True, inline="always")
def spike_count(u: float, threshold: float, max_spikes: float) -> float:
    """Rockpool's multi-spike count of u, float32, clamped literally."""
    s = np.floor(u / threshold) * (ONE if u >= threshold else ZERO)
    over = ONE if s > max_spikes else ZERO
    return s - (s - max_spikes) * over


@njit(cache=True)
def synaptic_sum(values):  # type: ignore[no-untyped-def]
    """Σ of a neuron's (at most 4) synaptic currents as torch sums them: from +0.0, left to
    right (the compiled backends take no more synapses: :mod:`synnet_triton.ops.lif.op`)."""
    total = ZERO
    for k in range(values.shape[0]):
        total = total + values[k]
    return total


@njit(cache=True, parallel=True)
def forward_steps(x, alpha, beta, threshold, bias, noise, max_spikes,  # type: ignore[no-untyped-def]
                  v, i, s, t0, t1, u_out, u_t0, spikes, vmem, isyn,
                  ckpt_v, ckpt_i, ckpt_s, ckpt_every):
    """Steps t0 … t1−1 of the recurrence, from the state (v, i, s) updated in place.

    x (B, T, N, S); noise (B, T, N) or (B, 0, N); state v (B, N), i (B, N, S), s (B, N).
    Written where their time axis is not empty: u_out (B, ·, N) at step t − u_t0, spikes and
    vmem (B, T, N), isyn (B, T, N, S), and with ckpt_every = K > 0 the state before every
    K-th step into ckpt_v (B, ⌈T/K⌉, N), ckpt_i (B, ⌈T/K⌉, N, S), ckpt_s (B, ⌈T/K⌉, N).
    """
    batch, _, n_neurons, n_synapses = x.shape
    blocks = (n_neurons + FORWARD_BLOCK - 1) // FORWARD_BLOCK
    with_noise = noise.shape[1] > 0
    with_u, with_spikes = u_out.shape[1] > 0, spikes.shape[1] > 0
    with_record = vmem.shape[1] > 0
    for item in prange(batch * blocks):
        b = item // blocks
        n0 = (item % blocks) * FORWARD_BLOCK
        n1 = min(n0 + FORWARD_BLOCK, n_neurons)
        for t in range(t0, t1):
            if ckpt_every > 0 and t % ckpt_every == 0:
                k = t // ckpt_every
                for n in range(n0, n1):
                    ckpt_v[b, k, n] = v[b, n]
                    ckpt_s[b, k, n] = s[b, n]
                    for j in range(n_synapses):
                        ckpt_i[b, k, n, j] = i[b, n, j]
            for n in range(n0, n1):
                for j in range(n_synapses):
                    i[b, n, j] = (i[b, n, j] + x[b, t, n, j]) * beta[n, j]
                vn = v[b, n] * alpha[n]
                if n_synapses == 1:
                    u = vn + i[b, n, 0]
                else:
                    u = vn + synaptic_sum(i[b, n])
                if with_noise:
                    u = u + noise[b, t, n]
                u = u + bias[n]
                count = spike_count(u, threshold[n], max_spikes)
                v[b, n] = u - count * threshold[n]
                s[b, n] = count
                if with_u:
                    u_out[b, t - u_t0, n] = u
                if with_spikes:
                    spikes[b, t, n] = count
                if with_record:
                    vmem[b, t, n] = v[b, n]
                    for j in range(n_synapses):
                        isyn[b, t, n, j] = i[b, n, j]


@njit(cache=True, parallel=True)
def forward_steps_single(x, alpha, beta, threshold, bias, noise, max_spikes,  # type: ignore[no-untyped-def]
                         v, i, s, t0, t1, u_out, u_t0, spikes, vmem, isyn,
                         ckpt_v, ckpt_i, ckpt_s, ckpt_every, strides):
    """:func:`forward_steps` for one synapse per neuron, every array flat (1-D).

    ``strides`` (7, 2) int64 gives each stream's (batch, time) strides in elements, in the
    order x, noise, u_out, spikes, vmem, isyn, checkpoints; a stream not asked for is a
    (B·N,) scratch with time stride 0. Flat arrays with unsigned offsets and no inner loop
    let the loop over a block's neurons be vectorised (about 8× faster than indexing
    (B, T, N) views at every step).
    """
    batch = v.shape[0] // alpha.shape[0]
    n_neurons = alpha.shape[0]
    blocks = (n_neurons + FORWARD_BLOCK - 1) // FORWARD_BLOCK
    with_noise = noise.shape[0] > 0
    for item in prange(batch * blocks):
        b = item // blocks
        n0 = (item % blocks) * FORWARD_BLOCK
        width = uint64(min(FORWARD_BLOCK, n_neurons - n0))
        row = uint64(b * n_neurons + n0)
        for t in range(t0, t1):
            if ckpt_every > 0 and t % ckpt_every == 0:
                at = uint64(b * strides[6, 0] + (t // ckpt_every) * strides[6, 1] + n0)
                for n in range(width):
                    ckpt_v[at + n] = v[row + n]
                    ckpt_i[at + n] = i[row + n]
                    ckpt_s[at + n] = s[row + n]
            at_x = uint64(b * strides[0, 0] + t * strides[0, 1] + n0)
            at_noise = uint64(b * strides[1, 0] + t * strides[1, 1] + n0)
            at_u = uint64(b * strides[2, 0] + (t - u_t0) * strides[2, 1] + n0)
            at_s = uint64(b * strides[3, 0] + t * strides[3, 1] + n0)
            at_v = uint64(b * strides[4, 0] + t * strides[4, 1] + n0)
            at_i = uint64(b * strides[5, 0] + t * strides[5, 1] + n0)
            for n in range(width):
                k = uint64(n0) + n
                current = (i[row + n] + x[at_x + n]) * beta[k]
                u = v[row + n] * alpha[k] + current
                if with_noise:
                    u = u + noise[at_noise + n]
                u = u + bias[k]
                count = spike_count(u, threshold[k], max_spikes)
                membrane = u - count * threshold[k]
                i[row + n] = current
                v[row + n] = membrane
                s[row + n] = count
                u_out[at_u + n] = u
                spikes[at_s + n] = count
                vmem[at_v + n] = membrane
                isyn[at_i + n] = current


@njit(cache=True, inline="always")
def exp_nonpositive(z: float) -> float:
    """exp(z) for z ≤ 0 in float32 within 3·10⁻⁷ relative (0 below −87): z = k·ln2 + r,
    |r| ≤ ln2/2, e^r by its Taylor polynomial of degree 6, 2^k from a table. Unlike a call to
    libm's expf this vectorises; σ needs no more (gradients, not spikes)."""
    z = max(z, F32(-87.0))
    k = np.floor(z * LOG2_E + F32(0.5))
    r = (z - k * LN2_HIGH) - k * LN2_LOW
    p = F32(1.0 / 720.0)
    p = p * r + F32(1.0 / 120.0)
    p = p * r + F32(1.0 / 24.0)
    p = p * r + F32(1.0 / 6.0)
    p = p * r + F32(0.5)
    p = p * r + ONE
    p = p * r + ONE
    return p * POWERS_OF_TWO[np.int64(k) + 127]


@njit(cache=True, inline="always")
def surrogate_slope(u: float, threshold: float, inverse: float, window: float,
                    neg_inv_window: float, max_spikes: float, periodic: bool) -> float:
    """∂s/∂u at u: PeriodicExponential (``periodic``) or StepPWL (docs/design.md §3), with
    ``inverse`` = 1/θ multiplied in (a gradient, not a count: the surrogate is continuous
    where a rounding could move ⌊u/θ⌋)."""
    if periodic:
        half = threshold / F32(2.0)
        shifted = u - half
        periods = min(max(np.floor(shifted * inverse), ZERO), max_spikes - ONE)
        return exp_nonpositive(abs(shifted - periods * threshold - half) * neg_inv_window) \
            * inverse
    return (ONE if u >= threshold - window else ZERO) * inverse


@njit(cache=True, parallel=True)
def reverse_sweep(u, u_t0, t0, t1, v_before, x, alpha, beta, threshold, window,  # type: ignore[no-untyped-def]
                  max_spikes, periodic, g_spikes, g_vmem, g_isyn,
                  carry_v, carry_i, carry_s, carry_r, g_x,
                  part_alpha, part_beta, part_threshold, part_bias):
    """The reverse sweep over steps t1−1 … t0, continuing the carries of later steps.

    u (B, ·, N) the pre-spike membranes, step t at t − u_t0; v_before (B, N) the membrane
    before step t0. Read where their time axis is not empty: x (B, T, N, S) (∂β), g_spikes,
    g_vmem (B, T, N), g_isyn (B, T, N, S). Carries, (B, N) and (B, N, S), updated in place:
    the gradients reaching v, i and s of step t1−1 from later steps, and R; afterwards
    carry_v = α·gU_{t0}, carry_i = gX_{t0}, carry_s = 0, carry_r = R_{t0}. g_x (B, T, N, S) is
    written where its time axis is not empty; the float64 partials (B, N), (B, N, S) are
    added to.
    """
    batch, n_neurons = v_before.shape
    n_synapses = beta.shape[1]
    blocks = (n_neurons + SWEEP_BLOCK - 1) // SWEEP_BLOCK
    with_gs, with_gv, with_gi = g_spikes.shape[1] > 0, g_vmem.shape[1] > 0, g_isyn.shape[1] > 0
    with_x, with_gx = x.shape[1] > 0, g_x.shape[1] > 0
    neg_inv_window = F32(-1.0 / window)
    inverse = ONE / threshold
    for item in prange(batch * blocks):
        b = item // blocks
        n0 = (item % blocks) * SWEEP_BLOCK
        n1 = min(n0 + SWEEP_BLOCK, n_neurons)
        # gU_{t+1}·α entering gV_t, and gI_{t+1}·β entering gI_t, per neuron of the block
        from_v = np.empty(n1 - n0, np.float32)
        for n in range(n0, n1):
            from_v[n - n0] = carry_v[b, n]
        for t in range(t1 - 1, t0 - 1, -1):
            for n in range(n0, n1):
                th = threshold[n]
                un = u[b, t - u_t0, n]
                if t > t0:
                    before = u[b, t - 1 - u_t0, n]
                    v_prev = before - spike_count(before, th, max_spikes) * th
                else:
                    v_prev = v_before[b, n]
                count = spike_count(un, th, max_spikes)
                sigma = surrogate_slope(un, th, inverse[n], window, neg_inv_window, max_spikes,
                                        periodic)
                g_s = g_spikes[b, t, n] if with_gs else ZERO
                if t == t1 - 1:
                    g_s = g_s + carry_s[b, n]
                g_v = from_v[n - n0]
                if with_gv:
                    g_v = g_v + g_vmem[b, t, n]
                g_u = g_v * (ONE - th * sigma) + g_s * sigma
                from_v[n - n0] = alpha[n] * g_u
                part_bias[b, n] += g_u
                part_alpha[b, n] += np.float64(v_prev) * g_u
                part_threshold[b, n] -= (np.float64((g_s - th * g_v) * sigma) * (un / th)
                                         + np.float64(g_v) * count)
                for j in range(n_synapses):
                    g_i = carry_i[b, n, j] + g_u
                    if with_gi:
                        g_i = g_i + g_isyn[b, t, n, j]
                    g_xj = beta[n, j] * g_i
                    carry_i[b, n, j] = g_xj
                    if with_gx:
                        g_x[b, t, n, j] = g_xj
                    r = g_i + beta[n, j] * carry_r[b, n, j]
                    carry_r[b, n, j] = r
                    if with_x:
                        part_beta[b, n, j] += np.float64(x[b, t, n, j]) * r
        for n in range(n0, n1):
            carry_v[b, n] = from_v[n - n0]
            carry_s[b, n] = ZERO


@njit(cache=True, parallel=True)
def reverse_sweep_single(u, u_t0, t0, t1, v_before, x, alpha, beta, threshold, window,  # type: ignore[no-untyped-def]
                         max_spikes, periodic, g_spikes, g_vmem, g_isyn,
                         carry_v, carry_i, carry_s, carry_r, g_x, partials, sum_alpha, sum_beta,
                         sum_threshold, sum_bias, counts, strides):
    """:func:`reverse_sweep` for one synapse per neuron, every array flat (1-D).

    ``strides`` (6, 2) int64 gives the (batch, time) strides in elements of u, x, g_spikes,
    g_vmem, g_isyn and g_x; an absent stream is a (B·N,) row of zeros (read) or scratch
    (g_x) with time stride 0, and x is empty when β needs no gradient. ``partials`` (4, B·N)
    float64 (α, β, θ, b) is added to; ``counts`` (B·N,) float32 is scratch.

    Each step's spike counts are those of the step after it recomputed one step earlier
    (kept in ``counts``): one exact division u/θ per neuron-step. σ and u/θ in the gradients
    multiply by 1/θ instead (a gradient, not a count, and the surrogate is continuous where
    a rounding could move ⌊u/θ⌋).

    The parameter sums run in float32 over chunks of :data:`SUM_CHUNK` steps, each chunk's
    sum then added in float64: float64 accumulators in the loop would halve its vector width.
    """
    n_neurons = alpha.shape[0]
    batch = v_before.shape[0] // n_neurons
    plane = uint64(batch * n_neurons)
    blocks = (n_neurons + SWEEP_BLOCK - 1) // SWEEP_BLOCK
    neg_inv_window = F32(-1.0 / window)
    with_x = x.shape[0] > 0
    inverse = ONE / threshold
    for item in prange(batch * blocks):
        b = item // blocks
        n0 = (item % blocks) * SWEEP_BLOCK
        width = uint64(min(SWEEP_BLOCK, n_neurons - n0))
        row = uint64(b * n_neurons + n0)
        at_last = uint64(b * strides[0, 0] + (t1 - 1 - u_t0) * strides[0, 1] + n0)
        for n in range(width):
            counts[row + n] = spike_count(u[at_last + n], threshold[uint64(n0) + n], max_spikes)
        for t in range(t1 - 1, t0 - 1, -1):
            at_u = uint64(b * strides[0, 0] + (t - u_t0) * strides[0, 1] + n0)
            # the step before t0 is v_before: its u is read at t0 (any valid row) and unused
            at_before = uint64(b * strides[0, 0] + (max(t - 1, t0) - u_t0) * strides[0, 1] + n0)
            at_x = uint64(b * strides[1, 0] + t * strides[1, 1] + n0)
            at_gs = uint64(b * strides[2, 0] + t * strides[2, 1] + n0)
            at_gv = uint64(b * strides[3, 0] + t * strides[3, 1] + n0)
            at_gi = uint64(b * strides[4, 0] + t * strides[4, 1] + n0)
            at_gx = uint64(b * strides[5, 0] + t * strides[5, 1] + n0)
            first, last = t == t0, t == t1 - 1
            for n in range(width):
                k = uint64(n0) + n
                th, inv_th = threshold[k], inverse[k]
                un = u[at_u + n]
                before = u[at_before + n]
                count = counts[row + n]
                count_before = spike_count(before, th, max_spikes)
                counts[row + n] = count_before
                v_prev = v_before[row + n] if first else before - count_before * th
                sigma = surrogate_slope(un, th, inv_th, window, neg_inv_window, max_spikes,
                                        periodic)
                g_s = g_spikes[at_gs + n]
                if last:
                    g_s = g_s + carry_s[row + n]
                g_v = carry_v[row + n] + g_vmem[at_gv + n]
                g_u = g_v * (ONE - th * sigma) + g_s * sigma
                carry_v[row + n] = alpha[k] * g_u
                sum_alpha[row + n] += v_prev * g_u
                sum_threshold[row + n] -= (g_s - th * g_v) * sigma * (un * inv_th) + g_v * count
                sum_bias[row + n] += g_u
                g_i = carry_i[row + n] + g_u + g_isyn[at_gi + n]
                g_xn = beta[k] * g_i
                carry_i[row + n] = g_xn
                g_x[at_gx + n] = g_xn
                r = g_i + beta[k] * carry_r[row + n]
                carry_r[row + n] = r
                if with_x:
                    sum_beta[row + n] += x[at_x + n] * r
            if t % SUM_CHUNK == 0:
                for n in range(width):
                    partials[row + n] += np.float64(sum_alpha[row + n])
                    partials[plane + row + n] += np.float64(sum_beta[row + n])
                    partials[uint64(2) * plane + row + n] += np.float64(sum_threshold[row + n])
                    partials[uint64(3) * plane + row + n] += np.float64(sum_bias[row + n])
                    sum_alpha[row + n] = ZERO
                    sum_beta[row + n] = ZERO
                    sum_threshold[row + n] = ZERO
                    sum_bias[row + n] = ZERO
        for n in range(width):
            carry_s[row + n] = ZERO
