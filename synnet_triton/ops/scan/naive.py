"""The reverse scan written as its definition, step by step: the readable oracle."""

from __future__ import annotations

import torch
from torch import Tensor


def naive_reverse_scan(coef: Tensor, drive: Tensor, last: Tensor) -> Tensor:
    """y_{L−1} = last; y_t = coef_t · y_{t+1} + drive_t for t = L−2 … 0.

    coef:  (L, ...) per step, or (...) the same at every step
    drive: (L, ...)
    last:  (...)
    returns y (L, ...)
    """
    steps = drive.shape[0]
    y = torch.empty_like(drive)
    y[steps - 1] = last
    for t in range(steps - 2, -1, -1):
        c = coef[t] if coef.dim() == drive.dim() else coef
        y[t] = c * y[t + 1] + drive[t]
    return y
