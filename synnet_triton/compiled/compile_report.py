"""Ahead-of-time builds of every kernel configuration, without a GPU: registers and spills.

``triton.compile(ASTSource(...), target=GPUTarget("cuda", capability, 32))`` runs the whole
NVIDIA pipeline (TTIR → TTGIR → LLVM → PTX → ptxas → cubin) on a CPU machine. The argument
types, constexprs and alignment attributes come from the launchers' own launch plans passed
through Triton's JIT binder, i.e. exactly what a launch on a GPU would compile. The resource
usage of each cubin is read with the ``cuobjdump --dump-resource-usage`` bundled in the
triton wheel.

Configurations: the launchers pick BLOCK_N (two buckets, :func:`block_config`) and S from
the layer; the flag constexprs from the call. Reported are, per BLOCK_N bucket and
S ∈ {1, 2}: the training forward (spikes + saved u), the forward with everything on
(noise, records, checkpoints, final state), and the backward with every gradient and
every incoming gradient for each surrogate. The builds with every flag on hold the most
live values, so they bound register use and spills of the lighter flag combinations.
"""

from __future__ import annotations

import base64
import concurrent.futures
import functools
import itertools
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import triton
from torch import Tensor
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource, make_backend
from triton.runtime.jit import JITFunction

from synnet_triton.compiled.compiled_code import (
    global_stores_bytes,
    lone_warp_cycles_per_step,
    pipelined_streams,
    sync_loads,
    time_loop,
)
from synnet_triton.kernels.launch import LaunchPlan
from synnet_triton.kernels.lif_backward import (
    PERIODIC_EXPONENTIAL,
    STEP_PWL,
    lif_backward_arguments,
    lif_backward_kernel,
)
from synnet_triton.kernels.lif_forward import (
    block_config,
    lif_forward_arguments,
    lif_forward_kernel,
)

# A layer size per BLOCK_N bucket of block_config.
BUCKET_NEURONS = (64, 2048)
SYNAPSES = (1, 2)


def jit_function(kernel: Any) -> JITFunction:
    """The compilable JITFunction of a kernel, also when TRITON_INTERPRET=1 wrapped it."""
    if isinstance(kernel, JITFunction):
        return kernel
    options = {
        k: kernel.kwargs.get(k) for k in ("do_not_specialize", "do_not_specialize_on_alignment")
    }
    return JITFunction(kernel.fn, **options)


def specialize(kernel: Any, plan: LaunchPlan, target: GPUTarget) -> tuple[ASTSource, Any, Any]:
    """What the JIT would compile for ``plan`` on ``target``: (source, options, cache key).

    ``key`` is the JIT cache key of the launch: equal keys mean no recompilation.
    """
    fn = jit_function(kernel)
    backend = make_backend(target)
    # Triton's private binder API (checked with triton 3.9), imported here so that importing
    # the kernels never depends on it.
    from triton.runtime.jit import create_function_from_signature

    binder = create_function_from_signature(fn.signature, fn.params, backend)
    bound_args, specialization, options = binder(*plan.args, **plan.options)
    key = (tuple(map(str, specialization)), str(options))
    compile_options, signature, constexprs, attrs = fn._pack_args(
        backend, dict(plan.options), bound_args, specialization, options
    )
    source = ASTSource(fn, signature, constexprs, attrs)
    return source, compile_options, key


FORWARD_BUILDS = ("train", "inference", "records", "checkpoints", "noise", "recompute")
"""The forward's flag combinations the launchers pick: a training call (spikes, saved u,
final state), inference (no save), records (+ vmem, isyn), a checkpointed training call,
membrane noise, and the backward's recomputation of one checkpoint segment (u only)."""
BACKWARD_BUILDS = ("x", "x+tau", "all")
"""The backward's gradient sets: x only (SynNet's default), x and both time constants, and
every gradient with every incoming gradient."""
SURROGATES = (("periodic_exponential", PERIODIC_EXPONENTIAL), ("step_pwl", STEP_PWL))


