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


class ValueChecks:
    """The op's parameter value checks, gathered and read back to the host once per call.

    Each check is finite (and > 0 with ``positive``, in [0, 1] with ``decay``: 0 is the decay
    of a zero time constant, which Rockpool accepts), so that bad parameters fail before the
    op runs, loudly, rather than turning into NaN or exploding membranes. :meth:`run` reads
    one boolean vector back (one device synchronisation for all parameters, not two or three
    each); while a CUDA graph is being captured, where a host read is not allowed, it asserts
    on the device instead (``torch._assert_async``: a failure then stops the CUDA context with
    a device-side assert rather than a ValueError); under ``torch.compile`` it checks nothing
    (a host read would break the graph).
    """

    def __init__(self) -> None:
        self._checks: list[tuple[str, Tensor, bool, bool]] = []

    def add(self, name: str, tensor: Tensor, *, positive: bool = False,
            decay: bool = False) -> None:
        self._checks.append((name, tensor.detach(), positive, decay))

    @staticmethod
    def _holds(tensor: Tensor, positive: bool, decay: bool) -> Tensor:
        ok = torch.isfinite(tensor).all()
        if positive:
            ok = ok & (tensor > 0).all()
        if decay:
            ok = ok & ((tensor >= 0) & (tensor <= 1)).all()
        return ok

    def run(self) -> None:
        """ValueError naming the first parameter whose values break its rule."""
        checks, self._checks = self._checks, []
        if not checks or torch.compiler.is_compiling():
            return
        holds = torch.stack([self._holds(t, positive, decay) for _, t, positive, decay in checks])
        if _capturing(holds.device):
            torch._assert_async(holds.all(), "a LIF parameter is non-finite or out of range")
            return
        for (name, tensor, positive, decay), ok in zip(checks, holds.tolist(), strict=True):
            if not ok:
                _raise_for(name, tensor, positive, decay)


def _capturing(device: torch.device) -> bool:
    """Whether a CUDA graph is being captured on ``device``'s current stream."""
    return device.type == "cuda" and torch.cuda.is_current_stream_capturing()


def _raise_for(name: str, tensor: Tensor, positive: bool, decay: bool) -> None:
    """The error of a parameter that failed its check (the failing path reads freely)."""
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must be finite, got a non-finite value")
    if positive:
        raise ValueError(f"{name} must be > 0 everywhere, got min {tensor.min().item()}")
    raise ValueError(
        f"{name} is a decay factor and must lie in [0, 1] everywhere, got values in "
        f"[{tensor.min().item()}, {tensor.max().item()}]"
    )


def as_parameter(
    name: str,
    value: Tensor | float,
    allowed: tuple[tuple[int, ...], ...],
    device: torch.device,
    checks: ValueChecks,
    *,
    positive: bool = False,
    decay: bool = False,
) -> Tensor:
    """A float32 tensor of one of the ``allowed`` shapes on ``device``; gradients flow through.

    Type, device and shape are checked here; the values (finite, > 0 with ``positive``, in
    [0, 1] with ``decay``) are added to ``checks``, which the entry point runs once.
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
    checks.add(name, tensor, positive=positive, decay=decay)
    return tensor.float()


def check_surrogate(surrogate: Surrogate | str) -> Surrogate:
    """The :class:`Surrogate` named by ``surrogate``."""
    try:
        return Surrogate(surrogate)
    except ValueError:
        names = [m.value for m in Surrogate]
        raise ValueError(f"surrogate must be one of {names}, got {surrogate!r}") from None
