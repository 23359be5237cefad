"""The Xylo layer kernel's addresses along time are 64-bit, read from its compiled TTIR.

A row of drive, spikes, records or clip flags holds T·N elements; t · N computed in int32
wraps once that passes 2^31 (an hour at 1 ms with N ≥ 600). The interpreter cannot show it
(its loop index is a Python int), so the test reads what the compiler is given: no scalar
int32 multiplication in the kernel but the bounded ones (a program's first neuron, a weight
row k · N with k and N within Xylo's sizes)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

CHILD = """
import json, re, torch, triton
from triton.backends.compiler import GPUTarget
from synnet_triton.compiled.compile_report import specialize
from synnet_triton.kernels.xylo_layer import xylo_layer_kernel, xylo_layer_plan
i32 = dict(dtype=torch.int32)
b, t, k, n = 2, 8, 16, 64
plan = xylo_layer_plan(
    torch.zeros(b, t, k, **i32), torch.zeros(k, 2, n, **i32), torch.zeros(2, n, **i32),
    torch.zeros(n, **i32), torch.zeros(n, **i32), torch.full((n,), 5, **i32),
    torch.full((n,), 31, **i32), torch.zeros(b, 2, n, **i32), torch.zeros(b, n, **i32),
    torch.zeros(b, t, n, dtype=torch.int16), torch.zeros(b, t, n, 3, dtype=torch.int16),
    torch.zeros(b, t, 2, n, dtype=torch.int8), nonpositive=True)
target = GPUTarget("cuda", 90, 32)
source, options, _ = specialize(xylo_layer_kernel, plan, target)
ttir = triton.compile(source, target=target, options=options.__dict__).asm["ttir"]
print(json.dumps(re.findall(r"%(\\w+) = arith\\.muli [^:]*: i32 ", ttir)))
"""

BOUNDED = {"neurons", "w"}
"""The int32 products whose factors Xylo's sizes bound (≤ 1 000 neurons, ≤ 1 016 sources):
a program's first neuron and the weight rows (``w_0``, ``w_1``; numeric suffixes dropped)."""


def test_no_int32_product_grows_with_time() -> None:
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    run = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    # SSA names are the source's variable names with numeric suffixes: w_0_93 is w_0
    names = json.loads(run.stdout.splitlines()[-1])
    products = {re.sub(r"(_\d+)+$", "", name) for name in names}
    assert products, "no int32 product found: the TTIR reading is broken"
    assert sorted(products - BOUNDED) == []