def forward_plans(n_neurons: int, n_synapses: int) -> Iterator[tuple[str, LaunchPlan]]:
    """The forward's launch plans for one layer shape, one per entry of FORWARD_BUILDS."""
    batch, steps = 2, 8
    x = torch.zeros(batch, steps, n_neurons * n_synapses)
    params = (
        torch.ones(n_neurons),
        torch.ones(n_neurons, n_synapses),
        torch.ones(n_neurons),
        torch.zeros(n_neurons),
    )
    state = (
        torch.zeros(batch, n_neurons),
        torch.zeros(batch, n_neurons, n_synapses),
        torch.zeros(batch, n_neurons),
    )

    def per_step() -> Tensor:
        return torch.zeros(batch, steps, n_neurons)

    def final() -> dict[str, Tensor]:
        return dict(final_v=torch.zeros(batch, n_neurons),
                    final_i=torch.zeros(batch, n_neurons, n_synapses),
                    final_s=torch.zeros(batch, n_neurons))

    def plan(noise: Tensor | None = None, **outputs: Any) -> LaunchPlan:
        return lif_forward_arguments(x, noise, *params, *state, n_steps=steps, seq_start=0,
                                     max_spikes=31.0, **outputs)

    checkpoints: dict[str, Any] = dict(
        ckpt_v=torch.zeros(batch, 2, n_neurons),
        ckpt_i=torch.zeros(batch, 2, n_neurons, n_synapses),
        ckpt_s=torch.zeros(batch, 2, n_neurons), checkpoint_every=4,
    )
    plans = {
        "train": plan(spikes=per_step(), u=per_step(), **final()),
        "inference": plan(spikes=per_step(), **final()),
        "records": plan(spikes=per_step(), vmem=per_step(),
                        isyn=torch.zeros(batch, steps, n_neurons, n_synapses), u=per_step(),
                        **final()),
        "checkpoints": plan(spikes=per_step(), **checkpoints, **final()),
        "noise": plan(per_step(), spikes=per_step(), u=per_step(), **final()),
        "recompute": plan(u=per_step()),
    }
    yield from ((name, plans[name]) for name in FORWARD_BUILDS)


def backward_plans(n_neurons: int, n_synapses: int) -> Iterator[tuple[str, LaunchPlan]]:
    """The backward's launch plans for one layer shape: BACKWARD_BUILDS × SURROGATES."""
    batch, steps = 2, 8
    x = torch.zeros(batch, steps, n_neurons * n_synapses)

    def per_step() -> Tensor:
        return torch.zeros(batch, steps, n_neurons)

    def state() -> Tensor:
        return torch.zeros(batch, n_neurons)

    def state_syn() -> Tensor:
        return torch.zeros(batch, n_neurons, n_synapses)

    for surrogate, code in SURROGATES:
        for build in BACKWARD_BUILDS:
            everything = build == "all"
            taus = build in ("x+tau", "all")
            yield f"{build} {surrogate}", lif_backward_arguments(
                per_step(), x, per_step(),
                per_step() if everything else None,
                torch.zeros(batch, steps, n_neurons, n_synapses) if everything else None,
                torch.ones(n_neurons), torch.ones(n_neurons, n_synapses), torch.ones(n_neurons),
                state(), state_syn(), state(), state(), state_syn(),
                n_steps=steps, seq_start=0, max_spikes=31.0, window=0.5, surrogate=code,
                grad_x=torch.zeros_like(x),
                partial_alpha=state() if taus else None,
                partial_beta=state_syn() if taus else None,
                beta_scan=state_syn() if taus else None,
                partial_threshold=state() if everything else None,
                partial_bias=state() if everything else None,
            )  # fmt: skip


