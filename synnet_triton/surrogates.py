"""Multi-spike generation and its surrogate gradients, in torch.

Spike count (Rockpool 3.1 ``lif_torch.py``, ``PeriodicExponential.forward``):

    s = (u >= θ) · floor(u / θ),   then clamped to M as  s − (s − M) · (s > M)

PeriodicExponential surrogate (Rockpool's, which differs from sinabs' when θ ≠ 1):

    vs = u − θ/2,  ns = min(floor(vs / θ), M − 1),  vp = vs − ns·θ
    v̂ = vs if u < θ else vp,   pdf = exp(−|v̂ − θ/2| / w) / θ
    ∂s/∂u = pdf,   ∂s/∂θ = −pdf · u / θ

StepPWL surrogate:  mask = u >= θ − w,  ∂s/∂u = mask / θ,  ∂s/∂θ = −u · mask / θ².

All functions broadcast ``threshold`` (N,) against ``u`` (..., N).
"""

from __future__ import annotations

import torch
from torch import Tensor

from synnet_triton.types import Surrogate


def spike_count(u: Tensor, threshold: Tensor, max_spikes: float) -> Tensor:
    """Spike counts of the pre-spike membrane u (..., N), as float, clamped to max_spikes."""
    s = (u >= threshold) * torch.floor(u / threshold)
    # Rockpool's clamp formula, kept literally: it differs from clamp() once s − M rounds.
    return s - (s - max_spikes) * (s > max_spikes)


def periodic_exponential_grad(
    u: Tensor, threshold: Tensor, window: float, max_spikes: float
) -> tuple[Tensor, Tensor]:
    """(∂s/∂u, ∂s/∂θ) of the PeriodicExponential surrogate, each shaped like ``u``."""
    shifted = u - threshold / 2
    n_shifted = torch.clamp(
        torch.div(shifted, threshold, rounding_mode="floor"), max=max_spikes - 1
    )
    periodic = shifted - n_shifted * threshold
    centred = torch.where(u < threshold, shifted, periodic)
    pdf = torch.exp(-torch.abs(centred - threshold / 2) / window) / threshold
    return pdf, -pdf * u / threshold


def step_pwl_grad(u: Tensor, threshold: Tensor, window: float) -> tuple[Tensor, Tensor]:
    """(∂s/∂u, ∂s/∂θ) of the StepPWL surrogate, each shaped like ``u``."""
    mask = (u >= threshold - window).to(u.dtype)
    return mask / threshold, -u * mask / (threshold * threshold)


def surrogate_grad(
    surrogate: Surrogate, u: Tensor, threshold: Tensor, window: float, max_spikes: float
) -> tuple[Tensor, Tensor]:
    """Dispatch to the surrogate named by ``surrogate``."""
    if surrogate is Surrogate.PERIODIC_EXPONENTIAL:
        return periodic_exponential_grad(u, threshold, window, max_spikes)
    return step_pwl_grad(u, threshold, window)
