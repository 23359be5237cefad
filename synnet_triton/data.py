"""Deprecated: ``synnet_triton.data`` moved to :mod:`synnet_triton.kws.data` (removed in 0.2)."""

import warnings
from typing import Any

from synnet_triton.kws import data as _moved

warnings.warn(
    "synnet_triton.data is deprecated and will be removed in 0.2; import from "
    "synnet_triton.kws.data",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
