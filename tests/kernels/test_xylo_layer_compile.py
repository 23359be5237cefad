"""The Xylo layer kernel compiled for sm_80 and sm_90a on this CPU machine (no GPU): every
flag combination the launcher picks builds without register spills, with 64-bit row
offsets (B·T·K may exceed 2**31), and a JIT cache key that does not change with T, K, N or
the batch (no recompilation per layer or clip length)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

CHILD = r"""
import itertools, json, sys
import torch, triton
from triton.backends.compiler import GPUTarget
from synnet_triton.kernels.compile_report import resource_usage, specialize
from synnet_triton.kernels.xylo_layer import xylo_layer_kernel, xylo_layer_plan

def plan(batch, steps, sources, neurons, record, clips, nonpositive):
    i32 = dict(dtype=torch.int32)
    threshold = torch.full((neurons,), -1 if nonpositive else 5, **i32)
    return xylo_layer_plan(
        torch.zeros(batch, steps, sources, **i32), torch.zeros(sources, 2, neurons, **i32),
        torch.zeros(2, neurons, **i32), torch.zeros(neurons, **i32),
        torch.zeros(neurons, **i32), threshold, torch.full((neurons,), 31, **i32),
        torch.zeros(batch, 2, neurons, **i32), torch.zeros(batch, neurons, **i32),
        torch.zeros(batch, steps, neurons, dtype=torch.int16),
        torch.zeros(batch, steps, neurons, 3, dtype=torch.int16) if record else None,
        torch.zeros(batch, steps, 2, neurons, dtype=torch.int8) if clips else None)

rows = []
for capability in (80, 90):
    target = GPUTarget("cuda", capability, 32)
    for record, clips, nonpositive in itertools.product((False, True), repeat=3):
        source, options, key = specialize(
            xylo_layer_kernel, plan(2, 8, 16, 64, record, clips, nonpositive), target)
        _, _, other_key = specialize(
            xylo_layer_kernel, plan(3, 1001, 37, 129, record, clips, nonpositive), target)
        compiled = triton.compile(source, target=target, options=options.__dict__)
        rows.append({"capability": capability, "flags": [record, clips, nonpositive],
                     "same_key": key == other_key, "ttir": compiled.asm["ttir"],
                     **resource_usage(compiled.asm["cubin"])})
print(json.dumps(rows))
"""


def test_every_flag_combination_compiles_without_spills_and_one_key_per_flags() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    child = subprocess.run([sys.executable, "-c", CHILD], check=True, capture_output=True,
                           text=True, env=env, timeout=600)
    rows = json.loads(child.stdout)
    assert len(rows) == 16
    for row in rows:
        assert row["spills"] == 0 and row["stack"] == 0, row["flags"]
        assert 0 < row["registers"] <= 255, row["flags"]
        assert row["same_key"], row["flags"]
        # the row offsets are computed in 64 bits
        assert "arith.extsi" in row["ttir"] and "i64" in row["ttir"], row["flags"]
