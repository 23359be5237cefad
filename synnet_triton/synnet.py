"""Deprecated: ``synnet_triton.synnet`` moved to :mod:`synnet_triton.nn.synnet` (removed in 0.2)."""

import warnings
from typing import Any

from synnet_triton.nn import synnet as _moved

warnings.warn(
    "synnet_triton.synnet is deprecated and will be removed in 0.2; import from "
    "synnet_triton.nn.synnet",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
