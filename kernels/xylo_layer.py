r"""Xylo's integer dynamics for one layer of neurons: one launch for the whole sequence.

A layer is a set of neurons fed by K sources whose event counts for every step are known
before the launch (the input channels, and the spikes of earlier layers one step late), as in
a feedforward SynNet on Xylo. For every batch row b, neuron j (synapses s = 0, 1) and step t,
in int32 registers holding int16 values (xylosim.v2, docs/design.md §6):

.. math::

    i_s &\leftarrow \mathrm{sat}_{16}(i_s + c_{t,k}\, w_{k,s,j})
          \quad\text{for } k = 0 \dots K-1 \text{ in order} \\
    i_s &\leftarrow i_s - \delta(i_s, d_s), \qquad
          \delta(x, d) = x \gg d \text{, or } \operatorname{sign}(x) \text{ where that is } 0 \\
    \Delta v &= \mathrm{sat}_{16}(\mathrm{sat}_{16}(i_0 + i_1 - \delta^*(v, d_m)) + b) \\
    u &= \mathrm{sat}_{16}(v + \Delta v) \\
    n &= \min(\lfloor u / \theta \rfloor^+, \mathrm{cap}), \quad v = u - n\theta
          \qquad (\theta > 0)

c events of one source all carry the sign of its weight, so adding c·w once and saturating
equals c saturating additions. δ* is δ except that xylosim negates it in int16, so a decay of
−32768 (dash 0) acts as +32768. A neuron with θ ≤ 0 runs xylosim's loop instead: while
u ≥ θ and n < cap, u ← wrap16(u − θ), n += 1.

One program owns a batch row and ``BLOCK_N`` neurons and steps through time with the state in
registers; a source with no event in a step costs one scalar load and a branch. With ``CLIPS``
the kernel also writes, per step and synapse, whether saturation changed the delivered sum
(the plain sum is carried alongside), which hardware-exact training's backward reads.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .launch import LaunchPlan, check, launcher

BLOCK_N = 32
RUNTIME_INT_ARGS = ("n_steps", "n_sources", "n_neurons")


@triton.jit
def sat16(x):
    return tl.minimum(tl.maximum(x, -32768), 32767)


@triton.jit
def bitshift_decay(x, dash):
    """xylosim's decay step: ``x >> dash`` (arithmetic), or sign(x) where that is 0."""
    shifted = x >> dash
    sign = (x > 0).to(tl.int32) - (x < 0).to(tl.int32)
    return tl.where(shifted == 0, sign, shifted)