def all_builds() -> Iterator[tuple[str, Any, LaunchPlan]]:
    """(build name, kernel, launch plan) of every configuration the launchers can pick."""
    for n_neurons in BUCKET_NEURONS:
        block_n, _ = block_config(n_neurons)
        for n_synapses in SYNAPSES:
            shape = f"BLOCK_N={block_n} S={n_synapses}"
            for flags, plan in forward_plans(n_neurons, n_synapses):
                yield f"lif_forward[{flags}] {shape}", lif_forward_kernel, plan
            for flags, plan in backward_plans(n_neurons, n_synapses):
                yield f"lif_backward[{flags}] {shape}", lif_backward_kernel, plan


def cuobjdump() -> Path:
    """The cuobjdump binary shipped inside the triton wheel."""
    path = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    if not path.exists():
        raise FileNotFoundError(f"no cuobjdump in the triton wheel at {path}")
    return path


def run_cuobjdump(cubin: bytes, flag: str) -> str:
    """``cuobjdump FLAG`` of a cubin: ``--dump-resource-usage`` or ``-sass``."""
    with tempfile.NamedTemporaryFile(suffix=".cubin") as handle:
        handle.write(cubin)
        handle.flush()
        return subprocess.run(
            [str(cuobjdump()), flag, handle.name], check=True, capture_output=True, text=True
        ).stdout


def resource_usage(cubin: bytes) -> dict[str, int]:
    """registers (per thread), spills, stack and shared (bytes) of a one-kernel cubin.

    cuobjdump reports local memory per thread as LOCAL: these kernels have no local arrays,
    so any local memory is register spill.
    """
    text = run_cuobjdump(cubin, "--dump-resource-usage")

    def field(name: str) -> int:
        match = re.search(rf"\b{name}:(\d+)", text)
        if match is None:
            raise ValueError(f"cuobjdump printed no {name}: {text!r}")
        return int(match.group(1))

    return {
        "registers": field("REG"),
        "spills": field("LOCAL"),
        "stack": field("STACK"),
        "shared": field("SHARED"),
    }


def loop_analysis(ttgir: str, sass: str, num_warps: int) -> dict[str, Any]:
    """The time loop's figures, read from the compiled code (see :mod:`.compiled_code`).

    ``instructions_per_step``: SASS instructions in the loop (one iteration is one step);
    ``steps_in_flight``: the shallowest pipelined input stream's depth (0: none pipelined);
    ``bytes_in_flight``: per warp, over all pipelined streams; ``sync_loads_in_loop``: plain
    ``LDG`` in the loop; ``streams``: pipelined input streams; ``load_bytes_per_step`` and
    ``store_bytes_per_step``: per thread (one neuron per thread); ``lone_warp_cycles``: the
    in-order issue model of one warp per step with its data ready.
    """
    loop = time_loop(sass)
    streams = pipelined_streams(ttgir)
    threads = 32 * num_warps
    return {
        "instructions_per_step": len(loop),
        "steps_in_flight": min((st.depth for st in streams), default=0),
        "bytes_in_flight": sum(st.depth * st.step_bytes for st in streams) // num_warps,
        "sync_loads_in_loop": sync_loads(loop),
        "streams": len(streams),
        "load_bytes_per_step": sum(st.step_bytes for st in streams) // threads,
        "store_bytes_per_step": global_stores_bytes(loop),
        "lone_warp_cycles": lone_warp_cycles_per_step(loop),
    }


def compile_report(capability: int, with_asm: bool = False) -> list[dict[str, Any]]:
    """Compile every configuration for ``GPUTarget("cuda", capability, 32)``; one row each.

    Row keys: ``name``, ``capability``, ``registers`` (per thread), ``spills`` (local
    memory per thread, bytes), ``stack`` and ``shared`` (static, bytes; all from cuobjdump),
    ``dynamic_shared`` (bytes Triton requests at launch: its pipelining rings),
    ``num_warps``, ``block_n``, ``num_stages``, the time-loop figures of
    :func:`loop_analysis`, ``cubin`` (the binary, bytes); with ``with_asm`` also ``ttir``,
    ``ttgir``, ``ptx`` and ``sass``.

    The builds run in a child interpreter (``python -c``), whatever calls this: their
    parallel workers are started by "spawn", which re-runs the caller's ``__main__``, and a
    script without a main guard, a notebook or standard input cannot be re-run (the pool
    broke); a ``-c`` child's ``__main__`` is skipped. The child also runs without
    ``TRITON_INTERPRET``, under which this process's kernels cannot be compiled.
    """
    if capability < 80:
        raise ValueError(f"capability must be >= 80 (sm_80 and newer), got {capability}")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(capability), *(["--asm"] if with_asm else [])],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    rows = json.loads(child.stdout)
    for row in rows:
        row["cubin"] = base64.b64decode(row["cubin"])
    return rows


