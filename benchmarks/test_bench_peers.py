"""Issue 2's CPU comparison as a pytest-benchmark group: fwd+bwd at B=8, T=1000, N=128, S=1,
PeriodicExponential, M=31 for ours and every installed peer (Rockpool ``LIFTorch``, snnTorch
``Synaptic`` with subtract reset, and Norse, SpikingJelly, torch loops where present).

Every contender runs in the same session on the same input; pytest-benchmark's group table
compares them. Missing peers are skipped with the reason. The interleaved version with ratios
and memory is ``python -m synnet_triton.bench --suite issue2``.
"""

from __future__ import annotations

import pytest

from synnet_triton.bench import (
    FORWARD_BACKWARD,
    all_contenders,
    make_input,
    pass_call,
    suite_workloads,
    synchronized,
)

ROUNDS = 3
CONTENDERS = {c.name: c for c in all_contenders()}


@pytest.mark.parametrize("name", list(CONTENDERS))
def test_issue2_fwd_bwd(benchmark, device, name):
    contender = CONTENDERS[name]
    (workload,) = suite_workloads("issue2", device)
    reason = contender.unavailable(workload, device)
    if reason is not None:
        pytest.skip(reason)
    runner = contender.build(workload, device)
    x = runner.prepare(make_input(workload, device, seed=0)).requires_grad_()

    benchmark.group = f"issue 2: LIF fwd+bwd {workload.name} ({device.type})"
    benchmark.extra_info.update(neuron_steps=workload.neuron_steps, note=contender.note)
    benchmark.pedantic(synchronized(pass_call(runner, x, FORWARD_BACKWARD), device),
                       rounds=ROUNDS, warmup_rounds=1)
