"""Plumbing shared by the launchers: a validated launch plan and the function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, ParamSpec

import torch
import triton
from torch import Tensor

P = ParamSpec("P")


class LaunchPlan(NamedTuple):
    """Everything one kernel launch needs, computed (and validated) before launching.

    grid:    program grid, (batch rows, neuron blocks)
    args:    positional kernel arguments (tensors, None for unused pointers, runtime scalars)
    options: constexpr arguments and compile options (num_warps, enable_fp_fusion)
    """

    grid: tuple[int, int]
    args: tuple[Any, ...]
    options: dict[str, Any]


def reconfigured(plan: LaunchPlan, n_neurons: int, block_n: int, num_stages: int) -> LaunchPlan:
    """``plan`` with another block of neurons per program and pipelining depth of its time loop.

    One neuron per thread, so ``num_warps = block_n / 32``. Neurons are independent and the
    pipeliner only reorders loads, so the results are bitwise those of ``plan``: only the
    speed differs (``benchmarks/kernel_configs.py`` times the alternatives on a GPU).
    """
    check(block_n >= 32 and block_n & (block_n - 1) == 0,
          f"block_n must be a power of 2 >= 32, got {block_n}")
    check(num_stages >= 1, f"num_stages must be >= 1, got {num_stages}")
    check(n_neurons >= 1, f"n_neurons must be >= 1, got {n_neurons}")
    options = {**plan.options, "BLOCK_N": block_n, "NUM_STAGES": num_stages,
               "num_warps": block_n // 32}
    return LaunchPlan((plan.grid[0], triton.cdiv(n_neurons, block_n)), plan.args, options)


def check(condition: bool, message: str) -> None:
    """Raise ValueError(message) unless condition holds: validation before any launch.

    Launch plans check what they read off tensors' metadata (shapes, dtypes, contiguity,
    devices), never their values: values are checked once, at the op's functional entry
    (θ > 0 there), and reading one would stall the stream."""
    if not condition:
        raise ValueError(message)


def launcher(kernel: Any, plan: Callable[P, LaunchPlan]) -> Callable[P, None]:
    """A function with ``plan``'s signature that validates, then launches ``kernel`` once."""

    def launch(*args: P.args, **kwargs: P.kwargs) -> None:
        grid, kernel_args, options = plan(*args, **kwargs)
        kernel[grid](*kernel_args, **options)

    launch.__doc__ = f"Launch ``{kernel.__name__}``; arguments as for ``{plan.__name__}``."
    return launch


COMPILE_OPTIONS = {
    # Bitwise agreement with torch needs unfused multiply and add (docs/design.md §3) ...
    "enable_fp_fusion": False,
    # ... and no flush of denormals to zero in libdevice calls (floor, exp): torch keeps them.
    "enable_reflect_ftz": False,
}
"""Compile options of every launch of these kernels."""


def layer_shape(x: Tensor, alpha: Tensor, beta: Tensor) -> tuple[int, int, int, int]:
    """(B, T, N, S) of x (B, T, N*S), alpha (N,) and beta (N, S), shapes checked."""
    check(x.dim() == 3, f"x must be (B, T, N*S), got shape {tuple(x.shape)}")
    check(alpha.dim() == 1, f"alpha must be (N,), got shape {tuple(alpha.shape)}")
    check(beta.dim() == 2 and beta.shape[0] == alpha.shape[0], "beta must be (N, S)")
    batch, steps, columns = x.shape
    n_neurons, n_synapses = beta.shape
    check(n_synapses >= 1 and columns == n_neurons * n_synapses, "x must be (B, T, N*S)")
    return batch, steps, n_neurons, n_synapses


def check_tensors(
    expected: dict[str, tuple[Tensor | None, tuple[int, ...]]],
    float32: tuple[Tensor | None, ...],
    device: torch.device,
) -> None:
    """Shapes, contiguity and device of ``{name: (tensor or None, shape)}``; float32 dtypes."""
    for name, (tensor, shape) in expected.items():
        if tensor is None:
            continue
        check(tuple(tensor.shape) == shape, f"{name} must be {shape}, got {tuple(tensor.shape)}")
        check(tensor.is_contiguous(), f"{name} must be contiguous")
        check(tensor.device == device, f"{name} is on {tensor.device}, x on {device}")
    check(
        all(t is None or t.dtype == torch.float32 for t in float32),
        "parameters, state, saved tensors, carried gradients and partials must be float32",
    )
