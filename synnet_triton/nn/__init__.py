"""Torch-native network modules built on :mod:`synnet_triton.ops`.

- ``lif``: :class:`LIF`, one neuron layer;
- ``linear``: :class:`Linear`, a bias-free dense layer with Rockpool ``LinearTorch``'s
  initialisation;
- ``dropout``: :class:`TimeStepDropout`;
- ``synnet``: :class:`SynNet`, Rockpool 3.1 ``SynNet``'s architecture;
- ``synnet_conventions``: Rockpool's SynNet conventions (time constants, state-dict keys)
  without Rockpool.
"""

from synnet_triton.nn.dropout import TimeStepDropout
from synnet_triton.nn.lif import LIF
from synnet_triton.nn.linear import Linear
from synnet_triton.nn.synnet import SynNet, SynNetResult

__all__ = ["LIF", "Linear", "SynNet", "SynNetResult", "TimeStepDropout"]
