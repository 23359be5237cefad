"""Teach Rockpool's NIR exporter (``rockpool.nn.modules.to_nir``) the ``LIFTriton`` layer.

Rockpool's exporter picks a NIR node per module by exact class (``type(module) == LIFTorch``
in ``rockpool/nn/modules/torch/nir.py``), so without this a ``LIFTriton`` layer would be left
out of the graph without a word. :func:`register` (run when ``synnet_triton.rockpool`` is
imported, if ``nir`` is installed) wraps Rockpool's per-module function so that:

- a ``LIFTriton`` exports exactly what Rockpool exports for the equivalent ``LIFTorch`` (a
  copy of it is handed to Rockpool's own code); a multi-synapse one fails as Rockpool's
  ``LIFTorch`` does, the message pointing to :func:`synnet_triton.nir.to_nir`, which exports
  it as a subgraph;
- any other module with parameters of its own that Rockpool has no node for warns, naming it,
  instead of vanishing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from rockpool.nn.modules.torch.lif_torch import LIFTorch

from synnet_triton.rockpool.lif import LIFTriton, copy_lif

_MARK = "_synnet_triton_extension"


def register() -> bool:
    """Install the extension into Rockpool's NIR exporter; False when ``nir`` (which that
    exporter needs) is not installed. Idempotent."""
    try:
        from rockpool.nn.modules.torch import nir as rockpool_nir
    except ImportError:
        return False
    original = rockpool_nir._extract_rockpool_module
    if getattr(original, _MARK, False):
        return True
    rockpool_nir._extract_rockpool_module = _extended(original)
    return True


def _extended(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def extract(module: Any) -> Any:
        if isinstance(module, LIFTriton):
            try:
                return original(copy_lif(module, LIFTorch))
            except NotImplementedError as error:
                raise NotImplementedError(
                    f"{error} (a LIFTriton with {module.n_synapses} synapses per neuron; "
                    f"synnet_triton.nir.to_nir exports it as a NIR subgraph)"
                ) from error
        node = original(module)
        if node is None and any(True for _ in module.parameters(recurse=False)):
            warnings.warn(
                f"rockpool's to_nir has no NIR node for a {type(module).__name__}; it is left "
                f"out of the graph", stacklevel=2,
            )
        return node

    setattr(extract, _MARK, True)
    return extract
