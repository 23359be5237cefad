"""NIR export and import (https://neuroir.org): ``to_nir(module)``, ``from_nir(graph)``.

Needs the optional dependency ``nir`` (``pip install 'synnet-triton[nir]'``). See
:mod:`synnet_triton.nir.nodes` for how each layer maps to NIR nodes and
:mod:`synnet_triton.nir.graphs` for whole networks.
"""

try:
    import nir  # noqa: F401
except ImportError as error:
    raise ImportError(
        "synnet_triton.nir needs the optional dependency nir: pip install 'nir>=1.0'"
    ) from error

from synnet_triton.nir.graphs import from_nir, to_nir  # noqa: E402

__all__ = ["from_nir", "to_nir"]
