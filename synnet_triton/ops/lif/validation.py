"""Argument checks shared by the public entry points; every error names the argument."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from synnet_triton.ops.lif.types import Surrogate

ACCEPTED_INPUT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def check_input(x: object, n_synapses: int) -> Tensor:
    """Check ``x`` is a (B, T, N·S) or (T, N·S) float tensor; return it unchanged."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in ACCEPTED_INPUT_DTYPES:
        raise TypeError(
            f"x must be float32, float16 or bfloat16 (the LIF state is float32), got {x.dtype}"
        )
    if x.ndim not in (2, 3):
        raise ValueError(
            f"x must have shape (B, T, N*S) or (T, N*S), got {tuple(x.shape)} ({x.ndim} dims)"
        )
    if isinstance(n_synapses, bool) or not isinstance(n_synapses, int) or n_synapses < 1:
        raise ValueError(f"n_synapses must be an integer >= 1, got {n_synapses!r}")
    if x.shape[-1] % n_synapses != 0 or x.shape[-1] == 0:
        raise ValueError(
            f"the last dimension of x ({x.shape[-1]}) must be a positive multiple of "
            f"n_synapses ({n_synapses})"
        )
    return x


def check_positive_number(name: str, value: object, *, allow_zero: bool = False) -> float:
    """A finite real number > 0 (or >= 0 with ``allow_zero``), as float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return value


def check_max_spikes(value: object, name: str = "max_spikes_per_dt") -> float:
    """A spike cap as a float: an integer count in [1, 2**16]."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a single number, got shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not (1 <= value <= 2**16) or float(value) != math.floor(value):
        raise ValueError(f"{name} must be an integer from 1 to 2**16, got {value}")
    return float(value)


def as_parameter(
    name: str,
    value: Tensor | float,
    allowed: tuple[tuple[int, ...], ...],
    device: torch.device,
    *,
    positive: bool = False,
    decay: bool = False,
) -> Tensor:
    """A float32 tensor of one of the ``allowed`` shapes on ``device``; gradients flow through.

    Checks the value is finite (> 0 with ``positive``, in [0, 1] with ``decay``: 0 is the decay
    of a zero time constant, which Rockpool accepts) so that bad parameters fail here, loudly,
    rather than turning into NaN or exploding membranes.
    """
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}")
        if value.device != device:
            raise ValueError(
                f"{name} is on {value.device} but x is on {device}; move them to one device"
            )
        tensor = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        tensor = torch.tensor(float(value), device=device)
    else:
        raise TypeError(f"{name} must be a float or a tensor, got {type(value).__name__}")
    if tuple(tensor.shape) not in allowed:
        shapes = " or ".join(str(s) for s in allowed)
        raise ValueError(f"{name} must have shape {shapes}, got {tuple(tensor.shape)}")
    if torch.compiler.is_compiling():
        # value checks read data back to the host, a graph break under torch.compile
        return tensor.float()
    detached = tensor.detach()
    if not bool(torch.isfinite(detached).all()):
        raise ValueError(f"{name} must be finite, got a non-finite value")
    if positive and not bool((detached > 0).all()):
        raise ValueError(f"{name} must be > 0 everywhere, got min {detached.min().item()}")
    if decay and not bool(((detached >= 0) & (detached <= 1)).all()):
        raise ValueError(
            f"{name} is a decay factor and must lie in [0, 1] everywhere, got values in "
            f"[{detached.min().item()}, {detached.max().item()}]"
        )
    return tensor.float()


def check_surrogate(surrogate: Surrogate | str) -> Surrogate:
    """The :class:`Surrogate` named by ``surrogate``."""
    try:
        return Surrogate(surrogate)
    except ValueError:
        names = [m.value for m in Surrogate]
        raise ValueError(f"surrogate must be one of {names}, got {surrogate!r}") from None
