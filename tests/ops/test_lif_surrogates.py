"""The torch backend's in-place surrogate (surrogate_grad_into) against the literal formulas of
surrogates.py, bit for bit, and against Rockpool's own surrogate functions."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from rockpool.nn.modules.torch.lif_torch import PeriodicExponential, StepPWL

from synnet_triton.ops.lif.surrogates import surrogate_grad, surrogate_grad_into
from synnet_triton.ops.lif.types import Surrogate


def _rockpool_grad(surrogate: Surrogate, u: torch.Tensor, threshold: torch.Tensor,
                   window: float, max_spikes: float) -> torch.Tensor:
    """∂s/∂u from Rockpool's autograd function itself."""
    u = u.clone().requires_grad_()
    function = PeriodicExponential if surrogate is Surrogate.PERIODIC_EXPONENTIAL else StepPWL
    function.apply(u, threshold, window, torch.tensor(max_spikes)).sum().backward()
    assert u.grad is not None
    return u.grad


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(list(Surrogate)),
    st.floats(0.05, 4.0),
    st.sampled_from([0.1, 0.5, 1.0]),
    st.sampled_from([1.0, 4.0, 31.0, 2.0**16]),
    st.integers(0, 2**31 - 1),
)
def test_rearranged_surrogate_is_rockpools(surrogate, threshold, window, max_spikes, seed):
    g = torch.Generator().manual_seed(seed)
    theta = torch.full((5,), threshold)
    # membranes from below rest to ~70 thresholds, and exactly on the points where the
    # period index changes (u/θ = k + ½) or the spike count does (u/θ = k)
    quotients = torch.cat([
        torch.rand(200, generator=g) * 75 - 5,
        torch.arange(-2, 70).float() + 0.5,
        torch.arange(-2, 70).float(),
    ])
    u = (quotients.view(-1, 1) * theta).contiguous()
    got = surrogate_grad_into(surrogate, u, theta, window, max_spikes, torch.empty_like(u),
                              torch.empty_like(u))
    literal, _ = surrogate_grad(surrogate, u, theta, window, max_spikes)
    assert torch.equal(got, literal)
    # Rockpool's floor division and ours can pick neighbouring periods where vs/θ rounds near
    # an integer; both give a distance of θ/2 up to the rounding of vs − n·θ, an error of a
    # few (|u/θ| + 1)·ε·θ in the exponent's numerator, divided by w
    expected = _rockpool_grad(surrogate, u, theta, window, max_spikes)
    eps = torch.finfo(torch.float32).eps
    bound = 4 * (quotients.abs().view(-1, 1) + 1) * eps / window + 1e-6 / threshold
    assert ((got - expected).abs() <= bound).all()
