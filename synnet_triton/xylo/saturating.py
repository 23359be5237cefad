"""Exact int16 arithmetic of Xylo Audio 2, as SynSense's `xylosim.v2` implements it.

Every synaptic event is added to a synaptic current with saturation to int16, one event at a
time, so the order of events matters once a partial sum leaves int16. A saturating add
f(x) = min(max(x + c, L), H) composes to the same form — f1 then f2 is
(c1 + c2, clamp(L1 + c2, L2, H2), clamp(H1 + c2, L2, H2)) — so an ordered list of events
reduces with an associative operator: a tree over the events, batched over everything else.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from synnet_triton.xylo.chip import INT16_MAX, INT16_MIN

# Bounds of an identity element; far outside int16 but safe from int64 overflow when shifted by
# the largest possible sum of events (~2^30).
_IDENTITY_BOUND = 2**40


def wrap_int16(x: Tensor) -> Tensor:
    """Two's-complement wrap of an integer tensor to int16 values (C++ conversion to int16_t)."""
    return ((x + 32768) & 0xFFFF) - 32768


def bitshift_decay(x: Any, scale: Any, one: Any, out: Any, scratch: Any, xp: Any) -> None:
    """Xylo's bit-shift decay step, ``x >> dash`` (arithmetic) or ``sign(x)`` where that is 0,
    of int16 values held in a float dtype, written into ``out``.

    x:            (...) numpy array (``xp`` numpy) or torch tensor (``xp`` torch), float32/64
    scale:        (...) 2^−dash, full shape (numpy's broadcasting loops are slower)
    one:          (...) ones
    out, scratch: (...) buffers; ``out`` receives the decay
    """
    # For x < 0 the arithmetic shift is ≤ −1 and ≥ x; for x ≥ 0 it is ≥ 0 and the minimum step
    # is min(x, 1). So the decay is max(x >> dash, min(x, 1)) in both cases, and x >> dash is
    # floor(x · 2^−dash): scaling by a power of two and flooring are exact in float.
    xp.multiply(x, scale, out=out)
    xp.floor(out, out=out)
    xp.minimum(x, one, out=scratch)
    xp.maximum(out, scratch, out=out)


def ordered_saturating_sum(start: Tensor, increments: Tensor) -> Tensor:
    """Add ``increments`` one after the other to ``start``, saturating to int16 after each.

    start:      (F,) int64 initial values (within int16)
    increments: (F, P) int64; row f is the ordered sequence of additions applied to start[f]
    returns:    (F,) int64 result, equal to the sequential loop
                ``for p in range(P): x = clamp(x + increments[:, p], -32768, 32767)``
    """
    if increments.ndim != 2 or start.shape != increments.shape[:1]:
        raise ValueError(
            f"increments must have shape (F, P) with F = len(start); got start "
            f"{tuple(start.shape)} and increments {tuple(increments.shape)}"
        )
    offset = increments
    low = torch.full_like(offset, INT16_MIN)
    high = torch.full_like(offset, INT16_MAX)
    while offset.shape[1] > 1:
        if offset.shape[1] % 2:
            pad = offset.new_zeros((offset.shape[0], 1))
            offset = torch.cat([offset, pad], dim=1)
            low = torch.cat([low, pad - _IDENTITY_BOUND], dim=1)
            high = torch.cat([high, pad + _IDENTITY_BOUND], dim=1)
        first_offset, second_offset = offset[:, 0::2], offset[:, 1::2]
        second_low, second_high = low[:, 1::2], high[:, 1::2]
        low = torch.clamp(low[:, 0::2] + second_offset, second_low, second_high)
        high = torch.clamp(high[:, 0::2] + second_offset, second_low, second_high)
        offset = first_offset + second_offset
    if offset.shape[1] == 0:
        return start.clone()
    return torch.clamp(start + offset[:, 0], low[:, 0], high[:, 0])