@triton.jit(do_not_specialize=RUNTIME_INT_ARGS)
def xylo_layer_kernel(
    drive_ptr,
    weights_ptr,
    dash_syn_ptr,
    dash_mem_ptr,
    bias_ptr,
    threshold_ptr,
    cap_ptr,
    isyn_ptr,
    vmem_ptr,
    spikes_ptr,
    record_ptr,
    clips_ptr,
    n_steps,
    n_sources,
    n_neurons,
    RECORD: tl.constexpr,
    CLIPS: tl.constexpr,
    NONPOSITIVE: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    row = tl.program_id(0)
    neurons = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    valid = neurons < n_neurons
    dash_0 = tl.load(dash_syn_ptr + neurons, mask=valid, other=0)
    dash_1 = tl.load(dash_syn_ptr + n_neurons + neurons, mask=valid, other=0)
    dash_m = tl.load(dash_mem_ptr + neurons, mask=valid, other=0)
    bias = tl.load(bias_ptr + neurons, mask=valid, other=0)
    threshold = tl.load(threshold_ptr + neurons, mask=valid, other=1)
    cap = tl.load(cap_ptr + neurons, mask=valid, other=0)
    positive = threshold > 0
    divisor = tl.where(positive, threshold, 1)

    state = row.to(tl.int64) * n_neurons
    i_0 = tl.load(isyn_ptr + 2 * state + neurons, mask=valid, other=0)
    i_1 = tl.load(isyn_ptr + 2 * state + n_neurons + neurons, mask=valid, other=0)
    v = tl.load(vmem_ptr + state + neurons, mask=valid, other=0)

    # 64-bit offsets advanced by one step each iteration: t · N in int32 wraps once a row
    # passes 2^31 elements (an hour at 1 ms with N ≥ 600), and the interpreter's loop index
    # is a plain int that cannot be cast
    drive_step = drive_ptr + row.to(tl.int64) * n_steps * n_sources
    out_step = row.to(tl.int64) * n_steps * n_neurons
    for _ in range(n_steps):
        plain_0 = i_0
        plain_1 = i_1
        for k in range(n_sources):
            count = tl.load(drive_step + k)
            if count != 0:
                w_0 = tl.load(weights_ptr + (2 * k) * n_neurons + neurons, mask=valid, other=0)
                w_1 = tl.load(weights_ptr + (2 * k + 1) * n_neurons + neurons, mask=valid,
                              other=0)
                i_0 = sat16(i_0 + count * w_0)
                i_1 = sat16(i_1 + count * w_1)
                if CLIPS:
                    plain_0 += count * w_0
                    plain_1 += count * w_1
        if CLIPS:
            clips_at = clips_ptr + 2 * out_step + neurons
            tl.store(clips_at, (i_0 != plain_0).to(tl.int8), mask=valid)
            tl.store(clips_at + n_neurons, (i_1 != plain_1).to(tl.int8), mask=valid)

        i_0 = i_0 - bitshift_decay(i_0, dash_0)
        i_1 = i_1 - bitshift_decay(i_1, dash_1)
        decay = bitshift_decay(v, dash_m)
        decay = tl.where(decay == -32768, 32768, decay)
        dv = sat16(sat16(i_0 + i_1 - decay) + bias)
        u = sat16(v + dv)
        spikes = tl.minimum(tl.where(u > 0, u // divisor, 0), cap)
        v = u - spikes * divisor
        if NONPOSITIVE:
            # xylosim's loop, where the membrane may wrap around int16
            loop_v = u
            loop_n = tl.zeros_like(u)
            for _ in range(31):
                active = (loop_v >= threshold) & (loop_n < cap)
                loop_v = tl.where(active, ((loop_v - threshold + 32768) & 0xFFFF) - 32768,
                                  loop_v)
                loop_n += active.to(tl.int32)
            spikes = tl.where(positive, spikes, loop_n)
            v = tl.where(positive, v, loop_v)

        at = out_step + neurons
        tl.store(spikes_ptr + at, spikes.to(tl.int16), mask=valid)
        if RECORD:
            tl.store(record_ptr + 3 * at, v.to(tl.int16), mask=valid)
            tl.store(record_ptr + 3 * at + 1, i_0.to(tl.int16), mask=valid)
            tl.store(record_ptr + 3 * at + 2, i_1.to(tl.int16), mask=valid)
        drive_step += n_sources
        out_step += n_neurons

    tl.store(isyn_ptr + 2 * state + neurons, i_0, mask=valid)
    tl.store(isyn_ptr + 2 * state + n_neurons + neurons, i_1, mask=valid)
    tl.store(vmem_ptr + state + neurons, v, mask=valid)


def xylo_layer_plan(
    drive: Tensor, weights: Tensor, dash_syn: Tensor, dash_mem: Tensor, bias: Tensor,
    threshold: Tensor, cap: Tensor, isyn: Tensor, vmem: Tensor, spikes: Tensor,
    record: Tensor | None = None, clips: Tensor | None = None, *, nonpositive: bool,
) -> LaunchPlan:
    """Check the tensors of one layer and plan the launch.

    drive:     (B, T, K) int32 event counts of the K sources, in xylosim's order (clipped)
    weights:   (K, 2, N) int32 effective weights ``wrap16(w << shift)`` onto synapse s of j
    dash_syn:  (2, N) int32; dash_mem, bias, threshold, cap (most spikes per step): (N,) int32
    isyn:      (B, 2, N) int32 and vmem (B, N) int32: the state before, overwritten with the
               state after the last step
    spikes:    (B, T, N) int16 output: spike counts of every step
    record:    (B, T, N, 3) int16 output (vmem, i_0, i_1 after each step), or None
    clips:     (B, T, 2, N) int8 output (1 where saturation changed a delivered sum), or None
    nonpositive: whether some neuron has θ ≤ 0 (compiles xylosim's wrapping loop in); the
               caller knows it from the spec, the plan reads no tensor's values
    """
    batch, steps, sources = drive.shape
    n_neurons = threshold.shape[0]
    expected = {
        "drive": (drive, torch.int32, (batch, steps, sources)),
        "weights": (weights, torch.int32, (sources, 2, n_neurons)),
        "dash_syn": (dash_syn, torch.int32, (2, n_neurons)),
        "dash_mem": (dash_mem, torch.int32, (n_neurons,)),
        "bias": (bias, torch.int32, (n_neurons,)),
        "threshold": (threshold, torch.int32, (n_neurons,)),
        "cap": (cap, torch.int32, (n_neurons,)),
        "isyn": (isyn, torch.int32, (batch, 2, n_neurons)),
        "vmem": (vmem, torch.int32, (batch, n_neurons)),
        "spikes": (spikes, torch.int16, (batch, steps, n_neurons)),
    }
    if record is not None:
        expected["record"] = (record, torch.int16, (batch, steps, n_neurons, 3))
    if clips is not None:
        expected["clips"] = (clips, torch.int8, (batch, steps, 2, n_neurons))
    for name, (tensor, dtype, shape) in expected.items():
        check(tensor.dtype == dtype, f"{name} must be {dtype}, got {tensor.dtype}")
        check(tuple(tensor.shape) == shape, f"{name} must have shape {shape}, got "
              f"{tuple(tensor.shape)}")
        check(tensor.is_contiguous(), f"{name} must be contiguous")
        check(tensor.device == drive.device, f"{name} is on {tensor.device}, drive on "
              f"{drive.device}")
    check(n_neurons >= 1, "the layer must have at least one neuron")
    grid = (batch, triton.cdiv(n_neurons, BLOCK_N))
    args = (drive, weights, dash_syn, dash_mem, bias, threshold, cap, isyn, vmem, spikes,
            record, clips, steps, sources, n_neurons)
    options = {"RECORD": record is not None, "CLIPS": clips is not None,
               "NONPOSITIVE": nonpositive, "BLOCK_N": BLOCK_N, "num_warps": 1}
    return LaunchPlan(grid, args, options)

xylo_layer_forward = launcher(xylo_layer_kernel, xylo_layer_plan)
