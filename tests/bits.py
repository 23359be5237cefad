"""Bitwise comparison of tensors: the bits, not the values (−0.0 is not +0.0, NaN payloads
count), as the parity tests against Rockpool require."""

from __future__ import annotations

import torch
from torch import Tensor

_SAME_WIDTH_INT = {torch.float64: torch.int64, torch.float32: torch.int32,
                   torch.float16: torch.int16, torch.bfloat16: torch.int16}


def bits(tensor: Tensor) -> Tensor:
    """The tensor's bits as an integer tensor of the same width (integers as they are)."""
    target = _SAME_WIDTH_INT.get(tensor.dtype)
    return tensor.contiguous().view(target) if target is not None else tensor


def bitwise_equal(a: Tensor, b: Tensor) -> bool:
    """Same dtype, shape and bits."""
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(bits(a), bits(b))
