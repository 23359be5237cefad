"""The LIF operation as ``torch.library`` custom ops, their autograd, and backend dispatch.

``synnet_triton::lif_forward`` and ``synnet_triton::lif_backward`` take the raw tensors of the
backend contract (:mod:`synnet_triton.ops.lif.backend`) and run the backend named by
``backend`` (``"torch"``, ``"triton"`` or ``"numba"``, see :func:`resolve_backend`).
Registering them (custom op + fake + autograd) lets ``torch.compile(fullgraph=True)`` trace
through the op. Argument checking, broadcasting and ``lengths`` live in
:mod:`synnet_triton.ops.lif.functional`.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from types import FrameType

import torch
from torch import Tensor

from synnet_triton.arrays import numba_available
from synnet_triton.ops import dispatch
from synnet_triton.ops.lif import torch_backend
from synnet_triton.ops.lif.backend import (
    COMPILED_MAX_SYNAPSES,
    LIFInputs,
    NeedsGrad,
    OutputGrads,
)
from synnet_triton.ops.lif.types import Surrogate

# the op's backends: the package's, and the compiled CPU loops of the [cpu] extra
LIF_BACKENDS = (*dispatch.BACKENDS, "numba")
# what this process has already been warned of (each fallback is said once)
_warned: set[str] = set()


def _stacklevel_of_caller() -> int:
    """``warnings.warn``'s stacklevel of the first frame outside this package: a warning
    points at the user's line however deep in the package it is raised."""
    package = str(Path(__file__).parents[2]) + os.sep  # as imported, like co_filename
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def resolve_backend(backend: str, device: torch.device, recurrent: bool,
                    n_synapses: int = 1) -> str:
    """The concrete backend (``"torch"``, ``"triton"`` or ``"numba"``) for a call.

    The package's rule (:func:`synnet_triton.ops.dispatch.resolve_backend`) with the LIF op's
    CPU loop: ``"auto"`` on CPU runs the compiled loops of the numba backend when numba is
    installed (the ``[cpu]`` extra) and says once, in one warning, that it falls back to the
    torch reference when it is not. ``"numba"`` asks for them explicitly. Neither compiled
    backend has recurrence, nor more than
    :data:`~synnet_triton.ops.lif.backend.COMPILED_MAX_SYNAPSES` synapses per neuron
    (torch's own summation order): such calls run the torch reference, with a warning the
    first time when a compiled backend was named or picked on CUDA.

    Raises:
        ValueError: ``backend`` is not one of :data:`LIF_BACKENDS`.
        RuntimeError: a backend that cannot run here (``"numba"`` without numba or off the
            CPU; ``"triton"`` as in the package's rule).
    """
    if backend not in LIF_BACKENDS:
        raise ValueError(f"backend must be one of {LIF_BACKENDS}, got {backend!r}")
    compilable = not recurrent and n_synapses <= COMPILED_MAX_SYNAPSES
    if backend == "numba":
        if not numba_available():
            raise RuntimeError("backend='numba' needs numba: pip install 'synnet-triton[cpu]'")
        if device.type != "cpu":
            raise RuntimeError(f"backend='numba' runs on the CPU; the tensors are on {device}")
    elif backend == "auto" and device.type == "cpu":
        if not compilable:
            return "torch"
        if numba_available():
            return "numba"
        _warn_once(
            "numba", "numba is not installed: the LIF op runs on the torch reference on the CPU "
            "(pip install 'synnet-triton[cpu]' for the compiled loop, several times faster)",
        )
        return "torch"
    else:
        backend = dispatch.resolve_backend(backend, device)
    if backend in ("triton", "numba") and recurrent:
        _warn_once(
            "recurrent", f"the {backend} LIF backend does not fuse recurrent weights (w_rec); "
            "this call and later recurrent ones run on the torch reference backend",
        )
        backend = "torch"
    elif backend in ("triton", "numba") and not compilable:
        _warn_once(
            "synapses", f"the {backend} LIF backend sums at most {COMPILED_MAX_SYNAPSES} "
            f"synapses per neuron in Rockpool's order (this layer has {n_synapses}: torch's "
            "own order); such calls run on the torch reference backend",
        )
        backend = "torch"
    return backend


def _warn_once(topic: str, message: str) -> None:
    if topic not in _warned:
        warnings.warn(message, stacklevel=_stacklevel_of_caller())
        _warned.add(topic)


def _backend_module(name: str):  # type: ignore[no-untyped-def]
    if name == "triton":
        from synnet_triton.ops.lif import triton_backend

        return triton_backend
    if name == "numba":
        from synnet_triton.ops.lif import numba_backend

        return numba_backend
    return torch_backend


@torch.library.custom_op("synnet_triton::lif_forward", mutates_args=())
def lif_forward_op(
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
    record: bool,
    checkpoint_every: int,
    backend: str,
    surrogate: str,
    window: float,
    save: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, list[Tensor]]:
    """Forward of the LIF op; ``surrogate`` and ``window`` are kept for the backward only;
    ``save=False`` (no gradient needed) keeps nothing for it."""
    result = _backend_module(backend).forward(
        LIFInputs(x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0),
        max_spikes=max_spikes, record=record, checkpoint_every=checkpoint_every, save=save,
    )
    empty = x.new_empty(0)
    return (
        result.spikes,
        empty if result.vmem is None else result.vmem,
        empty.clone() if result.isyn is None else result.isyn,
        result.final_vmem,
        result.final_isyn,
        result.final_spikes,
        list(result.saved),
    )


