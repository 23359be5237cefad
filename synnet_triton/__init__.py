"""synnet_triton: SynNet-style spiking networks trained fast, exact to Rockpool and Xylo.

Packages, from the bottom up (``docs/layout.md`` has who may import whom; ``tests/test_layout.py``
checks it). The core needs torch, numpy and triton only; the rest are extras.

- :mod:`synnet_triton.kernels`: Triton device code and launchers (ships from ``kernels/``);
- ``arrays``: CPU step-loop helpers (numpy views of tensors, chunk lengths);
- :mod:`synnet_triton.ops`: the operations (the LIF recurrence, the reverse scan), their
  backends, checks and backend dispatch;
- :mod:`synnet_triton.xylo`: the Xylo chips: specification, mapping, bit-exact simulation;
- :mod:`synnet_triton.nn`: torch-native modules (``LIF``, ``Linear``, ``SynNet``, ...);
- :mod:`synnet_triton.hardware`: hardware-exact training through the chip's integers;
- :mod:`synnet_triton.rockpool`, :mod:`synnet_triton.nir`: interoperability ([rockpool], [nir]);
- :mod:`synnet_triton.bench`: the side-by-side benchmark harness ([bench]);
- :mod:`synnet_triton.compiled`: what the kernels compile to, read without a GPU;
- :mod:`synnet_triton.kws`: the keyword-spotting application ([kws]);
- :mod:`synnet_triton.cli`: the ``synnet-triton`` command.
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
