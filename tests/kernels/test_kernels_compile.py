"""Ahead-of-time builds of the kernels for sm_80 and sm_90a, on this CPU machine.

What a GPU run would compile, checked without a GPU, for every build the launchers can pick:
no register spills, FP contraction off and IEEE division in the PTX (bitwise spikes), no
flush-to-zero in the SASS, 64-bit row offsets in the TTIR (B·T·N·S may exceed 2**31), no
synchronous global load in the time loop, every input stream pipelined >= 8 steps deep with
>= 2 KB in flight per warp (Little's law at ~700 ns DRAM latency), and a JIT cache key that
does not change with T, B or N (no recompilation).
"""

from __future__ import annotations

import re

import pytest

from synnet_triton.compiled import compile_report, format_compile_report
from synnet_triton.compiled.compile_report import (
    BACKWARD_BUILDS,
    FORWARD_BUILDS,
    SURROGATES,
    all_builds,
)
from synnet_triton.compiled.compiled_code import instructions, time_loop
from synnet_triton.compiled.performance_model import DEVICES, predict

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


def test_no_atomic_instruction_in_any_build(report):
    """Run-to-run determinism on the GPU by construction: every output element (and every
    per-(batch, neuron) partial gradient, reduced afterwards by torch) is written by one
    thread, never accumulated with atomics, so no result depends on the order programs run
    in. (Under the interpreter programs run one at a time, so a repeated run there cannot
    show this; ``test_kernels_cuda.py`` repeats runs on a GPU.)"""
    for row in report:
        atomics = [i.text for i in instructions(row["sass"])
                   if i.opcode.split(".")[0] in ("ATOM", "ATOMG", "ATOMS", "RED", "REDG")]
        assert atomics == [], row["name"]
        assert re.search(r"(?<![\w.])(atom|red)\.", row["ptx"]) is None, row["name"]


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


def test_every_build_is_listed():
    names = [name for name, _, _ in all_builds()]
    forward = {n.split("]")[0] + "]" for n in names if n.startswith("lif_forward")}
    assert forward == {f"lif_forward[{b}]" for b in FORWARD_BUILDS}
    backward = {n.split("]")[0] + "]" for n in names if n.startswith("lif_backward")}
    assert backward == {f"lif_backward[{b} {s}]" for b in BACKWARD_BUILDS for s, _ in SURROGATES}
    for shape in ("BLOCK_N=32 S=1", "BLOCK_N=32 S=2", "BLOCK_N=64 S=1", "BLOCK_N=64 S=2"):
        assert sum(n.endswith(shape) for n in names) == len(forward) + len(backward)


def test_time_loops_have_no_synchronous_load_and_deep_prefetch(report):
    for row in report:
        assert row["sync_loads_in_loop"] == 0, row["name"]
        assert row["steps_in_flight"] >= 8, row["name"]
        assert row["bytes_in_flight"] >= 2048, row["name"]
        assert row["streams"] >= 1, row["name"]


def test_sass_of_the_time_loop_agrees_with_the_ttgir(report):
    """The SASS loop issues asynchronous copies (LDGSTS) for the pipelined streams and waits
    on them (DEPBAR); the reported instruction count is that loop's."""
    for row in report:
        loop = time_loop(row["sass"])
        assert sum("LDGSTS" in i.text for i in loop) >= row["streams"], row["name"]
        assert any("DEPBAR" in i.text for i in loop), row["name"]
        assert len(loop) == row["instructions_per_step"], row["name"]


def test_no_flush_to_zero_of_denormals(report):
    """No .ftz in the PTX and none in the time loop's SASS. (ptxas' own slow path of the IEEE
    division, a subroutine outside the loop, tests |x| against infinity with FTZ compares,
    which give the same answer for every input.)"""
    for row in report:
        assert ".ftz" not in row["ptx"], row["name"]
        assert not [i.text for i in time_loop(row["sass"]) if ".FTZ" in i.text], row["name"]


def test_the_model_predicts_the_roofline_targets(report):
    """Issue targets, as a model read from this build's code (H100 and H200): long audio
    fwd+bwd within 1.3x of the HBM roofline for the x-only and the all-gradients backward;
    a SynNet layer (B=32, T=1000, N=64) under 0.3 ms fwd+bwd. A model, not a measurement."""
    if report[0]["capability"] != 90:
        pytest.skip("the model is for sm_90 (H100/H200) builds")
    for device in DEVICES:
        table = predict(report, device)
        long_audio = [row for row in table if row["workload"].startswith("(a)")]
        assert {row["backward"] for row in long_audio} == {"x only", "all gradients"}
        for row in long_audio:
            assert row["times_roofline"][1] <= 1.3, (device, row)
        for row in table:
            if row["workload"].startswith("(c)"):
                assert row["total_s"][1] <= 0.3e-3, (device, row)
