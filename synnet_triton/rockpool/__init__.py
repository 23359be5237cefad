"""Interoperability with Rockpool 3.1 (an optional dependency)."""

try:
    import rockpool  # noqa: F401
except ImportError as error:
    raise ImportError(
        "synnet_triton.rockpool needs the optional dependency rockpool: "
        "pip install 'rockpool==3.1.*'"
    ) from error

from synnet_triton.rockpool.lif import LIFTriton  # noqa: E402

__all__ = ["LIFTriton"]
