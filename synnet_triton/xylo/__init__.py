"""Xylo-parity mode: integer simulation bit-exact to SynSense's `xylosim` (Xylo Audio 2, Audio 3,
IMU), the SynNet → Xylo specification flow of Rockpool (mapper + quantisers), and the
design-rule check of each chip."""

from synnet_triton.xylo.design import (
    DesignError,
    DesignReport,
    Violation,
    check_design,
    check_layout,
    check_specification,
)
from synnet_triton.xylo.mapping import (
    channel_quantize,
    evaluate_on_xylo,
    global_quantize,
    synnet_float_specification,
    synnet_specification,
)
from synnet_triton.xylo.sim import RECORD_KEYS, XyloSim
from synnet_triton.xylo.spec import XyloSpec
from synnet_triton.xylo.targets import TARGETS, Target

__all__ = [
    "RECORD_KEYS",
    "TARGETS",
    "DesignError",
    "DesignReport",
    "Target",
    "Violation",
    "check_design",
    "check_layout",
    "check_specification",
    "XyloSim",
    "XyloSpec",
    "channel_quantize",
    "evaluate_on_xylo",
    "global_quantize",
    "synnet_float_specification",
    "synnet_specification",
]
