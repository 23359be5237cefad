"""synnet_triton: SynNet-style spiking networks trained fast, exact to Rockpool and Xylo."""

from synnet_triton.functional import lif, lif_decays
from synnet_triton.modules import LIF
from synnet_triton.types import LIFOutput, LIFState, Surrogate

__all__ = ["LIF", "lif", "lif_decays", "LIFOutput", "LIFState", "Surrogate"]
__version__ = "0.1.0"
