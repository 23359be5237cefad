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

from synnet_triton.ops.lif.types import Surrogate


def spike_count(u: Tensor, threshold: Tensor, max_spikes: float) -> Tensor:
    """Spike counts of the pre-spike membrane u (..., N), as float, clamped to max_spikes."""
    # Comparisons are written straight into float buffers: on CPU a bool tensor and its
    # promotion cost several times the arithmetic. The values are Rockpool's exactly.
    fired = torch.ge(u, threshold, out=torch.empty_like(u))
    s = torch.floor(u / threshold).mul_(fired)
    # Rockpool's clamp formula, kept literally: it differs from clamp() once s − M rounds.
    over = torch.gt(s, max_spikes, out=torch.empty_like(s))
    return s.sub_((s - max_spikes).mul_(over))


def periodic_exponential_grad(
    u: Tensor, threshold: Tensor, window: float, max_spikes: float
) -> tuple[Tensor, Tensor]:
    """(∂s/∂u, ∂s/∂θ) of the PeriodicExponential surrogate, each shaped like ``u``.

    ``floor(vs / θ)`` is the floor of the rounded quotient (Rockpool uses torch's floor
    division, which can differ when the quotient rounds onto an integer: a gradient-only,
    once-in-2²⁴ difference).
    """
    half = threshold / 2
    shifted = u - half
    n_shifted = torch.floor(shifted / threshold).clamp_(max=max_spikes - 1)
    above = torch.ge(u, threshold, out=torch.empty_like(u))
    # vs below threshold, vs − ns·θ above it (Rockpool's select, as a product)
    centred = shifted - n_shifted.mul_(threshold).mul_(above)
    pdf = centred.sub_(half).abs_().mul_(-1.0 / window).exp_().div_(threshold)
    return pdf, -pdf * u / threshold


def step_pwl_grad(u: Tensor, threshold: Tensor, window: float) -> tuple[Tensor, Tensor]:
    """(∂s/∂u, ∂s/∂θ) of the StepPWL surrogate, each shaped like ``u``."""
    mask = torch.ge(u, threshold - window, out=torch.empty_like(u))
    return mask / threshold, -u * mask / (threshold * threshold)


def surrogate_grad(
    surrogate: Surrogate, u: Tensor, threshold: Tensor, window: float, max_spikes: float
) -> tuple[Tensor, Tensor]:
    """Dispatch to the surrogate named by ``surrogate``."""
    if surrogate is Surrogate.PERIODIC_EXPONENTIAL:
        return periodic_exponential_grad(u, threshold, window, max_spikes)
    return step_pwl_grad(u, threshold, window)


def surrogate_grad_into(
    surrogate: Surrogate,
    u: Tensor,
    threshold: Tensor,
    window: float,
    max_spikes: float,
    out: Tensor,
    scratch: Tensor,
) -> Tensor:
    """∂s/∂u of ``surrogate`` at u (..., N) written into ``out``; ``scratch`` is overwritten.

    Bitwise the values of :func:`surrogate_grad`, computed in place for few passes over memory:
    Rockpool's select ``vs if u < θ else vs − ns·θ`` becomes ns clamped below at 0, which is
    the same number (for u < θ, floor(vs/θ) ≤ 0 and vs − 0·θ = vs exactly).
    ∂s/∂θ is −(u/θ)·∂s/∂u for both surrogates and is left to the caller.
    """
    if surrogate is Surrogate.PERIODIC_EXPONENTIAL:
        half = threshold / 2
        shifted = torch.sub(u, half, out=out)
        periods = torch.div(shifted, threshold, out=scratch).floor_().clamp_(0.0, max_spikes - 1)
        shifted.sub_(periods.mul_(threshold)).sub_(half)
        return out.abs_().mul_(-1.0 / window).exp_().div_(threshold)
    torch.ge(u, threshold - window, out=out)
    return out.div_(threshold)
