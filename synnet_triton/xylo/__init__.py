"""Xylo-parity mode: integer simulation bit-exact to SynSense's `xylosim` (Xylo Audio 2), and
the SynNet → Xylo specification flow of Rockpool (mapper + quantisers)."""

from synnet_triton.xylo.mapping import (
    channel_quantize,
    evaluate_on_xylo,
    global_quantize,
    synnet_float_specification,
    synnet_specification,
)
from synnet_triton.xylo.sim import RECORD_KEYS, XyloSim
from synnet_triton.xylo.spec import XyloSpec

__all__ = [
    "RECORD_KEYS",
    "XyloSim",
    "XyloSpec",
    "channel_quantize",
    "evaluate_on_xylo",
    "global_quantize",
    "synnet_float_specification",
    "synnet_specification",
]
