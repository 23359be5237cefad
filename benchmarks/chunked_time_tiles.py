"""Issue 19's approach (b), measured against the shipped approach (a) in the compiled code.

(a), shipped in ``kernels/lif_forward.py``: one step per loop iteration, the x load pipelined
``NUM_STAGES - 1`` steps deep by Triton's pipeliner (a shared-memory ring per stream).

(b), here only: each iteration loads a ``[CHUNK_T, BLOCK_N]`` tile of steps (pipelined a few
chunks deep) and steps through it in registers, picking step k with
``tl.sum(tl.where(t == k, tile, -0.0), axis=0)`` — a register read when the layout keeps the
time axis inside each thread (``threadsPerWarp = [1, 32]``); the filler is −0.0 because
x + (−0.0) is x bitwise. Spikes and u are gathered into tiles the same way and stored once per
chunk. Steps past ``n_steps`` in the last chunk leave the state unchanged.

The kernel is the forward's "train" build for S = 1 (x in; spikes, u and the final state out),
the build whose x stream issue 19 sizes. ``python benchmarks/chunked_time_tiles.py`` compiles
(a) and (b) for sm_90 and sm_80 with the kernels' compile options and prints, per build, the figures
``compile_report`` reads (registers, spills, shared memory, SASS instructions per step,
steps and bytes in flight per warp, synchronous loads, shuffles and shared-memory accesses in
the loop) and checks (b) bitwise against the torch reference under ``TRITON_INTERPRET=1`` (run
in a child process) on T = 0, 1, a multiple of CHUNK_T and not.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
from typing import Any

import torch
import triton
import triton.language as tl
from synnet_triton.kernels.launch import COMPILE_OPTIONS
from synnet_triton.kernels.lif_forward import multi_spike

CHUNKS = (8, 16, 32)
"""CHUNK_T values compared."""


@triton.jit(do_not_specialize=("n_steps", "n_neurons"))
def chunked_forward_kernel(
    x_ptr,  # (B, T, N) float32
    alpha_ptr, beta_ptr, threshold_ptr, bias_ptr,  # (N,) float32
    spikes_ptr, u_ptr,  # (B, T, N) float32
    final_v_ptr, final_i_ptr, final_s_ptr,  # (B, N) float32
    n_steps, n_neurons, max_spikes,
    BLOCK_N: tl.constexpr, CHUNK_T: tl.constexpr, NUM_STAGES: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    n_mask = n < n_neurons
    alpha = tl.load(alpha_ptr + n, mask=n_mask, other=1.0)
    beta = tl.load(beta_ptr + n, mask=n_mask, other=0.0)
    threshold = tl.load(threshold_ptr + n, mask=n_mask, other=1.0)
    bias = tl.load(bias_ptr + n, mask=n_mask, other=0.0)
    v = tl.zeros([BLOCK_N], tl.float32)
    i = tl.zeros([BLOCK_N], tl.float32)
    s = tl.zeros([BLOCK_N], tl.float32)
    t_idx = tl.arange(0, CHUNK_T)
    row = b * n_steps * n_neurons
    for t0 in tl.range(0, n_steps, CHUNK_T, num_stages=NUM_STAGES):
        in_time = (t0 + t_idx) < n_steps
        mask = in_time[:, None] & n_mask[None, :]
        offsets = row + (t0 + t_idx)[:, None].to(tl.int64) * n_neurons + n[None, :]
        tile = tl.load(x_ptr + offsets, mask=mask, other=-0.0)
        spikes = tl.zeros([CHUNK_T, BLOCK_N], tl.float32)
        us = tl.zeros([CHUNK_T, BLOCK_N], tl.float32)
        for k in tl.static_range(CHUNK_T):
            at_k = t_idx[:, None] == k
            x = tl.sum(tl.where(at_k, tile, -0.0), axis=0)
            live = t0 + k < n_steps
            i_next = (i + x) * beta
            u = alpha * v + i_next + bias
            s_next = multi_spike(u, threshold, max_spikes)
            v = tl.where(live, u - s_next * threshold, v)
            i = tl.where(live, i_next, i)
            s = tl.where(live, s_next, s)
            spikes = tl.where(at_k, s_next[None, :], spikes)
            us = tl.where(at_k, u[None, :], us)
        tl.store(spikes_ptr + offsets, spikes, mask=mask)
        tl.store(u_ptr + offsets, us, mask=mask)
    tl.store(final_v_ptr + b * n_neurons + n, v, mask=n_mask)
    tl.store(final_i_ptr + b * n_neurons + n, i, mask=n_mask)
    tl.store(final_s_ptr + b * n_neurons + n, s, mask=n_mask)


def launch(x: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor, threshold: torch.Tensor,
           bias: torch.Tensor, max_spikes: float, chunk: int, block_n: int = 32,
           num_stages: int = 3) -> dict[str, torch.Tensor]:
    """Run (b) on x (B, T, N): spikes, u (B, T, N) and the final v, i, s (B, N)."""
    batch, steps, n_neurons = x.shape
    out = {name: torch.zeros_like(x) for name in ("spikes", "u")}
    out.update({name: x.new_zeros(batch, n_neurons) for name in ("v", "i", "s")})
    grid = (batch, triton.cdiv(n_neurons, block_n))
    chunked_forward_kernel[grid](
        x, alpha, beta, threshold, bias, out["spikes"], out["u"], out["v"], out["i"], out["s"],
        steps, n_neurons, max_spikes, BLOCK_N=block_n, CHUNK_T=chunk, NUM_STAGES=num_stages,
        num_warps=1, **COMPILE_OPTIONS,
    )
    return out


def check_against_reference() -> list[str]:
    """(b) under the interpreter against the torch reference, bitwise; the failures."""
    from synnet_triton.ops.lif.functional import lif_decays

    failures = []
    generator = torch.Generator().manual_seed(0)
    for steps in (0, 1, 8, 13, 40):
        for chunk in (8, 16):
            x = torch.randn(2, steps, 37, generator=generator) * 2
            alpha = torch.rand(37, generator=generator) * 0.5 + 0.5
            beta = torch.rand(37, generator=generator) * 0.5 + 0.5
            threshold = torch.rand(37, generator=generator) + 0.5
            bias = torch.randn(37, generator=generator) * 0.1
            ours = launch(x, alpha, beta, threshold, bias, 31.0, chunk)
            reference, final = lif_decays(x, alpha, beta.reshape(37, 1), threshold, bias,
                                          max_spikes_per_dt=31.0, output_final_state=True,
                                          backend="torch")
            assert final is not None
            pairs = {"spikes": (ours["spikes"], reference.spikes), "v": (ours["v"], final.vmem),
                     "i": (ours["i"], final.isyn[..., 0]), "s": (ours["s"], final.spikes)}
            for name, (a, b) in pairs.items():
                if not torch.equal(a.view(torch.int32), b.view(torch.int32)):
                    failures.append(f"T={steps} CHUNK_T={chunk}: {name} differs")
    return failures


def compiled_figures(capability: int) -> list[dict[str, Any]]:
    """(a)'s train build and (b) at each CHUNK_T, compiled for sm_<capability>."""
    from triton.backends.compiler import GPUTarget

    report = importlib.import_module("synnet_triton.compiled.compile_report")
    from synnet_triton.kernels.lif_forward import lif_forward_kernel

    from synnet_triton.compiled.compiled_code import pipelined_streams, time_loop

    target = GPUTarget("cuda", capability, 32)
    rows = []
    shipped = dict(report.forward_plans(64, 1))["train"]
    source, options, _ = report.specialize(lif_forward_kernel, shipped, target)
    compiled = triton.compile(source, target=target, options=options.__dict__)
    rows.append(_row(f"(a) num_stages={shipped.options['NUM_STAGES']}", compiled, 1,
                     time_loop, pipelined_streams, report))
    for chunk in CHUNKS:
        for stages in (2, 3):
            x = torch.zeros(2, 8, 64)
            vec = torch.ones(64)
            args = (x, vec, vec, vec, vec, x, x, vec[None], vec[None], vec[None], 8, 64, 31.0)
            plan = report.LaunchPlan((2, 2), args, {"BLOCK_N": 32, "CHUNK_T": chunk,
                                                    "NUM_STAGES": stages, "num_warps": 1,
                                                    **COMPILE_OPTIONS})
            source, options, _ = report.specialize(chunked_forward_kernel, plan, target)
            compiled = triton.compile(source, target=target, options=options.__dict__)
            rows.append(_row(f"(b) CHUNK_T={chunk} num_stages={stages}", compiled, chunk,
                             time_loop, pipelined_streams, report))
    return rows


