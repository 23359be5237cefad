"""Time-step dropout: silence single (batch, time, neuron) entries while training."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TimeStepDropout(nn.Module):
    """Zero each (batch, time step, neuron) entry independently with probability ``p``.

    Semantics of Rockpool 3.1 ``TimeStepDropout`` (``nn/modules/torch/dropout.py``): the mask is
    drawn element-wise over (B, T, N) with ``torch.rand``; an entry is dropped where the draw is
    below ``p``; the kept entries are *not* rescaled by 1 / (1 - p); the module is the identity
    in evaluation mode (``module.eval()``). On CPU, with the same torch seed, it drops exactly the
    entries Rockpool's module drops.

    Args:
        n_neurons: size of the last dimension of the input (> 0).
        p: probability of dropping an entry, in [0, 1].
    """

    def __init__(self, n_neurons: int, p: float = 0.5) -> None:
        super().__init__()
        if not isinstance(n_neurons, int) or isinstance(n_neurons, bool) or n_neurons <= 0:
            raise ValueError(f"`n_neurons` must be a positive int, got {n_neurons!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"`p` (dropout probability) must be in [0, 1], got {p!r}")
        self.n_neurons = n_neurons
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        """Drop entries of ``x`` in training mode; return ``x`` unchanged otherwise.

        Args:
            x: (B, T, n_neurons) or (T, n_neurons)

        Returns:
            a tensor of the shape of ``x``
        """
        if x.dim() not in (2, 3) or x.shape[-1] != self.n_neurons:
            raise ValueError(
                f"`x` must have shape (B, T, {self.n_neurons}) or (T, {self.n_neurons}), "
                f"got {tuple(x.shape)}"
            )
        if not self.training:
            return x
        draws = torch.rand(x.shape, device=x.device)
        keep = (draws >= self.p).to(x.dtype)
        return x * keep

    def extra_repr(self) -> str:
        return f"n_neurons={self.n_neurons}, p={self.p}"
