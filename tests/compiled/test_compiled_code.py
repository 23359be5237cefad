"""The readers of compiled code and the performance model on small hand-made inputs whose
answers are derived by hand."""

from __future__ import annotations

import pytest

from synnet_triton.compiled.compiled_code import (
    Stream,
    global_stores_bytes,
    lone_warp_cycles_per_step,
    pipelined_streams,
    sync_loads,
    time_loop,
)
from synnet_triton.compiled.performance_model import DEVICES, Workload, predict_launch


def sass(*lines: str) -> str:
    return "\n".join(f"        /*{16 * k:04x}*/   {text} ;   /* 0x0 */" for k, text in
                     enumerate(lines))


LISTING = sass(
    "MOV R1, c[0x0][0x28]",        # 0x00
    "LDG.E R2, desc[UR4][R6.64]",  # 0x10: before the loop, not counted
    "FADD R1, R1, R2",             # 0x20: loop start
    "LDG.E R3, desc[UR4][R8.64]",  # 0x30
    "LDGSTS.E [R10], desc[UR4][R8.64]",
    "LDGDEPBAR",
    "@P1 BRA 0x40",                # 0x60: an inner loop of 3, not the largest
    "STG.E desc[UR4][R12.64], R1",
    "STG.E.64 desc[UR4][R14.64], R4",
    "@P0 BRA 0x20",                # 0x90: the time loop, 0x20..0x90
    "EXIT",
)


def test_the_largest_backward_branch_is_the_time_loop() -> None:
    loop = time_loop(LISTING)
    assert [i.address for i in loop] == list(range(0x20, 0xA0, 0x10))
    assert sync_loads(loop) == 1
    assert global_stores_bytes(loop) == 4 + 8


def test_a_listing_without_a_loop_is_an_error() -> None:
    with pytest.raises(ValueError, match="no loop"):
        time_loop(sass("MOV R1, R2", "EXIT"))


def test_rings_are_read_with_their_depth_and_bytes() -> None:
    ttgir = """
    %a = ttg.local_alloc : () -> !ttg.memdesc<16x32x1xf32, #shared, #smem, mutable> loc(#l)
    %b = ttg.local_alloc : () -> !ttg.memdesc<8x64xbf16, #shared, #smem, mutable> loc(#l)
    %c = ttg.local_alloc %t : (tensor<32xf32>) -> !ttg.memdesc<32xf32, #shared, #smem> loc(#l)
    """
    assert pipelined_streams(ttgir) == [Stream(16, 128), Stream(8, 128)]


def test_the_issue_model_follows_the_dependency_chain() -> None:
    # one dependent FP32 add per step: 4 cycles a step; an independent op does not add
    chain = time_loop(sass("FADD R1, R1, R2", "@P0 BRA 0x0"))
    assert lone_warp_cycles_per_step(chain) == 4
    parallel = time_loop(sass("FADD R1, R1, R2", "IADD3 R5, R6, R7, RZ", "@P0 BRA 0x0"))
    assert lone_warp_cycles_per_step(parallel) == 4
    # exp on the chain: 18 (MUFU) + 4 (the add that consumes it)
    mufu = time_loop(sass("MUFU.EX2 R3, R1", "FADD R1, R3, R2", "@P0 BRA 0x0"))
    assert lone_warp_cycles_per_step(mufu) == 22
    # five independent instructions: issue-bound at one a cycle (+ the branch)
    wide = time_loop(sass(*[f"IADD3 R{k}, R20, R21, RZ" for k in range(5)], "@P0 BRA 0x0"))
    assert lone_warp_cycles_per_step(wide) == 6


ROW = {"num_warps": 1, "block_n": 32, "registers": 40, "shared": 0, "dynamic_shared": 2048,
       "instructions_per_step": 50, "lone_warp_cycles": 100.0, "steps_in_flight": 16,
       "sync_loads_in_loop": 0, "load_bytes_per_step": 4, "store_bytes_per_step": 8}


def test_a_small_layer_is_bound_by_its_chain_or_by_latency() -> None:
    device = DEVICES["H200"]
    # 4 programs on 132 SMs: one warp per SM. At 600 ns a step of 100 cycles (the chain)
    # beats 600 ns / 16 steps in flight (74 cycles); at 900 ns latency wins (111 cycles).
    prediction = predict_launch(ROW, Workload("w", 4, 1000, 32), device)
    assert prediction.seconds[0] == pytest.approx(1000 * 100 / device.clock_hz)
    assert prediction.seconds[1] == pytest.approx(1000 * 900e-9 / 16)
    assert prediction.bound == "latency"
    assert prediction.bytes == 4 * 1000 * 32 * 12


def test_a_large_layer_is_bandwidth_bound_and_a_sync_load_costs_a_round_trip() -> None:
    device = DEVICES["H200"]
    workload = Workload("w", 64, 10_000, 512)
    prediction = predict_launch(ROW, workload, device)
    moved = 64 * 10_000 * 512 * 12
    assert prediction.bytes == moved and prediction.bound == "bandwidth"
    assert prediction.seconds[0] == pytest.approx(moved / device.bandwidth)
    synchronous = predict_launch({**ROW, "sync_loads_in_loop": 1}, workload, device)
    per_step = 100.0 + device.dram_latency_s[1] * device.clock_hz
    assert synchronous.seconds[1] == pytest.approx(10_000 * per_step / device.clock_hz)
    shallow = predict_launch({**ROW, "steps_in_flight": 2}, workload, device)
    assert shallow.bound == "latency"
    assert shallow.seconds[0] == pytest.approx(10_000 * device.dram_latency_s[0] / 2)
