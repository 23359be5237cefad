"""synnet_triton: SynNet-style spiking networks trained fast, exact to Rockpool and Xylo.

Packages, from the bottom up (each imports only those above it in this list):

- :mod:`synnet_triton.kernels`: Triton device code (ships from the top-level ``kernels/``);
- :mod:`synnet_triton.ops`: the operations (the LIF recurrence), their backends and checks;
- :mod:`synnet_triton.nn`: torch-native modules (``LIF``, ``Linear``, ``SynNet``, ...);
- :mod:`synnet_triton.xylo`: the Xylo chips: specification, mapping, bit-exact simulation;
- :mod:`synnet_triton.rockpool`: interoperability with Rockpool (optional dependency);
- :mod:`synnet_triton.bench`: the side-by-side benchmark harness;
- :mod:`synnet_triton.kws`: the keyword-spotting application and the ``synnet-triton`` CLI.
"""

from synnet_triton.nn import LIF, Linear, SynNet, SynNetResult, TimeStepDropout
from synnet_triton.ops.lif import LIFOutput, LIFState, Surrogate, lif, lif_decays

__all__ = [
    "LIF",
    "LIFOutput",
    "LIFState",
    "Linear",
    "Surrogate",
    "SynNet",
    "SynNetResult",
    "TimeStepDropout",
    "lif",
    "lif_decays",
]
__version__ = "0.2.0"
