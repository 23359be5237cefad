"""Test-only access to Rockpool's Xylo tools (Audio 2, Audio 3, IMU) without `samna`.

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


def _import_without_init(name: str) -> types.ModuleType:
    """Import ``rockpool.devices.xylo.<name>``'s package as a stub (its ``__init__`` imports
    `samna` unconditionally for Xylo Audio 3), so its submodules import on their own."""
    full = f"rockpool.devices.xylo.{name}"
    if full not in sys.modules:
        stub = types.ModuleType(full)
        stub.__path__ = [str(Path(sys.modules["rockpool.devices.xylo"].__path__[0]) / name)]
        sys.modules[full] = stub
    return sys.modules[full]


syns61201 = _import_syns61201()
RockpoolXyloSim: Any = syns61201.XyloSim
rockpool_mapper: Any = syns61201.mapper

# Xylo IMU (SYNS63300): its XyloSim also simulates Xylo Audio 3 (syns65302 imports it).
syns63300 = importlib.import_module("rockpool.devices.xylo.syns63300")
RockpoolXyloSimV2: Any = syns63300.XyloSim
imu_mapper: Any = syns63300.mapper
_import_without_init("syns65302")
audio3_mapper: Any = importlib.import_module("rockpool.devices.xylo.syns65302.xylo_mapper").mapper
TARGET_MAPPERS: dict[str, Any] = {"xylo-audio2": rockpool_mapper, "xylo-audio3": audio3_mapper,
                                  "xylo-imu": imu_mapper}
TARGET_SIMULATORS: dict[str, Any] = {"xylo-audio2": RockpoolXyloSim,
                                     "xylo-audio3": RockpoolXyloSimV2,
                                     "xylo-imu": RockpoolXyloSimV2}

quantize_methods = importlib.import_module("rockpool.transform.quantize_methods")
rockpool_global_quantize: Any = quantize_methods.global_quantize
rockpool_channel_quantize: Any = quantize_methods.channel_quantize

__all__ = [
    "TARGET_MAPPERS",
    "TARGET_SIMULATORS",
    "RockpoolXyloSim",
    "RockpoolXyloSimV2",
    "audio3_mapper",
    "imu_mapper",
    "rockpool_mapper",
    "rockpool_global_quantize",
    "rockpool_channel_quantize",
]
