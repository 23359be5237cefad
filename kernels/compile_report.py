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
import json
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
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource, make_backend
from triton.runtime.jit import JITFunction

from .launch import LaunchPlan
from .lif_backward import (
    PERIODIC_EXPONENTIAL,
    STEP_PWL,
    lif_backward_arguments,
    lif_backward_kernel,
)
from .lif_forward import block_config, lif_forward_arguments, lif_forward_kernel

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


def forward_plans(n_neurons: int, n_synapses: int) -> Iterator[tuple[str, LaunchPlan]]:
    """The forward's launch plans for one layer shape: training default and everything on."""
    batch, steps = 2, 8
    f32 = torch.float32
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
    final: dict[str, Any] = dict(
        final_v=torch.zeros(batch, n_neurons),
        final_i=torch.zeros(batch, n_neurons, n_synapses),
        final_s=torch.zeros(batch, n_neurons),
    )
    per_step = torch.zeros(batch, steps, n_neurons, dtype=f32)
    yield "train", lif_forward_arguments(
        x, None, *params, *state, n_steps=steps, seq_start=0, max_spikes=31.0,
        spikes=per_step, u=per_step.clone(), **final,
    )  # fmt: skip
    yield "all", lif_forward_arguments(
        x, per_step, *params, *state, n_steps=steps, seq_start=0, max_spikes=31.0,
        spikes=per_step.clone(), vmem=per_step.clone(),
        isyn=torch.zeros(batch, steps, n_neurons, n_synapses),
        ckpt_v=torch.zeros(batch, 2, n_neurons),
        ckpt_i=torch.zeros(batch, 2, n_neurons, n_synapses),
        ckpt_s=torch.zeros(batch, 2, n_neurons), checkpoint_every=4, **final,
    )  # fmt: skip


def backward_plans(n_neurons: int, n_synapses: int) -> Iterator[tuple[str, LaunchPlan]]:
    """The backward's launch plans for one layer shape with every gradient, per surrogate."""
    batch, steps = 2, 8
    x = torch.zeros(batch, steps, n_neurons * n_synapses)
    per_step = torch.zeros(batch, steps, n_neurons)
    per_syn = torch.zeros(batch, steps, n_neurons, n_synapses)
    state = torch.zeros(batch, n_neurons)
    state_syn = torch.zeros(batch, n_neurons, n_synapses)
    for name, code in (("periodic_exponential", PERIODIC_EXPONENTIAL), ("step_pwl", STEP_PWL)):
        yield name, lif_backward_arguments(
            per_step, x, per_step.clone(), per_step.clone(), per_syn.clone(),
            torch.ones(n_neurons), torch.ones(n_neurons, n_synapses), torch.ones(n_neurons),
            state, state_syn, state.clone(), state.clone(), state_syn.clone(),
            n_steps=steps, seq_start=0, max_spikes=31.0, window=0.5, surrogate=code,
            grad_x=torch.zeros_like(x), partial_alpha=state.clone(),
            partial_beta=state_syn.clone(), beta_scan=state_syn.clone(),
            partial_threshold=state.clone(),
            partial_bias=state.clone(),
        )  # fmt: skip


def all_builds() -> Iterator[tuple[str, Any, LaunchPlan]]:
    """(build name, kernel, launch plan) of every reported configuration."""
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


def resource_usage(cubin: bytes) -> dict[str, int]:
    """registers (per thread), spills, stack and shared (bytes) of a one-kernel cubin.

    cuobjdump reports local memory per thread as LOCAL: these kernels have no local arrays,
    so any local memory is register spill.
    """
    with tempfile.NamedTemporaryFile(suffix=".cubin") as handle:
        handle.write(cubin)
        handle.flush()
        text = subprocess.run(
            [str(cuobjdump()), "--dump-resource-usage", handle.name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

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


def compile_report(capability: int, with_asm: bool = False) -> list[dict[str, Any]]:
    """Compile every configuration for ``GPUTarget("cuda", capability, 32)``; one row each.

    Row keys: ``name``, ``capability``, ``registers`` (per thread), ``spills`` (local
    memory per thread, bytes), ``stack`` and ``shared`` (static, bytes; all from cuobjdump),
    ``dynamic_shared`` (bytes Triton requests at launch: its pipelining buffers),
    ``num_warps``, ``cubin`` (the binary, bytes); with ``with_asm`` also ``ttir`` and ``ptx``.

    Under ``TRITON_INTERPRET=1`` the kernels of this process are interpreter objects that
    cannot be compiled, so the builds then run in a child process without the interpreter.
    """
    if capability < 80:
        raise ValueError(f"capability must be >= 80 (sm_80 and newer), got {capability}")
    if isinstance(lif_forward_kernel, JITFunction):
        return _compile_rows(capability, with_asm)
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
    target = GPUTarget("cuda", capability, 32)
    rows = []
    for name, kernel, plan in all_builds():
        source, options, _ = specialize(kernel, plan, target)
        compiled = triton.compile(source, target=target, options=options.__dict__)
        cubin = compiled.asm["cubin"]
        rows.append(
            {
                "name": name,
                "capability": capability,
                **resource_usage(cubin),
                "dynamic_shared": compiled.metadata.shared,
                "num_warps": options.num_warps,
                "cubin": cubin,
            }
        )
        if with_asm:
            rows[-1].update(ttir=compiled.asm["ttir"], ptx=compiled.asm["ptx"])
    return rows


def format_compile_report(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of :func:`compile_report` rows."""
    header = (
        "kernel", "sm", "warps", "registers", "spills", "stack", "shared", "dyn shared", "cubin B",
    )  # fmt: skip
    lines = [
        (
            row["name"],
            str(row["capability"]),
            str(row["num_warps"]),
            str(row["registers"]),
            str(row["spills"]),
            str(row["stack"]),
            str(row["shared"]),
            str(row["dynamic_shared"]),
            str(len(row["cubin"])),
        )
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
    "import sys; from synnet_triton.kernels.compile_report import child_main; "
    "child_main(sys.argv[1:])"
)
