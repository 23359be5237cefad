"""Hardware-exact training: a SynNet whose forward is the Xylo chip's integer arithmetic
(bitwise the simulator's outputs) and whose backward is a surrogate-gradient sweep.

- ``network``: ``HardwareSynNet``, the chip's computation of a SynNet, trainable;
- ``dynamics``: the autograd function (the simulator forward, the backward's rules);
- ``sweep``: the backward's reverse sweep (levels, time segments, scans)."""

from synnet_triton.hardware.dynamics import INTEGER_KEYS, xylo_dynamics
from synnet_triton.hardware.network import HardwareSynNet, to_hardware

__all__ = ["INTEGER_KEYS", "HardwareSynNet", "to_hardware", "xylo_dynamics"]
