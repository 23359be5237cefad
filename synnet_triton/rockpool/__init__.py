"""Interoperability with Rockpool 3.1 (an optional dependency).

- ``lif``: :class:`LIFTriton`, a drop-in for Rockpool's ``LIFTorch``;
- ``lif_exodus``: :class:`LIFExodus`, Rockpool's ``LIFExodus`` constructor computing
  ``LIFTorch``'s dynamics on any device;
- ``synnet``: :class:`SynNet`, a drop-in for Rockpool's ``SynNet`` (LIFTriton neurons);
- ``conversion``: between :class:`synnet_triton.nn.SynNet` (the torch-native network) and
  Rockpool's ``SynNet`` or the drop-in;
- ``nir_export``: Rockpool's ``to_nir`` exports LIFTriton layers (registered on import).
"""

try:
    import rockpool  # noqa: F401
except ImportError as error:
    raise ImportError(
        "synnet_triton.rockpool needs the optional dependency rockpool: "
        "pip install 'rockpool==3.1.*'"
    ) from error

from synnet_triton.rockpool.conversion import synnet_from_rockpool, synnet_to_rockpool  # noqa: E402
from synnet_triton.rockpool.lif import LIFTriton  # noqa: E402
from synnet_triton.rockpool.lif_exodus import LIFExodus  # noqa: E402
from synnet_triton.rockpool.nir_export import register as _register_nir_export  # noqa: E402
from synnet_triton.rockpool.synnet import SynNet  # noqa: E402

_register_nir_export()

__all__ = ["LIFExodus", "LIFTriton", "SynNet", "synnet_from_rockpool", "synnet_to_rockpool"]
