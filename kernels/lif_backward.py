r"""Backward sweep of the LIF recurrence (BPTT) in one launch: the reverse of ``lif_forward``.

Notation per neuron (synapse index s implicit on i): gS_t, gV_t, gI_t are the gradients
arriving at the spike count s_t, the post-reset membrane v_t and the post-decay currents
i_t; σ_t = ∂s/∂u and ∂s/∂θ are the surrogate's derivatives at the pre-spike membrane u_t.
Sweeping t = T-1 .. 0 (docs/design.md §4):

.. math::

    gV_t &\mathrel{+}= \bar g^{v}_t, \quad gI_t \mathrel{+}= \bar g^{i}_t
          \quad\text{(external gradients on recorded vmem / isyn)} \\
    r_t  &= gS_t - \theta\, gV_t \\
    gU_t &= gV_t + r_t\,\sigma_t \\
    g\theta &\mathrel{+}= r_t\,\partial s/\partial\theta - gV_t\, s_t, \qquad
    gb \mathrel{+}= gU_t, \qquad g\alpha \mathrel{+}= v_{t-1}\, gU_t \\
    gI_t &\mathrel{+}= gU_t \\
    gx_t &= \beta\, gI_t, \qquad R_t = gI_t + \beta\, R_{t+1}, \qquad
    g\beta \mathrel{+}= x_t\, R_t \\
    gV_{t-1} &= \alpha\, gU_t, \qquad gI_{t-1} = \beta\, gI_t

with v_{-1} = v0, and gV_{-1}, gI_{-1} the gradients of the initial state. The gradient of
the final state enters as gV_{T-1}, gI_{T-1} (initial values of the carried gradients) and
as an extra term of gS_{T-1}; R_T = 0, and after step 0 gβ += i0·R_0.

gβ = Σ_t (i_{t-1} + x_t)·gI_t, the current before decay times its gradient; expanding that
current over the past, i_{t-1} + x_t = Σ_{k≤t} β^{t-k} x_k + β^t i0, turns the sum into
Σ_k x_k R_k + i0 R_0, so the currents are neither stored nor recomputed.

Surrogates (Rockpool 3.1 ``lif_torch``), with w the window and M the spike limit:

* PeriodicExponential: vs = u - θ/2, k = min(⌊vs/θ⌋, M-1), v̂ = vs if u < θ else vs - kθ,
  σ = exp(-|v̂ - θ/2| / w) / θ, ∂s/∂θ = -σ u / θ.
* StepPWL: σ = [u ≥ θ - w] / θ, ∂s/∂θ = -u [u ≥ θ - w] / θ².

Only u_t is read from the forward (saved or recomputed): s_t and v_{t-1} = u_{t-1} - θ s_{t-1}
are recomputed from it with the forward's exact arithmetic.

Per-(b, n) partial sums of gα, gβ, gθ, gb are read from and written back to (B, N[, S])
buffers, and the carried gV, gI, R likewise: a checkpointed backward that calls this kernel
once per segment (latest first) performs the very same additions in the same order as one
call over the whole sequence, so both modes give bitwise equal gradients. The caller sums
the partials over the batch with torch: no atomics, deterministic.

Time frames as in the forward: x, the incoming gradients and gx span (B, seq_len, ...) and
the segment starts at step ``seq_start``; u spans (B, scratch_len, N) and starts at step 0.
"""

from __future__ import annotations

import triton
import triton.language as tl
from torch import Tensor

from .launch import (
    COMPILE_OPTIONS,
    LaunchPlan,
    check,
    check_tensors,
    launcher,
    layer_shape,
)
from .lif_forward import block_config, multi_spike, padded_synapses

# Pipelining depth of the reverse time loop (see lif_forward.NUM_STAGES): 8 steps of each
# input stream in flight; the lightest build (x only) reads u and the spike gradient, 256 B a
# step per warp, so 2 KB per warp.
NUM_STAGES = 9

# Values of the SURROGATE constexpr (host ints; the kernel compares with the constexpr copy).
PERIODIC_EXPONENTIAL = 0
STEP_PWL = 1
_PERIODIC_EXPONENTIAL = tl.constexpr(PERIODIC_EXPONENTIAL)
RUNTIME_INT_ARGS = ("n_steps", "seq_start", "seq_len", "scratch_len", "n_neurons")


