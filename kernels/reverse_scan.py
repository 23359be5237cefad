r"""A linear recurrence run backwards in time, in one launch:

.. math::

    y_{L-1} = \text{last}, \qquad y_t = c_t \, y_{t+1} + d_t \quad (t = L-2, \dots, 0)

over every column of (L, M) float32 arrays, one multiply and one add per step, each rounded
(the launch disables FMA contraction), so the result is bitwise the CPU loop's
(:func:`synnet_triton.ops.scan.torch_backend.reverse_scan_loop`). The backward of hardware-exact
training runs its sweeps through it on CUDA, where a loop of per-step torch operations would
be one launch per step.

One program owns ``BLOCK`` consecutive columns and walks the steps with y in registers.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .launch import LaunchPlan, check, launcher

BLOCK = 128
RUNTIME_INT_ARGS = ("n_steps", "width")


@triton.jit(do_not_specialize=RUNTIME_INT_ARGS)
def reverse_scan_kernel(coef_ptr, drive_ptr, last_ptr, out_ptr, n_steps, width,
                        BLOCK: tl.constexpr):
    columns = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    valid = columns < width
    y = tl.load(last_ptr + columns, mask=valid, other=0.0)
    at = (n_steps - 1).to(tl.int64) * width + columns
    tl.store(out_ptr + at, y, mask=valid)
    for _ in range(1, n_steps):
        at -= width
        coef = tl.load(coef_ptr + at, mask=valid, other=0.0)
        drive = tl.load(drive_ptr + at, mask=valid, other=0.0)
        y = y * coef + drive
        tl.store(out_ptr + at, y, mask=valid)


def reverse_scan_plan(coef: Tensor, drive: Tensor, last: Tensor, out: Tensor) -> LaunchPlan:
    """Check the arrays and plan the launch.

    coef, drive, out: (L, ...) float32, contiguous, of one shape; last: (...) float32,
    contiguous (y at the last step); out receives y
    """
    for name, tensor in (("coef", coef), ("drive", drive), ("last", last), ("out", out)):
        check(tensor.dtype == torch.float32, f"{name} must be float32, got {tensor.dtype}")
        check(tensor.is_contiguous(), f"{name} must be contiguous")
        check(tensor.device == out.device, f"{name} is on {tensor.device}, out on {out.device}")
    for name, tensor in (("coef", coef), ("drive", drive)):
        check(tensor.shape == out.shape, f"{name} must have out's shape {tuple(out.shape)}, "
              f"got {tuple(tensor.shape)}")
    check(out.dim() >= 1 and out.shape[0] >= 1, "out must hold at least one step")
    check(last.shape == out.shape[1:], f"last must have shape {tuple(out.shape[1:])}, got "
          f"{tuple(last.shape)}")
    width = last.numel()
    grid = (max(1, triton.cdiv(width, BLOCK)), 1)
    return LaunchPlan(grid, (coef, drive, last, out, out.shape[0], width),
                      {"BLOCK": BLOCK, "num_warps": 4, "enable_fp_fusion": False})


reverse_scan = launcher(reverse_scan_kernel, reverse_scan_plan)
