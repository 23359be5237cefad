"""The numba backend of the LIF operation: the CPU path when the ``[cpu]`` extra is installed.

Implements the contract of :mod:`synnet_triton.ops.lif.backend` with the compiled loops of
:mod:`synnet_triton.ops.lif.numba_loops`: one forward loop over the whole sequence, bitwise
the torch reference, and one fused reverse sweep for the backward. The reference spends a
step's time in per-operation overhead (a dozen numpy calls per step); here a step of a neuron
is a few instructions.

Saved for the backward: u (B, T, N) float32, batch-major. With ``checkpoint_every=K``, the
state (v, i, s) before steps 0, K, 2K, ...; the backward recomputes each segment's u from it,
from the last segment to the first, and continues the sweep's carries across segments, so
both modes give the same gradients.

Recurrent weights are not compiled: the reference takes s·W_rec from torch's BLAS, whose
summation order a loop cannot reproduce bit for bit; nor are more than 4 synapses per neuron,
which torch sums in its own order. :func:`synnet_triton.ops.lif.op.resolve_backend` runs such
layers on the torch backend.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from synnet_triton.arrays import torch_threads
from synnet_triton.ops.lif.backend import (
    COMPILED_MAX_SYNAPSES,
    ForwardResult,
    Gradients,
    LIFInputs,
    NeedsGrad,
    OutputGrads,
)
from synnet_triton.ops.lif.numba_loops import (
    forward_steps,
    forward_steps_single,
    reverse_sweep,
    reverse_sweep_single,
)
from synnet_triton.ops.lif.types import Surrogate


def _array(t: Tensor) -> np.ndarray:
    return t.detach().numpy()


def _absent(batch: int, *inner: int) -> np.ndarray:
    """A stand-in with an empty time axis: the loops skip what it would hold."""
    return np.empty((batch, 0, *inner), np.float32)


def _float32(t: Tensor | None, batch: int, *inner: int) -> np.ndarray:
    """t as a contiguous float32 array, or the stand-in for an absent one."""
    if t is None:
        return _absent(batch, *inner)
    return _array(t.detach().float().contiguous())


def _compilable(w_rec: Tensor | None, n_synapses: int) -> None:
    """NotImplementedError for what :func:`synnet_triton.ops.lif.op.resolve_backend` hands
    to the torch reference instead: recurrence, more than 4 synapses per neuron."""
    if w_rec is not None:
        raise NotImplementedError(
            "the numba LIF loops do not compile recurrent weights (w_rec); "
            "use the torch backend for recurrent layers"
        )
    if n_synapses > COMPILED_MAX_SYNAPSES:
        raise NotImplementedError(
            f"the numba LIF loops sum at most {COMPILED_MAX_SYNAPSES} synapses per neuron in "
            f"torch's order (got {n_synapses}); use the torch backend"
        )


def _flat(a: np.ndarray | None, batch: int, n_neurons: int, *, zeros: bool = False
          ) -> tuple[np.ndarray, tuple[int, int]]:
    """A (B, L, N[, 1]) stream as a flat array and its (batch, time) strides; an absent one
    (None or L = 0) as one (B·N,) row, zeros or scratch, with time stride 0."""
    if a is None or a.shape[1] == 0:
        return (np.zeros if zeros else np.empty)(batch * n_neurons, np.float32), (n_neurons, 0)
    return a.reshape(-1), (a.shape[1] * n_neurons, n_neurons)


def _run_forward(inputs: LIFInputs, max_spikes: float, state: tuple[Tensor, Tensor, Tensor],
                 start: int, stop: int, *, u_out: np.ndarray | None = None,
                 spikes: np.ndarray | None = None, vmem: np.ndarray | None = None,
                 isyn: np.ndarray | None = None,
                 checkpoints: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                 checkpoint_every: int = 0) -> None:
    """Steps start … stop−1 from ``state`` (updated in place), writing what is given: u_out
    (B, L, N) from step ``start`` on, spikes, vmem (B, T, N), isyn (B, T, N, S), the
    checkpoints (B, ⌈T/K⌉, N), (B, ⌈T/K⌉, N, S), (B, ⌈T/K⌉, N)."""
    x, alpha, beta, threshold, bias, noise, _, _, _, _ = inputs
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    x_a = _array(x.float().contiguous()).reshape(batch, steps, n_neurons, n_synapses)
    noise_a = None if noise is None else _array(noise)
    ckpt = checkpoints or (None, None, None)
    parameters = (_array(alpha), _array(beta), _array(threshold), _array(bias))
    if n_synapses == 1:
        flat = [_flat(a, batch, n_neurons) for a in (x_a, noise_a, u_out, spikes, vmem, isyn,
                                                     ckpt[0], ckpt[1], ckpt[2])]
        arrays = [a for a, _ in flat]
        with torch_threads():
            forward_steps_single(
                arrays[0], parameters[0], parameters[1].reshape(-1), *parameters[2:],
                arrays[1] if noise is not None else arrays[1][:0], np.float32(max_spikes),
                *(_array(t).reshape(-1) for t in state), start, stop, arrays[2], start,
                *arrays[3:], checkpoint_every, np.array([st for _, st in flat[:7]], np.int64),
            )
        return

    def stand_in(a: np.ndarray | None, *inner: int) -> np.ndarray:
        return _absent(batch, *inner) if a is None else a

    n, s = n_neurons, n_synapses
    with torch_threads():
        forward_steps(
            x_a, *parameters, stand_in(noise_a, n), np.float32(max_spikes),
            *(_array(t) for t in state), start, stop, stand_in(u_out, n), start,
            stand_in(spikes, n), stand_in(vmem, n), stand_in(isyn, n, s),
            stand_in(ckpt[0], n), stand_in(ckpt[1], n, s), stand_in(ckpt[2], n),
            checkpoint_every,
        )


def forward(
    inputs: LIFInputs,
    *,
    max_spikes: float,
    record: bool,
    checkpoint_every: int,
    save: bool = True,
) -> ForwardResult:
    """Run the whole sequence; see :mod:`synnet_triton.ops.lif.backend` for shapes."""
    x, _, beta, _, _, _, w_rec, v0, i0, s0 = inputs
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    _compilable(w_rec, n_synapses)
    f32 = torch.float32
    spikes = torch.empty((batch, steps, n_neurons), dtype=f32)
    vmem = torch.empty((batch, steps, n_neurons), dtype=f32) if record else None
    isyn = torch.empty((batch, steps, n_neurons, n_synapses), dtype=f32) if record else None
    state = (v0.clone(), i0.clone(), s0.clone())
    saved: tuple[Tensor, ...] = ()
    u = checkpoints = None
    if save and checkpoint_every > 0:
        n_ckpt = -(-steps // checkpoint_every)
        saved = (torch.empty((batch, n_ckpt, n_neurons), dtype=f32),
                 torch.empty((batch, n_ckpt, n_neurons, n_synapses), dtype=f32),
                 torch.empty((batch, n_ckpt, n_neurons), dtype=f32))
        checkpoints = (_array(saved[0]), _array(saved[1]), _array(saved[2]))
    elif save:
        saved = (torch.empty((batch, steps, n_neurons), dtype=f32),)
        u = _array(saved[0])
    _run_forward(
        inputs, max_spikes, state, 0, steps, u_out=u, spikes=_array(spikes),
        vmem=None if vmem is None else _array(vmem), isyn=None if isyn is None else _array(isyn),
        checkpoints=checkpoints, checkpoint_every=checkpoint_every if checkpoints else 0,
    )
    out_dtype = x.dtype
    return ForwardResult(
        spikes=spikes.to(out_dtype),
        vmem=None if vmem is None else vmem.to(out_dtype),
        isyn=None if isyn is None else isyn.to(out_dtype),
        final_vmem=state[0],
        final_isyn=state[1],
        final_spikes=state[2],
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
    """The fused reverse sweep of docs/design.md §4; see :mod:`synnet_triton.ops.lif.backend`
    for shapes."""
    grad_spikes, grad_vmem, grad_isyn, grad_final_vmem, grad_final_isyn, grad_final_spikes = grads
    x, alpha, beta, threshold, _, _, w_rec, v0, i0, s0 = inputs
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    _compilable(w_rec, n_synapses)
    f32, f64 = torch.float32, torch.float64

    def carry(grad: Tensor | None, like: Tensor) -> Tensor:
        return torch.zeros_like(like) if grad is None else grad.float().clone()

    carry_v, carry_i = carry(grad_final_vmem, v0), carry(grad_final_isyn, i0)
    carry_s, carry_r = carry(grad_final_spikes, s0), torch.zeros_like(i0)
    g_x = torch.empty((batch, steps, n_neurons, n_synapses), dtype=f32) \
        if needs_grad.x else None
    # (α, β, θ, b) per (batch, neuron, synapse), one buffer
    packed = torch.zeros((4, batch, n_neurons, n_synapses), dtype=f64)
    partials = (packed[0, ..., 0], packed[1], packed[2, ..., 0], packed[3, ..., 0])
    packed_partials = _array(packed).reshape(-1)
    chunk_sums = np.zeros((4, batch * n_neurons), np.float32)
    counts = np.empty(batch * n_neurons, np.float32)
    x_beta = (_array(x.float().contiguous()).reshape(batch, steps, n_neurons, n_synapses)
              if needs_grad.beta else _absent(batch, n_neurons, n_synapses))
    streams = (_float32(grad_spikes, batch, n_neurons), _float32(grad_vmem, batch, n_neurons),
               _float32(None if grad_isyn is None else grad_isyn.reshape(
                   batch, steps, n_neurons, n_synapses), batch, n_neurons, n_synapses))

    scalars = (_array(alpha), _array(beta), _array(threshold), np.float32(window),
               np.float32(max_spikes), surrogate is Surrogate.PERIODIC_EXPONENTIAL)
    carries = [_array(t) for t in (carry_v, carry_i, carry_s, carry_r)]
    g_x_a = None if g_x is None else _array(g_x)

    def sweep(u: np.ndarray, u_t0: int, start: int, stop: int, v_before: Tensor) -> None:
        """Steps stop−1 … start, u (B, L, N) holding step t at t − u_t0."""
        v_start = _array(v_before.contiguous())
        if n_synapses > 1:
            with torch_threads():
                reverse_sweep(
                    u, u_t0, start, stop, v_start, x_beta, *scalars, *streams, *carries,
                    _absent(batch, n_neurons, n_synapses) if g_x_a is None else g_x_a,
                    *(_array(p) for p in partials),
                )
            return
        flat = [_flat(u, batch, n_neurons), _flat(x_beta, batch, n_neurons, zeros=True),
                *(_flat(a, batch, n_neurons, zeros=True) for a in streams),
                _flat(g_x_a, batch, n_neurons)]
        u_f, x_f, gs_f, gv_f, gi_f, gx_f = (a for a, _ in flat)
        with torch_threads():
            reverse_sweep_single(
                u_f, u_t0, start, stop, v_start.reshape(-1),
                x_f if needs_grad.beta else x_f[:0], scalars[0], scalars[1].reshape(-1),
                *scalars[2:], gs_f, gv_f, gi_f, *(c.reshape(-1) for c in carries), gx_f,
                packed_partials, *chunk_sums, counts, np.array([st for _, st in flat], np.int64),
            )

    if checkpoint_every > 0:
        ckpt_v, ckpt_i, ckpt_s = saved
        buffer = np.empty((batch, min(checkpoint_every, steps), n_neurons), np.float32)
        for k in reversed(range(ckpt_v.shape[1])):
            start = k * checkpoint_every
            stop = min(start + checkpoint_every, steps)
            state = (ckpt_v[:, k].clone(), ckpt_i[:, k].clone(), ckpt_s[:, k].clone())
            _run_forward(inputs, max_spikes, state, start, stop, u_out=buffer)
            sweep(buffer, start, start, stop, ckpt_v[:, k])
    elif steps:
        (u,) = saved
        sweep(_array(u), 0, 0, steps, v0)

    part_alpha, part_beta, part_threshold, part_bias = partials
    if needs_grad.beta:
        part_beta += (i0.double() * carry_r.double())
    return Gradients(
        x=None if g_x is None else g_x.view(x.shape).to(x.dtype),
        alpha=part_alpha.sum(0).float() if needs_grad.alpha else None,
        beta=part_beta.sum(0).float() if needs_grad.beta else None,
        threshold=part_threshold.sum(0).float() if needs_grad.threshold else None,
        bias=part_bias.sum(0).float() if needs_grad.bias else None,
        v0=carry_v if needs_grad.v0 else None,
        i0=carry_i if needs_grad.i0 else None,
        s0=torch.zeros_like(s0) if needs_grad.s0 else None,
        w_rec=None,
    )
