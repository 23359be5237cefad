"""Xylo-parity mode: integer simulation bit-exact to SynSense's `xylosim` (Xylo Audio 2)."""

from synnet_triton.xylo.sim import RECORD_KEYS, XyloSim
from synnet_triton.xylo.spec import XyloSpec

__all__ = ["RECORD_KEYS", "XyloSim", "XyloSpec"]
