"""A bias-free linear layer with Rockpool's ``LinearTorch`` weight layout and initialisation."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Linear(nn.Module):
    """``y = x @ weight`` with ``weight`` stored as (in_features, out_features).

    The layout and the initial values follow Rockpool 3.1 ``LinearTorch`` (``linear_torch.py``):
    Kaiming-uniform (``torch.nn.init.kaiming_uniform_`` with its defaults) drawn on an
    (out_features, in_features) tensor, then transposed. With the same torch seed, a ``Linear``
    therefore draws exactly the weights a Rockpool ``LinearTorch`` of the same shape draws, and
    its ``state_dict`` key ``weight`` has the shape Rockpool stores.

    Args:
        in_features: number of input channels (> 0).
        out_features: number of output channels (> 0).
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"`{name}` must be a positive int, got {value!r}")
        self.in_features = in_features
        self.out_features = out_features
        weight_out_in = torch.empty(out_features, in_features)
        nn.init.kaiming_uniform_(weight_out_in)
        self.weight = nn.Parameter(weight_out_in.T.contiguous())
        """(in_features, out_features) weight matrix."""

    def forward(self, x: Tensor) -> Tensor:
        """Apply the weights.

        Args:
            x: (..., in_features)

        Returns:
            (..., out_features)
        """
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"`x` must have {self.in_features} channels in its last dimension, "
                f"got shape {tuple(x.shape)}"
            )
        # F.linear with the transposed (in, out) matrix is the exact product Rockpool's
        # LinearTorch evaluates, so the float rounding of the outputs is the same.
        return F.linear(x, self.weight.T)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"
