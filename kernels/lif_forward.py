r"""Forward sweep of the LIF recurrence: one launch for the whole sequence.

For every batch row b and neuron n (synapses s = 0..S-1), starting from (v, i) = (v0, i0),
for t = 0 .. T-1, in float32 and in exactly this order (Rockpool 3.1 ``LIFTorch.evolve``):

.. math::

    i_{t}     &= \beta \odot (i_{t-1} + x_t)      \quad\text{(add, then multiply)} \\
    v'        &= \alpha\, v_{t-1} \\
    u_t       &= ((v' + \textstyle\sum_s i_{t,s}) + \xi_t) + b   \quad\text{(sum left to right)} \\
    s_t       &= [u_t \ge \theta]\,\lfloor u_t / \theta \rfloor,
                 \quad s_t \leftarrow s_t - (s_t - M)\,[s_t > M] \\
    v_t       &= u_t - s_t\,\theta

The division is IEEE round-to-nearest (``tl.math.div_rn``) and the launch disables FMA
contraction, so every operation rounds like torch's CPU/CUDA elementwise ops and the spike
counts are bitwise those of the torch loop.

One program owns one batch row and a block of ``BLOCK_N`` neurons and steps through time
with the state in registers: ``v`` is (BLOCK_N,), ``i`` is (BLOCK_N, S_PAD). Step t of an
input row is ``N*S`` elements after step t-1, so a program's loads are contiguous
(coalesced) and its pointer offsets advance by a constant each step, kept in int64 so
that B*T*N*S may exceed 2**31.

Two time frames, so that the backward can recompute one checkpoint segment into a small
scratch buffer with the same kernel:

* inputs ``x`` (B, seq_len, N*S) and ``noise`` (B, seq_len, N) are read from step
  ``seq_start`` on;
* outputs ``spikes``/``vmem``/``u`` (B, out_len, N) and ``isyn`` (B, out_len, N, S) are
  written from step 0 on.
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

# Software pipelining depth of the time loop: Triton's pipeliner keeps NUM_STAGES - 1 steps of
# every input stream in a shared-memory ring, loaded asynchronously ahead of use. A step of
# the forward is a few dozen instructions, far less than one DRAM round trip (~700 ns), so by
# Little's law a warp needs >= 2 KB in flight: 16 steps of x at 32 neurons x 4 B (S = 1).
NUM_STAGES = 17
# Integers Triton must not specialise on (value 1, divisibility by 16): a new T, N or
# segment must reuse the compiled kernel.
RUNTIME_INT_ARGS = (
    "n_steps",
    "seq_start",
    "seq_len",
    "out_len",
    "n_neurons",
    "n_checkpoints",
    "checkpoint_every",
)


@triton.jit
def multi_spike(u, threshold, max_spikes):
    """Spike count of a pre-spike membrane ``u`` (BLOCK_N,), Rockpool's expression literally.

    ``(u >= θ) * floor(u / θ)`` then ``s - (s - M) * (s > M)``; the products (not selects)
    keep torch's results for infinities and NaN.
    """
    s = (u >= threshold).to(tl.float32) * tl.floor(tl.math.div_rn(u, threshold))
    return s - (s - max_spikes) * (s > max_spikes).to(tl.float32)


@triton.jit
def synapse_sum(i, syn, S: tl.constexpr):
    """Σ_s i[:, s] of an (BLOCK_N, S_PAD) block, added left to right from +0.0: torch's
    ``isyn.sum(2)`` up to 4 synapses, the most the op sends here (torch sums more in its own
    order, and the op runs such layers on its torch reference)."""
    total = tl.sum(tl.where(syn[None, :] == 0, i, 0.0), axis=1)
    for k in tl.static_range(1, S):
        total = total + tl.sum(tl.where(syn[None, :] == k, i, 0.0), axis=1)
    return total


@triton.jit(do_not_specialize=RUNTIME_INT_ARGS)
def lif_forward_kernel(
    x_ptr,  # (B, seq_len, N*S) any float dtype
    noise_ptr,  # (B, seq_len, N) any float dtype, read only if HAS_NOISE
    alpha_ptr,  # (N,) float32
    beta_ptr,  # (N, S) float32
    threshold_ptr,  # (N,) float32
    bias_ptr,  # (N,) float32
    v0_ptr,  # (B, N) float32
    i0_ptr,  # (B, N, S) float32
    s0_ptr,  # (B, N) float32: the final spike count when n_steps == 0
    spikes_ptr,  # (B, out_len, N) written if WRITE_SPIKES
    vmem_ptr,  # (B, out_len, N) written if RECORD_V
    isyn_ptr,  # (B, out_len, N, S) written if RECORD_I
    u_ptr,  # (B, out_len, N) float32, written if SAVE_U
    ckpt_v_ptr,  # (B, n_checkpoints, N) float32, written if SAVE_CHECKPOINTS
    ckpt_i_ptr,  # (B, n_checkpoints, N, S) float32, written if SAVE_CHECKPOINTS
    ckpt_s_ptr,  # (B, n_checkpoints, N) float32, written if SAVE_CHECKPOINTS
    final_v_ptr,  # (B, N) float32, written if WRITE_FINAL
    final_i_ptr,  # (B, N, S) float32, written if WRITE_FINAL
    final_s_ptr,  # (B, N) float32, written if WRITE_FINAL
    n_steps,  # steps to run
    seq_start,  # first step read from x / noise
    seq_len,  # time extent of x / noise
    out_len,  # time extent of the outputs
    n_neurons,
    n_checkpoints,
    checkpoint_every,
    max_spikes,  # float
    S: tl.constexpr,
    S_PAD: tl.constexpr,
    BLOCK_N: tl.constexpr,
    HAS_NOISE: tl.constexpr,
    WRITE_SPIKES: tl.constexpr,
    RECORD_V: tl.constexpr,
    RECORD_I: tl.constexpr,
    SAVE_U: tl.constexpr,
    SAVE_CHECKPOINTS: tl.constexpr,
    WRITE_FINAL: tl.constexpr,
    NUM_STAGES: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    n_mask = n < n_neurons
    syn = tl.arange(0, S_PAD)
    ns = n[:, None] * S + syn[None, :]  # (BLOCK_N, S_PAD) column of (neuron, synapse)
    ns_mask = n_mask[:, None] & (syn[None, :] < S)

    alpha = tl.load(alpha_ptr + n, mask=n_mask, other=1.0)
    beta = tl.load(beta_ptr + ns, mask=ns_mask, other=0.0)
    threshold = tl.load(threshold_ptr + n, mask=n_mask, other=1.0)
    bias = tl.load(bias_ptr + n, mask=n_mask, other=0.0)
    v = tl.load(v0_ptr + b * n_neurons + n, mask=n_mask, other=0.0)
    i = tl.load(i0_ptr + b * n_neurons * S + ns, mask=ns_mask, other=0.0)
    s = tl.load(s0_ptr + b * n_neurons + n, mask=n_mask, other=0.0)

    # int64 element offsets of step t in each tensor, advanced by one step per iteration.
    in_row = (b * seq_len + seq_start) * n_neurons  # start of (b, seq_start, :) in a (B, T, N)
    out_row = b * out_len * n_neurons
    ckpt_row = b * n_checkpoints * n_neurons
    steps_to_checkpoint = tl.full([], 0, tl.int32)

    for _ in tl.range(0, n_steps, num_stages=NUM_STAGES):
        if SAVE_CHECKPOINTS:
            # The state (v, i, s) *before* steps 0, K, 2K, ...; a masked store, no branch.
            at_checkpoint = steps_to_checkpoint == 0
            tl.store(ckpt_v_ptr + ckpt_row + n, v, mask=tl.where(at_checkpoint, n_mask, False))
            tl.store(
                ckpt_i_ptr + ckpt_row * S + ns, i, mask=tl.where(at_checkpoint, ns_mask, False)
            )
            tl.store(ckpt_s_ptr + ckpt_row + n, s, mask=tl.where(at_checkpoint, n_mask, False))
            ckpt_row += tl.where(at_checkpoint, n_neurons, 0).to(tl.int64)
            steps_to_checkpoint = tl.where(at_checkpoint, checkpoint_every, steps_to_checkpoint) - 1

        x = tl.load(x_ptr + in_row * S + ns, mask=ns_mask, other=0.0).to(tl.float32)
        i = i + x
        v = v * alpha
        i = i * beta
        u = v + synapse_sum(i, syn, S)
        if HAS_NOISE:
            u = u + tl.load(noise_ptr + in_row + n, mask=n_mask, other=0.0).to(tl.float32)
        u = u + bias
        s = multi_spike(u, threshold, max_spikes)
        v = u - s * threshold

        if WRITE_SPIKES:
            tl.store(spikes_ptr + out_row + n, s.to(spikes_ptr.dtype.element_ty), mask=n_mask)
        if RECORD_V:
            tl.store(vmem_ptr + out_row + n, v.to(vmem_ptr.dtype.element_ty), mask=n_mask)
        if RECORD_I:
            tl.store(isyn_ptr + out_row * S + ns, i.to(isyn_ptr.dtype.element_ty), mask=ns_mask)
        if SAVE_U:
            tl.store(u_ptr + out_row + n, u, mask=n_mask)
        in_row += n_neurons
        out_row += n_neurons

    if WRITE_FINAL:
        tl.store(final_v_ptr + b * n_neurons + n, v, mask=n_mask)
        tl.store(final_i_ptr + b * n_neurons * S + ns, i, mask=ns_mask)
        tl.store(final_s_ptr + b * n_neurons + n, s, mask=n_mask)


def block_config(n_neurons: int) -> tuple[int, int]:
    """``(BLOCK_N, num_warps)`` for a layer of ``n_neurons``: one neuron per thread.

    Both kernels are latency bound per program (a chain of dependent operations per step),
    so what matters is the number of warps resident per SM. One-warp programs suit the
    SynNet-sized layers (<= 1024 neurons), where B*N/32 warps is at most a few per SM; wider
    layers use two-warp programs because an SM holds at most 32 programs, which would cap
    one-warp programs at half occupancy.
    """
    if n_neurons <= 1024:
        return 32, 1
    return 64, 2


def padded_synapses(n_synapses: int) -> int:
    """The power of two that holds ``n_synapses`` (a block dimension must be a power of 2)."""
    return triton.next_power_of_2(n_synapses)


def lif_forward_arguments(
    x: Tensor,
    noise: Tensor | None,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    bias: Tensor,
    v0: Tensor,
    i0: Tensor,
    s0: Tensor,
    *,
    n_steps: int,
    seq_start: int,
    max_spikes: float,
    spikes: Tensor | None = None,
    vmem: Tensor | None = None,
    isyn: Tensor | None = None,
    u: Tensor | None = None,
    ckpt_v: Tensor | None = None,
    ckpt_i: Tensor | None = None,
    ckpt_s: Tensor | None = None,
    checkpoint_every: int = 0,
    final_v: Tensor | None = None,
    final_i: Tensor | None = None,
    final_s: Tensor | None = None,
) -> LaunchPlan:
    """Validate the tensors of one forward launch and return its :class:`LaunchPlan`.

    Shapes (B batch, N neurons, S synapses): x (B, seq_len, N*S) and noise (B, seq_len, N)
    in any float dtype, steps ``seq_start .. seq_start + n_steps - 1`` are read; alpha (N,),
    beta (N, S), threshold (N,), bias (N,), v0 (B, N), i0 (B, N, S), s0 (B, N) float32.
    Outputs (None: not written) start at step 0 of their time axis: spikes, vmem, u
    (B, out_len, N), isyn (B, out_len, N, S), u float32; ckpt_v, ckpt_s (B, C, N), ckpt_i
    (B, C, N, S) float32 with C = ceil(n_steps / checkpoint_every) (all three or none);
    final_v, final_s (B, N), final_i (B, N, S) float32 (all three or none). Spikes and
    records are written in their tensors' dtype. Every tensor must be contiguous.
    """
    batch, seq_len, n_neurons, n_synapses = layer_shape(x, alpha, beta)
    check(x.is_contiguous(), "x must be contiguous")
    check(0 <= seq_start and seq_start + n_steps <= seq_len, "steps outside the input")
    out_len = next((t.shape[1] for t in (spikes, vmem, u, isyn) if t is not None), n_steps)
    check(out_len >= n_steps, "outputs are shorter than n_steps")
    checkpoints = (ckpt_v, ckpt_i, ckpt_s)
    check(
        all(t is None for t in checkpoints) or all(t is not None for t in checkpoints),
        "pass all of ckpt_v, ckpt_i, ckpt_s or none",
    )
    n_checkpoints = 0
    if ckpt_v is not None:
        check(checkpoint_every > 0, "checkpoints need checkpoint_every > 0")
        n_checkpoints = triton.cdiv(n_steps, checkpoint_every)
    finals = (final_v, final_i, final_s)
    check(
        all(t is None for t in finals) or all(t is not None for t in finals),
        "pass all of final_v, final_i, final_s or none",
    )
    n, ns = (batch, n_neurons), (batch, n_neurons, n_synapses)
    expected = {
        "threshold": (threshold, (n_neurons,)),
        "bias": (bias, (n_neurons,)),
        "v0": (v0, n),
        "i0": (i0, ns),
        "s0": (s0, n),
        "noise": (noise, (batch, seq_len, n_neurons)),
        "spikes": (spikes, (batch, out_len, n_neurons)),
        "vmem": (vmem, (batch, out_len, n_neurons)),
        "u": (u, (batch, out_len, n_neurons)),
        "isyn": (isyn, (batch, out_len, n_neurons, n_synapses)),
        "ckpt_v": (ckpt_v, (batch, n_checkpoints, n_neurons)),
        "ckpt_i": (ckpt_i, (batch, n_checkpoints, n_neurons, n_synapses)),
        "ckpt_s": (ckpt_s, (batch, n_checkpoints, n_neurons)),
        "final_v": (final_v, n),
        "final_i": (final_i, ns),
        "final_s": (final_s, n),
    }
    float32 = (alpha, beta, threshold, bias, v0, i0, s0, u, *checkpoints, *finals)
    check_tensors(expected, float32, x.device)

    block_n, num_warps = block_config(n_neurons)
    grid = (batch, triton.cdiv(n_neurons, block_n))
    check(grid[1] <= 65535, "too many neurons for one launch")
    args = (
        x,
        noise,
        alpha,
        beta,
        threshold,
        bias,
        v0,
        i0,
        s0,
        spikes,
        vmem,
        isyn,
        u,
        ckpt_v,
        ckpt_i,
        ckpt_s,
        final_v,
        final_i,
        final_s,
        n_steps,
        seq_start,
        seq_len,
        out_len,
        n_neurons,
        n_checkpoints,
        max(checkpoint_every, 1),
        float(max_spikes),
    )
    options = {
        "S": n_synapses,
        "S_PAD": padded_synapses(n_synapses),
        "BLOCK_N": block_n,
        "HAS_NOISE": noise is not None,
        "WRITE_SPIKES": spikes is not None,
        "RECORD_V": vmem is not None,
        "RECORD_I": isyn is not None,
        "SAVE_U": u is not None,
        "SAVE_CHECKPOINTS": n_checkpoints > 0,
        "WRITE_FINAL": final_v is not None,
        "NUM_STAGES": NUM_STAGES,
        "num_warps": num_warps,
        **COMPILE_OPTIONS,
    }
    return LaunchPlan(grid, args, options)


launch_lif_forward = launcher(lif_forward_kernel, lif_forward_arguments)