def _row(name: str, compiled: Any, steps_per_iteration: int, time_loop: Any,
         pipelined_streams: Any, report: Any) -> dict[str, Any]:
    sass = report.run_cuobjdump(compiled.asm["cubin"], "-sass")
    ttgir = compiled.asm["ttgir"]
    loop = time_loop(sass)
    streams = pipelined_streams(ttgir)
    opcodes = [instruction.opcode.split(".")[0] for instruction in loop]
    layouts = sorted(set(re.findall(r"threadsPerWarp = \[([\d, ]+)\]", ttgir)))
    depth = min((stream.depth for stream in streams), default=0)
    return {
        "build": name,
        **report.resource_usage(compiled.asm["cubin"]),
        "dynamic_shared": compiled.metadata.shared,
        "instructions_per_step": round(len(loop) / steps_per_iteration, 1),
        "steps_in_flight": depth * (steps_per_iteration if streams else 0),
        "x_bytes_in_flight_per_warp": sum(st.depth * st.step_bytes for st in streams),
        "sync_loads_in_loop": opcodes.count("LDG"),
        "shuffles_in_loop": opcodes.count("SHFL"),
        "shared_accesses_in_loop": sum(opcodes.count(op) for op in ("LDS", "STS")),
        "layouts_threadsPerWarp": layouts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.check_only:
        failures = check_against_reference()
        print(json.dumps(failures))
        return 1 if failures else 0
    env = dict(os.environ, TRITON_INTERPRET="1")
    child = subprocess.run([sys.executable, __file__, "--check-only"], env=env,
                           capture_output=True, text=True)
    print("interpreter, bitwise against the torch reference:",
          "exact" if child.returncode == 0 else child.stdout + child.stderr[-2000:])
    for capability in (90, 80):
        print(f"\nsm_{capability}")
        for row in compiled_figures(capability):
            print(json.dumps(row))
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
