"""Ahead-of-time builds of the kernels for sm_80 and sm_90a, on this CPU machine.

What a GPU run would compile, checked without a GPU: no register spills, FP contraction off
and IEEE division in the PTX (bitwise spikes), 64-bit row offsets in the TTIR (B·T·N·S may
exceed 2**31), asynchronous copies in the PTX (loads of later steps are pipelined), and a JIT
cache key that does not change with T, B or N (no recompilation).
"""

from __future__ import annotations

import re

import pytest
import torch
from synnet_triton.kernels import compile_report, format_compile_report
from synnet_triton.kernels.compile_report import all_builds, specialize
from synnet_triton.kernels.lif_backward import (
    PERIODIC_EXPONENTIAL,
    lif_backward_arguments,
    lif_backward_kernel,
)
from synnet_triton.kernels.lif_forward import lif_forward_arguments, lif_forward_kernel
from triton.backends.compiler import GPUTarget

CAPABILITIES = (80, 90)


@pytest.fixture(scope="module", params=CAPABILITIES)
def report(request):
    return compile_report(request.param, with_asm=True)


def test_every_configuration_builds_without_spills(report):
    assert [row["name"] for row in report] == [name for name, _, _ in all_builds()]
    for row in report:
        assert row["cubin"][:4] == b"\x7fELF", row["name"]
        assert 0 < row["registers"] <= 255, row["name"]
        assert row["spills"] == 0, row["name"]
        assert row["stack"] == 0, row["name"]
    table = format_compile_report(report)
    assert len(table.splitlines()) == len(report) + 1


def test_ptx_has_no_fused_multiply_add_and_an_ieee_division(report):
    for row in report:
        assert "fma.rn.f32" not in row["ptx"], row["name"]
        assert "div.rn.f32" in row["ptx"], row["name"]


def test_row_offsets_are_64_bit(report):
    """Every pointer advanced by a scalar offset (batch row, time step) uses an i64 offset."""
    for row in report:
        widths = re.findall(r"tt\.addptr %\S+, %\S+ : !tt\.ptr<[^>]+>, (i\d+)", row["ttir"])
        assert len(widths) >= 4, row["name"]
        assert set(widths) == {"i64"}, row["name"]


def test_loads_of_later_steps_are_asynchronous_copies(report):
    for row in report:
        assert "cp.async" in row["ptx"], row["name"]


def forward_plan(batch: int, steps: int, n_neurons: int, n_synapses: int, every: int = 0):
    x = torch.zeros(batch, steps, n_neurons * n_synapses)
    state = torch.zeros(batch, n_neurons)
    outputs: dict = dict(spikes=torch.zeros(batch, steps, n_neurons))
    if every:
        n_ckpt = -(-steps // every)
        outputs.update(
            ckpt_v=torch.zeros(batch, n_ckpt, n_neurons),
            ckpt_i=torch.zeros(batch, n_ckpt, n_neurons, n_synapses),
            ckpt_s=torch.zeros(batch, n_ckpt, n_neurons),
            checkpoint_every=every,
        )
    else:
        outputs.update(u=torch.zeros(batch, steps, n_neurons))
    return lif_forward_arguments(
        x, None, torch.ones(n_neurons), torch.ones(n_neurons, n_synapses),
        torch.ones(n_neurons), torch.zeros(n_neurons), state,
        torch.zeros(batch, n_neurons, n_synapses), state.clone(),
        n_steps=steps, seq_start=0, max_spikes=31.0, **outputs,
    )  # fmt: skip


def backward_plan(batch: int, steps: int, n_neurons: int):
    x = torch.zeros(batch, steps, n_neurons)
    per_step = torch.zeros(batch, steps, n_neurons)
    state = torch.zeros(batch, n_neurons)
    return lif_backward_arguments(
        per_step, x, per_step.clone(), None, None, torch.ones(n_neurons),
        torch.ones(n_neurons, 1), torch.ones(n_neurons), state, torch.zeros(batch, n_neurons, 1),
        state.clone(), state.clone(), torch.zeros(batch, n_neurons, 1),
        n_steps=steps, seq_start=0, max_spikes=31.0, window=0.5,
        surrogate=PERIODIC_EXPONENTIAL, grad_x=torch.zeros_like(x), partial_bias=state.clone(),
    )  # fmt: skip


def cache_key(kernel, plan):
    return specialize(kernel, plan, GPUTarget("cuda", 90, 32))[2]


def test_new_sequence_length_batch_or_layer_size_reuses_the_compiled_kernel():
    """JIT cache keys, computed by Triton's own binder from the launchers' arguments.

    T = 1 and 16 are the values Triton would specialise (== 1, divisible by 16); N stays in
    one BLOCK_N bucket. Under the interpreter there is no kernel cache to inspect, so the key
    is computed as the compiled path would compute it.
    """
    shapes = [(2, 1, 33), (2, 16, 33), (3, 37, 5), (1, 1000, 100)]
    keys = {cache_key(lif_forward_kernel, forward_plan(b, t, n, 1)) for b, t, n in shapes}
    assert len(keys) == 1
    keys = {cache_key(lif_forward_kernel, forward_plan(b, t, n, 1, 4)) for b, t, n in shapes}
    assert len(keys) == 1
    keys = {cache_key(lif_backward_kernel, backward_plan(b, t, n)) for b, t, n in shapes}
    assert len(keys) == 1


def test_the_cache_key_does_see_constexpr_changes():
    """The key above is sensitive: S, checkpointing and the neuron bucket change it."""
    base = cache_key(lif_forward_kernel, forward_plan(2, 8, 33, 1))
    assert cache_key(lif_forward_kernel, forward_plan(2, 8, 33, 2)) != base
    assert cache_key(lif_forward_kernel, forward_plan(2, 8, 33, 1, 4)) != base
    assert cache_key(lif_forward_kernel, forward_plan(2, 8, 2048, 1)) != base