@lif_forward_op.register_fake
def _lif_forward_fake(
    x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0, max_spikes, record,
    checkpoint_every, backend, surrogate, window, save,
):  # type: ignore[no-untyped-def]
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    f32 = torch.float32
    if not save:
        saved = []
    elif checkpoint_every > 0:
        n_ckpt = -(-steps // checkpoint_every)
        saved = [
            x.new_empty((batch, n_ckpt, n_neurons), dtype=f32),
            x.new_empty((batch, n_ckpt, n_neurons, n_synapses), dtype=f32),
            x.new_empty((batch, n_ckpt, n_neurons), dtype=f32),
        ]
    else:
        # the torch backend keeps u time-major, the compiled ones batch-major (backend.py)
        u_shape = (steps, batch, n_neurons) if backend == "torch" else (batch, steps, n_neurons)
        saved = [x.new_empty(u_shape, dtype=f32)]
    return (
        x.new_empty((batch, steps, n_neurons)),
        x.new_empty((batch, steps, n_neurons) if record else (0,)),
        x.new_empty((batch, steps, n_neurons, n_synapses) if record else (0,)),
        x.new_empty((batch, n_neurons), dtype=f32),
        x.new_empty((batch, n_neurons, n_synapses), dtype=f32),
        x.new_empty((batch, n_neurons), dtype=f32),
        saved,
    )


@torch.library.custom_op("synnet_triton::lif_backward", mutates_args=())
def lif_backward_op(
    saved: list[Tensor],
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
    surrogate: str,
    window: float,
    max_spikes: float,
    checkpoint_every: int,
    needs_grad: list[bool],
    backend: str,
) -> list[Tensor]:
    grads = _backend_module(backend).backward(
        tuple(saved),
        OutputGrads(grad_spikes, grad_vmem, grad_isyn, grad_final_vmem, grad_final_isyn,
                    grad_final_spikes),
        LIFInputs(x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0),
        surrogate=Surrogate(surrogate), window=window, max_spikes=max_spikes,
        checkpoint_every=checkpoint_every, needs_grad=NeedsGrad(*needs_grad),
    )
    return [x.new_empty(0) if g is None else g for g in grads]


@lif_backward_op.register_fake
def _lif_backward_fake(
    saved, grad_spikes, grad_vmem, grad_isyn, grad_final_vmem, grad_final_isyn,
    grad_final_spikes, x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0, surrogate,
    window, max_spikes, checkpoint_every, needs_grad, backend,
):  # type: ignore[no-untyped-def]
    like = (x, alpha, beta, threshold, bias, v0, i0, s0, w_rec)
    return [
        torch.empty_like(ref) if need and ref is not None else x.new_empty(0)
        for need, ref in zip(needs_grad, like)
    ]


def _setup_context(ctx, inputs, output) -> None:  # type: ignore[no-untyped-def]
    (x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0,
     max_spikes, record, checkpoint_every, backend, surrogate, window, save) = inputs
    saved = list(output[6])
    needs = [bool(t is not None and t.requires_grad)
             for t in (x, alpha, beta, threshold, bias, v0, i0, s0, w_rec)]
    # x is only read back when the synaptic currents must be recomputed
    keep_x = checkpoint_every > 0 or needs[2] or needs[8]
    ctx.n_saved = len(saved)
    ctx.has_noise = noise is not None
    ctx.has_w_rec = w_rec is not None
    ctx.keep_x = keep_x
    ctx.x_meta = (x.shape, x.dtype)
    tensors = [*saved, alpha, beta, threshold, bias, v0, i0, s0]
    if keep_x:
        tensors.append(x)
    if noise is not None:
        tensors.append(noise)
    if w_rec is not None:
        tensors.append(w_rec)
    ctx.save_for_backward(*tensors)
    ctx.needs = needs
    ctx.max_spikes = max_spikes
    ctx.checkpoint_every = checkpoint_every
    ctx.backend = backend
    ctx.surrogate = surrogate
    ctx.window = window


def _backward(ctx, grad_spikes, grad_vmem, grad_isyn, g_vT, g_iT, g_sT, _grad_saved):  # type: ignore[no-untyped-def]
    tensors = list(ctx.saved_tensors)
    saved = tensors[: ctx.n_saved]
    alpha, beta, threshold, bias, v0, i0, s0 = tensors[ctx.n_saved: ctx.n_saved + 7]
    rest = tensors[ctx.n_saved + 7:]
    x = rest.pop(0) if ctx.keep_x else None
    noise = rest.pop(0) if ctx.has_noise else None
    w_rec = rest.pop(0) if ctx.has_w_rec else None
    if x is None:
        # the backward reads only the shape and dtype of x here: a stride-0 stand-in, no memory
        shape, dtype = ctx.x_meta
        x = v0.new_zeros((), dtype=dtype).expand(shape)
    grads = lif_backward_op(
        saved, grad_spikes, _nonempty(grad_vmem), _nonempty(grad_isyn), g_vT, g_iT, g_sT,
        x, alpha, beta, threshold, bias, noise, w_rec, v0, i0, s0,
        ctx.surrogate, ctx.window, ctx.max_spikes, ctx.checkpoint_every, ctx.needs,
        ctx.backend,
    )
    out = [g if need else None for g, need in zip(grads, ctx.needs)]
    gx, galpha, gbeta, gthreshold, gbias, gv0, gi0, gs0, gw_rec = out
    return (gx, galpha, gbeta, gthreshold, gbias, None, gw_rec, gv0, gi0, gs0,
            None, None, None, None, None, None, None)


def _nonempty(t: Tensor | None) -> Tensor | None:
    return None if t is None or t.numel() == 0 else t


lif_forward_op.register_autograd(_backward, setup_context=_setup_context)
