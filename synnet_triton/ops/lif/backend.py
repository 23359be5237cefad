"""The contract every backend of the LIF operation implements.

A backend is a module with two functions, ``forward`` and ``backward``, that take raw tensors
already validated, broadcast and made contiguous by :mod:`synnet_triton.ops.lif.functional`. Shapes:

    x        (B, T, N*S)  input current per synapse; column k is neuron k // S, synapse k % S
    alpha    (N,)         membrane decay exp(-dt / tau_mem), float32
    beta     (N, S)       synaptic decay exp(-dt / tau_syn), float32
    threshold(N,)         float32, > 0
    bias     (N,)         float32
    noise    (B, T, N)    float32 membrane noise already scaled, or None
    w_rec    (N, N*S)     recurrent weights (Rockpool layout) or None
    v0       (B, N)       float32 initial membrane
    i0       (B, N, S)    float32 initial synaptic currents
    s0       (B, N)       float32 spike counts of the step before the first one

Forward semantics: docs/design.md §3. Backward: the reverse sweep of docs/design.md §4.

With ``save=False`` (no gradient will be asked for) ``saved`` is empty and the forward keeps
no per-step memory beyond its outputs.

``ForwardResult.saved`` is private to the backend that made it (only its own ``backward`` reads
it); for the memory budget it holds at most:
    checkpoint_every == 0: (u,)  u float32 pre-spike membrane, (T, B, N) time-major from the
        torch backend, (B, T, N) from the Triton kernels
    checkpoint_every == K: (ckpt_v, ckpt_i)  (B, ceil(T/K), N) and (B, ceil(T/K), N, S):
        the state (v, i) *before* steps 0, K, 2K, ... ; segments are recomputed from x.

In ``backward``, ``x`` is a stride-0 stand-in with only the right shape and dtype when no
recomputation needs it (checkpoint_every == 0 and neither β nor W_rec needs a gradient):
the op does not keep the input alive for nothing.

``backward`` returns a :class:`Gradients` whose entries are None where ``needs_grad`` says so
(order of ``needs_grad``: x, alpha, beta, threshold, bias, v0, i0, s0, w_rec). Parameter
gradients are reduced over the batch: alpha (N,), beta (N, S), threshold (N,), bias (N,).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from torch import Tensor

from synnet_triton.ops.lif.types import Surrogate

COMPILED_MAX_SYNAPSES = 4
"""The most synapses per neuron the compiled backends (Triton, numba) take: from 5 on torch
sums a neuron's currents in its own order (Rockpool's ``isyn.sum(2)``), which only the torch
reference calls; :func:`synnet_triton.ops.lif.op.resolve_backend` hands such layers to it."""


class LIFInputs(NamedTuple):
    """The op's tensors, checked and broadcast once by the functional entry
    (:mod:`synnet_triton.ops.lif.functional`) and passed as one bundle to the backends; the
    custom op's schema takes them flat, in this order."""

    x: Tensor  # (B, T, N·S) float32, float16 or bfloat16, contiguous
    alpha: Tensor  # (N,) float32
    beta: Tensor  # (N, S) float32
    threshold: Tensor  # (N,) float32, > 0
    bias: Tensor  # (N,) float32
    noise: Tensor | None  # (B, T, N) float32, contiguous
    w_rec: Tensor | None  # (N, N·S) float32
    v0: Tensor  # (B, N) float32
    i0: Tensor  # (B, N, S) float32
    s0: Tensor  # (B, N) float32


class OutputGrads(NamedTuple):
    """The gradients arriving at the op's outputs (None where nothing arrives)."""

    spikes: Tensor | None  # (B, T, N)
    vmem: Tensor | None  # (B, T, N), with record
    isyn: Tensor | None  # (B, T, N, S), with record
    final_vmem: Tensor | None  # (B, N)
    final_isyn: Tensor | None  # (B, N, S)
    final_spikes: Tensor | None  # (B, N)


class ForwardResult(NamedTuple):
    spikes: Tensor  # (B, T, N) in x.dtype
    vmem: Tensor | None  # (B, T, N) in x.dtype when record
    isyn: Tensor | None  # (B, T, N, S) in x.dtype when record
    final_vmem: Tensor  # (B, N) float32
    final_isyn: Tensor  # (B, N, S) float32
    final_spikes: Tensor  # (B, N) float32
    saved: tuple[Tensor, ...]


class Gradients(NamedTuple):
    x: Tensor | None
    alpha: Tensor | None
    beta: Tensor | None
    threshold: Tensor | None
    bias: Tensor | None
    v0: Tensor | None
    i0: Tensor | None
    s0: Tensor | None
    w_rec: Tensor | None


class NeedsGrad(NamedTuple):
    x: bool
    alpha: bool
    beta: bool
    threshold: bool
    bias: bool
    v0: bool
    i0: bool
    s0: bool
    w_rec: bool


class Backend(Protocol):
    def forward(
        self,
        inputs: LIFInputs,
        *,
        max_spikes: float,
        record: bool,
        checkpoint_every: int,
        save: bool = True,
    ) -> ForwardResult: ...

    def backward(
        self,
        saved: tuple[Tensor, ...],
        grads: OutputGrads,
        inputs: LIFInputs,
        *,
        surrogate: Surrogate,
        window: float,
        max_spikes: float,
        checkpoint_every: int,
        needs_grad: NeedsGrad,
    ) -> Gradients: ...
