"""Test-only access to Rockpool's Xylo Audio 2 tools without `samna`.

`rockpool.devices.xylo/__init__.py` imports hardware support that needs SynSense's `samna`
package, which is not installable here. The simulator (`XyloSim`, built on `xylosim`), the
`mapper` and the quantisers live in `rockpool.devices.xylo.syns61201` and do not need it, so a
stub parent package whose `__path__` points at the real directory lets that subpackage import
on its own.
"""

import importlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest


def _import_syns61201() -> types.ModuleType:
    """Import `rockpool.devices.xylo.syns61201`, stubbing its parent package if needed.

    Skips the calling test module when rockpool or xylosim is missing.
    """
    pytest.importorskip("xylosim")
    devices = pytest.importorskip("rockpool.devices")
    parent_name = "rockpool.devices.xylo"
    if parent_name not in sys.modules:
        stub = types.ModuleType(parent_name)
        stub.__path__ = [str(Path(devices.__path__[0]) / "xylo")]
        sys.modules[parent_name] = stub
    return importlib.import_module(parent_name + ".syns61201")


syns61201 = _import_syns61201()
RockpoolXyloSim: Any = syns61201.XyloSim
rockpool_mapper: Any = syns61201.mapper

quantize_methods = importlib.import_module("rockpool.transform.quantize_methods")
rockpool_global_quantize: Any = quantize_methods.global_quantize
rockpool_channel_quantize: Any = quantize_methods.channel_quantize

__all__ = [
    "RockpoolXyloSim",
    "rockpool_mapper",
    "rockpool_global_quantize",
    "rockpool_channel_quantize",
]
