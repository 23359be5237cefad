r"""A linear recurrence run backwards in time:

.. math::

    y_{L-1} = \text{last}, \qquad y_t = c_t \, y_{t+1} + d_t \quad (t = L-2, \dots, 0)

independently for every element of the trailing dimensions, in float32, one multiply and one
add per step, each rounded on its own (no fused multiply-add): the torch backend (numpy's loop
on the CPU) and the Triton kernel (one launch, ``synnet_triton.kernels.reverse_scan``) give the
same bits. The backward sweeps of the LIF op's torch reference and of hardware-exact training
run on it (docs/design.md §4).
"""

from __future__ import annotations

import torch
from torch import Tensor

from synnet_triton.ops.dispatch import resolve_backend
from synnet_triton.ops.scan.torch_backend import reverse_scan_loop


def reverse_scan(coef: Tensor, drive: Tensor, last: Tensor, *, out: Tensor | None = None,
                 backend: str = "auto") -> Tensor:
    """y_t = coef_t · y_{t+1} + drive_t over axis 0, from y_{L−1} = ``last`` back.

    Args:
        coef: (L, ...) per step, or a tensor with fewer dimensions that broadcasts against one
            step (...): the same coefficients at every step. float32.
        drive: (L, ...) float32, or broadcasting against ``out`` (the torch backend).
        last: (...) y at the last step, broadcasting against one step. float32.
        out: (L, ...) float32, where y is written (and returned); a new tensor when None.
        backend: ``"auto"``, ``"torch"`` or ``"triton"`` (:mod:`synnet_triton.ops.dispatch`).

    Returns:
        y, (L, ...) float32: ``out`` when given.

    Raises:
        ValueError: wrong dtypes, shapes that do not fit, tensors on different devices, or no
            step at all.
    """
    if out is None:
        out = torch.empty(drive.shape, dtype=torch.float32, device=drive.device)
    for name, tensor in (("coef", coef), ("drive", drive), ("last", last), ("out", out)):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dtype != torch.float32:
            raise ValueError(f"{name} must be float32, got {tensor.dtype}")
        if tensor.device != out.device:
            raise ValueError(f"{name} is on {tensor.device} but out is on {out.device}")
    if out.dim() < 1 or out.shape[0] < 1:
        raise ValueError(f"out must hold at least one step, got shape {tuple(out.shape)}")
    varying = coef.dim() == out.dim()
    step_shape = out.shape[1:]
    for name, tensor, shape in (("coef", coef[0] if varying else coef, step_shape),
                                ("drive", drive, out.shape), ("last", last, step_shape)):
        if not _broadcasts(tensor.shape, shape):
            raise ValueError(f"{name} of shape {tuple(tensor.shape)} does not broadcast to "
                             f"{tuple(shape)} (out is {tuple(out.shape)})")
    if varying and coef.shape[0] != out.shape[0]:
        raise ValueError(f"coef has {coef.shape[0]} steps but out has {out.shape[0]}")
    return run_reverse_scan(coef, drive, last, out, resolve_backend(backend, out.device))


def run_reverse_scan(coef: Tensor, drive: Tensor, last: Tensor, out: Tensor,
                     backend: str) -> Tensor:
    """:func:`reverse_scan` on the resolved ``backend`` (``"torch"`` or ``"triton"``) without
    its checks, for callers that checked their tensors and resolved the backend once (the
    hardware-exact backward calls it per level and time segment, a few hundred times per
    step, where the checks would cost more than a small scan)."""
    if backend == "triton":
        from synnet_triton.kernels.reverse_scan import reverse_scan as triton_reverse_scan

        triton_reverse_scan(coef.expand(out.shape).contiguous(),
                            drive.expand(out.shape).contiguous(),
                            last.expand(out.shape[1:]).contiguous(), out)
    else:
        reverse_scan_loop(coef, drive, last, out)
    return out


def _broadcasts(shape: torch.Size, target: torch.Size) -> bool:
    """Whether a tensor of ``shape`` broadcasts to ``target`` without growing it."""
    try:
        return torch.broadcast_shapes(shape, target) == target
    except RuntimeError:
        return False
