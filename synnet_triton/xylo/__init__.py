"""Xylo-parity mode: integer simulation bit-exact to SynSense's `xylosim` (Xylo Audio 2, Audio 3,
IMU), the SynNet → Xylo specification flow of Rockpool (mapper + quantisers), and the
design-rule check of each chip.

- ``chip``: the chips' integer constants; ``targets``: what each chip holds, with sources;
- ``design``: ``check_design`` / ``check_layout``, every rule a network breaks;
- ``spec``: the validated integer spec; ``mapping``: SynNet → spec (Rockpool's mapper);
  ``quantize``: global and channel quantisation on torch tensors;
- ``sim``: ``XyloSim``, built from a spec, its state and the backend it runs on;
  ``population``: a spec as one population's buffers; ``step_engine``: one vectorised step at a
  time, ``compiled_delivery``: its events in xylosim's order as one compiled loop (``[cpu]``);
  ``layers``: one Triton launch per layer; ``saturating``: int16 saturating arithmetic.

The names below load their module on first use: ``import synnet_triton`` reads the chips'
targets (``SynNet.to_xylo``'s default) without loading the simulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synnet_triton.xylo.design import (
        DesignError,
        DesignReport,
        Violation,
        check_design,
        check_layout,
        check_specification,
    )
    from synnet_triton.xylo.mapping import (
        channel_quantize,
        evaluate_on_xylo,
        global_quantize,
        synnet_float_specification,
        synnet_specification,
    )
    from synnet_triton.xylo.sim import RECORD_KEYS, XyloSim
    from synnet_triton.xylo.spec import XyloSpec
    from synnet_triton.xylo.targets import TARGETS, Target

_HOMES = {
    "synnet_triton.xylo.design": ("DesignError", "DesignReport", "Violation", "check_design",
                                  "check_layout", "check_specification"),
    "synnet_triton.xylo.mapping": ("channel_quantize", "evaluate_on_xylo", "global_quantize",
                                   "synnet_float_specification", "synnet_specification"),
    "synnet_triton.xylo.sim": ("RECORD_KEYS", "XyloSim"),
    "synnet_triton.xylo.spec": ("XyloSpec",),
    "synnet_triton.xylo.targets": ("TARGETS", "Target"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'synnet_triton.xylo' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