@triton.jit
def periodic_exponential_grad(u, threshold, inv_threshold, inv_window, max_spikes):
    """(∂s/∂u, ∂s/∂θ) of Rockpool's PeriodicExponential at membrane u (BLOCK_N,).

    Divisions by θ and w are multiplications by reciprocals computed once per program: the
    period index may then differ from an exact floor division only where vs/θ is within
    rounding of an integer, where both periods give the same distance |v̂ - θ/2| = θ/2.
    """
    half = threshold * 0.5
    shifted = u - half
    periods = tl.minimum(tl.floor(shifted * inv_threshold), max_spikes - 1)
    periodic = tl.where(u < threshold, shifted, shifted - periods * threshold)
    pdf = tl.exp(-tl.abs(periodic - half) * inv_window) * inv_threshold
    return pdf, -pdf * u * inv_threshold


@triton.jit
def step_pwl_grad(u, threshold, inv_threshold, window):
    """(∂s/∂u, ∂s/∂θ) of Rockpool's StepPWL at membrane u (BLOCK_N,)."""
    inside = tl.where(u >= threshold - window, inv_threshold, 0.0)
    return inside, -u * inside * inv_threshold


@triton.jit
def surrogate_grad(u, threshold, inv_threshold, window, inv_window, max_spikes,
                   SURROGATE: tl.constexpr):
    """(∂s/∂u, ∂s/∂θ) of the surrogate selected by the SURROGATE constexpr."""
    if SURROGATE == _PERIODIC_EXPONENTIAL:
        return periodic_exponential_grad(u, threshold, inv_threshold, inv_window, max_spikes)
    return step_pwl_grad(u, threshold, inv_threshold, window)


