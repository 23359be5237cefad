"""The compiled in-order delivery (extra [cpu]) against xylosim's rule written out: every
event on its own, each addition saturated to int16, sources in order."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

from synnet_triton.xylo.compiled_delivery import deliver_in_order  # noqa: E402
from synnet_triton.xylo.saturating import ordered_saturating_sum  # noqa: E402


def event_by_event(current: np.ndarray, counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The literal rule: for each source in order, each of its events, each current."""
    out = current.astype(np.int64).copy()
    for b in range(out.shape[0]):
        for s in range(weights.shape[0]):
            for _ in range(int(counts[b, s])):
                out[b] = np.clip(out[b] + weights[s], -32768, 32767)
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.integers(1, 12), st.integers(1, 9),
       st.sampled_from([127, 4096, 32767]), st.booleans())
def test_equals_every_event_saturated_on_its_own(seed, batch, sources, width, scale,
                                                 near_rails):
    rng = np.random.default_rng(seed)
    bound = 32000 if near_rails else 3000
    current = rng.integers(-bound, bound + 1, (batch, width))
    counts = rng.integers(0, 32, (batch, sources)) * (rng.random((batch, sources)) < 0.7)
    weights = rng.integers(-scale, scale + 1, (sources, width))
    got = deliver_in_order(torch.from_numpy(current), torch.from_numpy(counts).int(),
                           torch.from_numpy(weights))
    assert got.dtype == torch.int64
    assert np.array_equal(got.numpy(), event_by_event(current, counts, weights))


def test_agrees_with_the_associative_ordered_sum_and_saturates_in_order():
    """Hand-derived: −31 970, then −800 (saturates to −32 768), then +96 twice: −32 576; the
    plain sum −32 578 would be off by 2. The torch path's reduction gives the same."""
    current = torch.tensor([[-31970]])
    counts = torch.tensor([[1, 2]], dtype=torch.int32)
    weights = torch.tensor([[-800], [96]])
    assert int(deliver_in_order(current, counts, weights)) == -32576
    increments = torch.tensor([[-800, 96, 96]])
    assert int(ordered_saturating_sum(current[:, 0], increments)) == -32576
