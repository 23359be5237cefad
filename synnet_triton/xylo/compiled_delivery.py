"""A step's events delivered in xylosim's order as one compiled loop (numba, extra ``[cpu]``).

xylosim adds each event's weight to each current it reaches and saturates to int16 after
every addition, sources in order (input channels ascending, then hidden neurons ascending).
A source's events onto one current all carry its weight's sign, so ``count × weight`` then one
saturation equals that many saturating additions, and a source with no event leaves every
current (already within int16) as it was:

    x ← clamp(x + count_s · w_{s,c}, −32768, 32767)    for s = 0 … S−1 with count_s ≠ 0

The step engine's torch path does the same with one product and one clamp per run of sources
that reach disjoint currents; with dense recurrent weights every source is its own run, and
the per-call overhead of ~2 × 144 small operations per step dominated (the "rails" workload,
where currents sit at the int16 limits and every step needs the exact order). Here every
sample is one work item and the loop over currents is vectorised, in int32: a current
(within int16) plus count × weight (at most 31 × 32 767 for an effective int16 weight) stays
far inside it.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import int32, njit, prange
from torch import Tensor

from synnet_triton.arrays import torch_threads
from synnet_triton.xylo.chip import INT16_MAX, INT16_MIN

LOW, HIGH = int32(INT16_MIN), int32(INT16_MAX)


@njit(cache=True, parallel=True)
def _deliver(current, counts, weights, out):  # type: ignore[no-untyped-def]
    batch, width = current.shape
    for b in prange(batch):
        for c in range(width):
            out[b, c] = current[b, c]
        for s in range(weights.shape[0]):
            count = counts[b, s]
            if count != 0:
                for c in range(width):
                    out[b, c] = min(max(out[b, c] + count * weights[s, c], LOW), HIGH)


def deliver_in_order(current: Tensor, drive_counts: Tensor, weights: Tensor) -> Tensor:
    """Every current after one step's events, in xylosim's order.

    current:      (B, W) int64 currents before the events, within int16
    drive_counts: (B, S) int32 event counts per source: input channels, then hidden spikes
    weights:      (S, W) effective integer weights of each source onto each current
    returns       (B, W) int64 currents after the events
    """
    out = np.empty(tuple(current.shape), np.int32)
    with torch_threads():
        _deliver(*(t.detach().to(torch.int32).contiguous().numpy()
                   for t in (current, drive_counts, weights)), out)
    return torch.from_numpy(out).to(torch.int64)
