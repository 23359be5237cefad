"""synnet_triton: SynNet-style spiking networks trained fast, exact to Rockpool and Xylo."""

from synnet_triton.dropout import TimeStepDropout
from synnet_triton.functional import lif, lif_decays
from synnet_triton.modules import LIF
from synnet_triton.synnet import SynNet, SynNetResult
from synnet_triton.types import LIFOutput, LIFState, Surrogate

__all__ = [
    "LIF",
    "LIFOutput",
    "LIFState",
    "Surrogate",
    "SynNet",
    "SynNetResult",
    "TimeStepDropout",
    "lif",
    "lif_decays",
]
__version__ = "0.1.0"
