"""Deprecated: ``synnet_triton.audio`` moved to :mod:`synnet_triton.kws.audio` (removed in 0.2)."""

import warnings
from typing import Any

from synnet_triton.kws import audio as _moved

warnings.warn(
    "synnet_triton.audio is deprecated and will be removed in 0.2; import from "
    "synnet_triton.kws.audio",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
