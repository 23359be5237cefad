"""The kernels of the Xylo simulation and of hardware-exact training compiled for sm_80 and
sm_90a on this CPU machine (no GPU). The Xylo layer kernel: every flag combination the
launcher picks builds without register spills, with 64-bit row offsets (B·T·K may exceed
2**31), and a JIT cache key that does not change with T, K, N or the batch (no
recompilation per layer or clip length). The reverse scan: no spills, one key for every
length and width, and its multiply and add rounded apart in the PTX (no FMA), as the CPU
loop it must equal bitwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import itertools, json, sys
import torch, triton
from triton.backends.compiler import GPUTarget
from synnet_triton.compiled.compile_report import resource_usage, specialize
from synnet_triton.kernels.reverse_scan import reverse_scan_kernel, reverse_scan_plan
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
        torch.zeros(batch, steps, 2, neurons, dtype=torch.int8) if clips else None,
        nonpositive=nonpositive)

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
scans = []
for capability in (80, 90):
    target = GPUTarget("cuda", capability, 32)
    def scan_plan(*shape):
        arrays = [torch.zeros(shape) for _ in range(3)]
        return reverse_scan_plan(arrays[0], arrays[1], torch.zeros(shape[1:]), arrays[2])
    source, options, key = specialize(reverse_scan_kernel, scan_plan(31, 2, 64), target)
    _, _, other_key = specialize(reverse_scan_kernel, scan_plan(1000, 3, 129), target)
    compiled = triton.compile(source, target=target, options=options.__dict__)
    scans.append({"capability": capability, "same_key": key == other_key,
                  "ptx": compiled.asm["ptx"], **resource_usage(compiled.asm["cubin"])})
print(json.dumps({"layers": rows, "scans": scans}))
"""


@pytest.fixture(scope="module")
def builds() -> dict[str, list[dict]]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    child = subprocess.run([sys.executable, "-c", CHILD], check=True, capture_output=True,
                           text=True, env=env, timeout=600)
    return json.loads(child.stdout)


def test_the_xylo_layer_kernel_builds_without_spills_and_one_key_per_flags(builds) -> None:
    rows = builds["layers"]
    assert len(rows) == 16
    for row in rows:
        assert row["spills"] == 0 and row["stack"] == 0, row["flags"]
        assert 0 < row["registers"] <= 255, row["flags"]
        assert row["same_key"], row["flags"]
        # the row offsets are computed in 64 bits
        assert "arith.extsi" in row["ttir"] and "i64" in row["ttir"], row["flags"]


def test_the_reverse_scan_builds_without_spills_or_fma(builds) -> None:
    for row in builds["scans"]:
        assert row["spills"] == 0 and row["stack"] == 0, row["capability"]
        assert row["same_key"], row["capability"]
        assert "mul.rn.f32" in row["ptx"] and "add.rn.f32" in row["ptx"], row["capability"]
        assert "fma" not in row["ptx"], row["capability"]
