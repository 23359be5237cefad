"""Containers shared by every implementation of the LIF operation."""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from torch import Tensor


class Surrogate(str, Enum):
    """Surrogate gradient of the multi-spike count s(u) (docs/design.md §3; Rockpool 3.1
    ``lif_torch``)."""

    PERIODIC_EXPONENTIAL = "periodic_exponential"
    STEP_PWL = "step_pwl"


class LIFState(NamedTuple):
    """State carried between calls; all float32.

    vmem:   (B, N)    membrane after the reset of the last step
    isyn:   (B, N, S) synaptic currents after the decay of the last step
    spikes: (B, N)    spike counts of the last step (drive the recurrent weights at the next step)
    """

    vmem: Tensor
    isyn: Tensor
    spikes: Tensor


class LIFOutput(NamedTuple):
    """What one call of the LIF operation produces.

    spikes: (B, T, N)    spike counts per step (float, in the dtype of the input)
    vmem:   (B, T, N)    post-reset membrane per step, only with ``record=True``
    isyn:   (B, T, N, S) post-decay synaptic currents per step, only with ``record=True``
    """

    spikes: Tensor
    vmem: Tensor | None = None
    isyn: Tensor | None = None