@triton.jit(do_not_specialize=RUNTIME_INT_ARGS)
def lif_backward_kernel(
    u_ptr,  # (B, scratch_len, N) float32 pre-spike membrane
    x_ptr,  # (B, seq_len, N*S) any float dtype, read if NEED_BETA
    grad_spikes_ptr,  # (B, seq_len, N) any float dtype, read if HAS_GRAD_SPIKES
    grad_vmem_ptr,  # (B, seq_len, N) any float dtype, read if HAS_GRAD_VMEM
    grad_isyn_ptr,  # (B, seq_len, N, S) any float dtype, read if HAS_GRAD_ISYN
    alpha_ptr,  # (N,) float32
    beta_ptr,  # (N, S) float32
    threshold_ptr,  # (N,) float32
    v_start_ptr,  # (B, N) float32: v before the segment's first step
    i_start_ptr,  # (B, N, S) float32: i before the segment's first step
    grad_spikes_last_ptr,  # (B, N) float32: extra gradient on the segment's last spikes
    grad_v_ptr,  # (B, N) float32 in: gV of the last step; out: gV before the first
    grad_i_ptr,  # (B, N, S) float32 in/out, likewise for gI
    beta_scan_ptr,  # (B, N, S) float32 in/out if NEED_BETA: R after the segment / at its start
    grad_x_ptr,  # (B, seq_len, N*S) x's dtype, written if NEED_X
    partial_alpha_ptr,  # (B, N) float32 accumulated in place if NEED_ALPHA
    partial_beta_ptr,  # (B, N, S) float32 accumulated in place if NEED_BETA
    partial_threshold_ptr,  # (B, N) float32 accumulated in place if NEED_THRESHOLD
    partial_bias_ptr,  # (B, N) float32 accumulated in place if NEED_BIAS
    n_steps,
    seq_start,
    seq_len,
    scratch_len,
    n_neurons,
    max_spikes,  # float
    window,  # float
    S: tl.constexpr,
    S_PAD: tl.constexpr,
    BLOCK_N: tl.constexpr,
    SURROGATE: tl.constexpr,
    HAS_GRAD_SPIKES: tl.constexpr,
    HAS_GRAD_VMEM: tl.constexpr,
    HAS_GRAD_ISYN: tl.constexpr,
    NEED_X: tl.constexpr,
    NEED_ALPHA: tl.constexpr,
    NEED_BETA: tl.constexpr,
    NEED_THRESHOLD: tl.constexpr,
    NEED_BIAS: tl.constexpr,
    NUM_STAGES: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    n_mask = n < n_neurons
    syn = tl.arange(0, S_PAD)
    ns = n[:, None] * S + syn[None, :]
    ns_mask = n_mask[:, None] & (syn[None, :] < S)
    state = b * n_neurons + n  # offsets into (B, N)
    state_syn = b * n_neurons * S + ns  # offsets into (B, N, S)

    alpha = tl.load(alpha_ptr + n, mask=n_mask, other=0.0)
    beta = tl.load(beta_ptr + ns, mask=ns_mask, other=0.0)
    threshold = tl.load(threshold_ptr + n, mask=n_mask, other=1.0)
    # IEEE reciprocals once per program (an approximate division would change gradients)
    inv_threshold = tl.math.div_rn(tl.full([BLOCK_N], 1.0, tl.float32), threshold)
    inv_window = tl.math.div_rn(1.0, window)
    grad_v = tl.load(grad_v_ptr + state, mask=n_mask, other=0.0)
    grad_i = tl.load(grad_i_ptr + state_syn, mask=ns_mask, other=0.0)
    grad_s_extra = tl.load(grad_spikes_last_ptr + state, mask=n_mask, other=0.0)
    acc_alpha = tl.zeros([BLOCK_N], dtype=tl.float32)
    acc_beta = tl.zeros([BLOCK_N, S_PAD], dtype=tl.float32)
    acc_threshold = tl.zeros([BLOCK_N], dtype=tl.float32)
    acc_bias = tl.zeros([BLOCK_N], dtype=tl.float32)
    if NEED_ALPHA:
        acc_alpha = tl.load(partial_alpha_ptr + state, mask=n_mask, other=0.0)
    if NEED_BETA:
        acc_beta = tl.load(partial_beta_ptr + state_syn, mask=ns_mask, other=0.0)
        beta_scan = tl.load(beta_scan_ptr + state_syn, mask=ns_mask, other=0.0)
    if NEED_THRESHOLD:
        acc_threshold = tl.load(partial_threshold_ptr + state, mask=n_mask, other=0.0)
    if NEED_BIAS:
        acc_bias = tl.load(partial_bias_ptr + state, mask=n_mask, other=0.0)
    if NEED_ALPHA:
        v_start = tl.load(v_start_ptr + state, mask=n_mask, other=0.0)

    # int64 offsets of step t = n_steps - 1 in both frames, moved back one step per iteration.
    seq_row = (b * seq_len + seq_start + n_steps - 1) * n_neurons
    scratch_row = (b * scratch_len + n_steps - 1) * n_neurons
    u = tl.load(u_ptr + scratch_row + n, mask=tl.where(n_steps > 0, n_mask, False), other=0.0)
    spikes = multi_spike(u, threshold, max_spikes)
    dsdu, dsdthreshold = surrogate_grad(
        u, threshold, inv_threshold, window, inv_window, max_spikes, SURROGATE
    )

    for k in tl.range(0, n_steps, num_stages=NUM_STAGES):
        has_prev = k < n_steps - 1  # step t - 1 exists inside this segment
        grad_s = grad_s_extra
        if HAS_GRAD_SPIKES:
            grad_s += tl.load(grad_spikes_ptr + seq_row + n, mask=n_mask, other=0.0).to(tl.float32)
        if HAS_GRAD_VMEM:
            grad_v += tl.load(grad_vmem_ptr + seq_row + n, mask=n_mask, other=0.0).to(tl.float32)
        if HAS_GRAD_ISYN:
            grad_i += tl.load(grad_isyn_ptr + seq_row * S + ns, mask=ns_mask, other=0.0).to(
                tl.float32
            )

        through_spikes = grad_s - threshold * grad_v
        grad_u = grad_v + through_spikes * dsdu

        # Step t - 1's membrane is loaded and turned into what step t - 1 needs (surrogate,
        # spike count) here, in the iteration that loads it: a load whose only use is a
        # loop-carried value is not pipelined and would wait a DRAM round trip every step.
        u_prev = tl.load(
            u_ptr + (scratch_row - n_neurons) + n, mask=tl.where(has_prev, n_mask, False), other=0.0
        )
        dsdu_prev, dsdthreshold_prev = surrogate_grad(
            u_prev, threshold, inv_threshold, window, inv_window, max_spikes, SURROGATE
        )
        spikes_prev = spikes
        if NEED_ALPHA or NEED_THRESHOLD:
            spikes_prev = multi_spike(u_prev, threshold, max_spikes)
        if NEED_THRESHOLD:
            acc_threshold += through_spikes * dsdthreshold - grad_v * spikes
        if NEED_BIAS:
            acc_bias += grad_u
        if NEED_ALPHA:
            v_prev = tl.where(has_prev, u_prev - spikes_prev * threshold, v_start)
            acc_alpha += v_prev * grad_u

        grad_i = grad_i + grad_u[:, None]
        if NEED_X:
            grad_x = beta * grad_i
            tl.store(
                grad_x_ptr + seq_row * S + ns, grad_x.to(grad_x_ptr.dtype.element_ty), mask=ns_mask
            )
        if NEED_BETA:
            x = tl.load(x_ptr + seq_row * S + ns, mask=ns_mask, other=0.0).to(tl.float32)
            beta_scan = grad_i + beta * beta_scan
            acc_beta += x * beta_scan

        grad_v = alpha * grad_u
        grad_i = beta * grad_i
        dsdu = dsdu_prev
        dsdthreshold = dsdthreshold_prev
        spikes = spikes_prev
        grad_s_extra = tl.zeros([BLOCK_N], dtype=tl.float32)
        seq_row -= n_neurons
        scratch_row -= n_neurons

    tl.store(grad_v_ptr + state, grad_v, mask=n_mask)
    tl.store(grad_i_ptr + state_syn, grad_i, mask=ns_mask)
    if NEED_BETA:
        tl.store(beta_scan_ptr + state_syn, beta_scan, mask=ns_mask)
        if seq_start == 0:
            i_start = tl.load(i_start_ptr + state_syn, mask=ns_mask, other=0.0)
            acc_beta += i_start * beta_scan
    if NEED_ALPHA:
        tl.store(partial_alpha_ptr + state, acc_alpha, mask=n_mask)
    if NEED_BETA:
        tl.store(partial_beta_ptr + state_syn, acc_beta, mask=ns_mask)
    if NEED_THRESHOLD:
        tl.store(partial_threshold_ptr + state, acc_threshold, mask=n_mask)
    if NEED_BIAS:
        tl.store(partial_bias_ptr + state, acc_bias, mask=n_mask)


def lif_backward_arguments(
    u: Tensor,
    x: Tensor,
    grad_spikes: Tensor | None,
    grad_vmem: Tensor | None,
    grad_isyn: Tensor | None,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    v_start: Tensor,
    i_start: Tensor,
    grad_spikes_last: Tensor,
    grad_v: Tensor,
    grad_i: Tensor,
    *,
    n_steps: int,
    seq_start: int,
    max_spikes: float,
    window: float,
    surrogate: int,
    grad_x: Tensor | None = None,
    partial_alpha: Tensor | None = None,
    partial_beta: Tensor | None = None,
    beta_scan: Tensor | None = None,
    partial_threshold: Tensor | None = None,
    partial_bias: Tensor | None = None,
) -> LaunchPlan:
    """Validate the tensors of one backward launch and return its :class:`LaunchPlan`.

    Shapes (B batch, N neurons, S synapses): u (B, scratch_len, N) float32 holds steps
    0 .. n_steps-1 of the segment; x, grad_x (B, seq_len, N*S), grad_spikes, grad_vmem
    (B, seq_len, N) and grad_isyn (B, seq_len, N, S) in any float dtype cover it from step
    ``seq_start`` on; alpha (N,), beta (N, S), threshold (N,); v_start, grad_spikes_last
    (B, N), i_start (B, N, S); grad_v (B, N), grad_i (B, N, S) and, with partial_beta,
    beta_scan (B, N, S) (zeros before the last segment) are read and overwritten; the
    partials alpha, threshold, bias (B, N) and beta (B, N, S) are accumulated in place; a
    None output is not computed. ``surrogate`` is PERIODIC_EXPONENTIAL or STEP_PWL. All
    contiguous.
    """
    batch, seq_len, n_neurons, n_synapses = layer_shape(x, alpha, beta)
    # x is read only for the β gradient; otherwise it may be a shape-only placeholder.
    check(partial_beta is None or x.is_contiguous(), "x must be contiguous")
    check(0 <= seq_start and seq_start + n_steps <= seq_len, "steps outside the sequence")
    check(u.dim() == 3, "u must be (B, T, N)")
    scratch_len = u.shape[1]
    check(n_steps <= scratch_len, "u is shorter than n_steps")
    check(surrogate in (PERIODIC_EXPONENTIAL, STEP_PWL), f"unknown surrogate {surrogate}")
    check(partial_beta is None or beta_scan is not None, "partial_beta needs beta_scan")
    expected = {
        "u": (u, (batch, scratch_len, n_neurons)),
        "beta_scan": (beta_scan, (batch, n_neurons, n_synapses)),
        "grad_spikes": (grad_spikes, (batch, seq_len, n_neurons)),
        "grad_vmem": (grad_vmem, (batch, seq_len, n_neurons)),
        "grad_isyn": (grad_isyn, (batch, seq_len, n_neurons, n_synapses)),
        "threshold": (threshold, (n_neurons,)),
        "v_start": (v_start, (batch, n_neurons)),
        "i_start": (i_start, (batch, n_neurons, n_synapses)),
        "grad_spikes_last": (grad_spikes_last, (batch, n_neurons)),
        "grad_v": (grad_v, (batch, n_neurons)),
        "grad_i": (grad_i, (batch, n_neurons, n_synapses)),
        "grad_x": (grad_x, (batch, seq_len, n_neurons * n_synapses)),
        "partial_alpha": (partial_alpha, (batch, n_neurons)),
        "partial_beta": (partial_beta, (batch, n_neurons, n_synapses)),
        "partial_threshold": (partial_threshold, (batch, n_neurons)),
        "partial_bias": (partial_bias, (batch, n_neurons)),
    }
    float32 = (
        u,
        beta_scan,
        alpha,
        beta,
        threshold,
        v_start,
        i_start,
        grad_spikes_last,
        grad_v,
        grad_i,
        partial_alpha,
        partial_beta,
        partial_threshold,
        partial_bias,
    )
    check_tensors(expected, float32, x.device)

    block_n, num_warps = block_config(n_neurons)
    grid = (batch, triton.cdiv(n_neurons, block_n))
    check(grid[1] <= 65535, "too many neurons for one launch")
    args = (
        u,
        x,
        grad_spikes,
        grad_vmem,
        grad_isyn,
        alpha,
        beta,
        threshold,
        v_start,
        i_start,
        grad_spikes_last,
        grad_v,
        grad_i,
        beta_scan,
        grad_x,
        partial_alpha,
        partial_beta,
        partial_threshold,
        partial_bias,
        n_steps,
        seq_start,
        seq_len,
        scratch_len,
        n_neurons,
        float(max_spikes),
        float(window),
    )
    options = {
        "S": n_synapses,
        "S_PAD": padded_synapses(n_synapses),
        "BLOCK_N": block_n,
        "SURROGATE": surrogate,
        "HAS_GRAD_SPIKES": grad_spikes is not None,
        "HAS_GRAD_VMEM": grad_vmem is not None,
        "HAS_GRAD_ISYN": grad_isyn is not None,
        "NEED_X": grad_x is not None,
        "NEED_ALPHA": partial_alpha is not None,
        "NEED_BETA": partial_beta is not None,
        "NEED_THRESHOLD": partial_threshold is not None,
        "NEED_BIAS": partial_bias is not None,
        "NUM_STAGES": NUM_STAGES,
        "num_warps": num_warps,
        # the same arithmetic as the forward, so recomputed spikes are the forward's
        **COMPILE_OPTIONS,
    }
    return LaunchPlan(grid, args, options)


launch_lif_backward = launcher(lif_backward_kernel, lif_backward_arguments)