def _compile_rows(capability: int, with_asm: bool) -> list[dict[str, Any]]:
    """Every build's row; builds are independent, so they compile in parallel processes."""
    count = sum(1 for _ in all_builds())
    workers = min(count, os.cpu_count() or 1)
    compile_one = functools.partial(_compile_build, capability, with_asm)
    if workers == 1:
        return [compile_one(index) for index in range(count)]
    # spawn, not fork: a forked torch process can hang in its thread pools
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(compile_one, range(count)))


def _compile_build(capability: int, with_asm: bool, index: int) -> dict[str, Any]:
    """The row of build number ``index`` of :func:`all_builds`."""
    name, kernel, plan = next(itertools.islice(all_builds(), index, None))
    target = GPUTarget("cuda", capability, 32)
    source, options, _ = specialize(kernel, plan, target)
    compiled = triton.compile(source, target=target, options=options.__dict__)
    return compiled_row(name, capability, compiled, plan, with_asm)


def compiled_row(name: str, capability: int, compiled: Any, plan: LaunchPlan,
                 with_asm: bool = False) -> dict[str, Any]:
    """The report row of one compiled kernel: what ``triton.compile`` returns, or what a
    launch ``kernel[grid](...)`` on a GPU returns (the same CompiledKernel)."""
    cubin = compiled.asm["cubin"]
    sass = run_cuobjdump(cubin, "-sass")
    num_warps = plan.options["num_warps"]
    row = {
        "name": name,
        "capability": capability,
        **resource_usage(cubin),
        "dynamic_shared": compiled.metadata.shared,
        "num_warps": num_warps,
        "block_n": plan.options["BLOCK_N"],
        "num_stages": plan.options["NUM_STAGES"],
        **loop_analysis(compiled.asm["ttgir"], sass, num_warps),
        "cubin": cubin,
    }
    if with_asm:
        row.update(ttir=compiled.asm["ttir"], ttgir=compiled.asm["ttgir"],
                   ptx=compiled.asm["ptx"], sass=sass)
    return row


REPORT_COLUMNS = (
    ("kernel", "name"), ("sm", "capability"), ("warps", "num_warps"), ("regs", "registers"),
    ("spills", "spills"), ("shared", "shared"), ("dyn shared", "dynamic_shared"),
    ("instr/step", "instructions_per_step"), ("steps in flight", "steps_in_flight"),
    ("bytes in flight/warp", "bytes_in_flight"), ("sync loads", "sync_loads_in_loop"),
    ("cycles/step (1 warp)", "lone_warp_cycles"),
)


def format_compile_report(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of :func:`compile_report` rows."""
    header = tuple(title for title, _ in REPORT_COLUMNS)
    lines = [
        tuple(f"{row[key]:g}" if isinstance(row[key], float) else str(row[key])
              for _, key in REPORT_COLUMNS)
        for row in rows
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in (header, *lines)
    )


def child_main(argv: list[str]) -> None:
    """Print the rows for ``argv = [capability, ["--asm"]]`` as JSON (cubin in base64)."""
    report = _compile_rows(int(argv[0]), "--asm" in argv)
    for entry in report:
        entry["cubin"] = base64.b64encode(entry["cubin"]).decode()
    print(json.dumps(report))


# What compile_report runs in a child process when this one uses the interpreter.
CHILD = (
    "import sys; from synnet_triton.compiled.compile_report import child_main; "
    "child_main(sys.argv[1:])"
)
