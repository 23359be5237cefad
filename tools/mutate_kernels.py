"""Mutation testing of the Triton kernels' arithmetic, run through the interpreter.

mutmut leaves decorated functions alone, so the ``@triton.jit`` code is mutated here: every
arithmetic operator (+ −, × ÷) and comparison (≥ >, ≤ <, == !=) inside a jitted function of
the kernel file is a mutation point; a seeded sample of them is applied one at a time (the
file rewritten from its AST, then restored), and the kernel's interpreter tests run against
each. A mutant is killed when the tests fail or run past ``TIMEOUT_S``. Outside CI:
``make mutation-kernels``. Do not run other tests meanwhile: the kernel file is mutated in
place.

    python tools/mutate_kernels.py [--sample 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    # the backward's checkpointed runs are the forward's only caller with seq_start > 0
    "kernels/lif_forward.py": [
        "tests/kernels/test_kernels_forward.py",
        "tests/kernels/test_kernels_backward.py::test_checkpointed_backward_is_bitwise_the_default",
    ],
    "kernels/lif_backward.py": ["tests/kernels/test_kernels_backward.py"],
    # the layer kernel against the step engine (outputs and gradients of three SynNets,
    # bitwise) and on a saturating spec; the full hypothesis file takes a minute a run
    "kernels/xylo_layer.py": [
        "tests/hardware/test_hardware_exact.py::test_the_cuda_path_is_bitwise_the_cpu_path",
        "tests/xylo/test_xylo_layers.py::test_a_saturating_spec_really_clips_and_caps",
        "tests/xylo/test_xylo_layers.py::test_thresholds_at_zero_and_below_follow_xylosims_loop",
        "tests/xylo/test_xylo_layers.py::test_layer_by_layer_equals_step_by_step_across_calls_"
        "with_its_clip_log",
    ],
    "kernels/reverse_scan.py": ["tests/kernels/test_reverse_scan.py"],
}
SWAPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.GtE: ast.Gt, ast.Gt: ast.GtE, ast.LtE: ast.Lt, ast.Lt: ast.LtE,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
}  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    index: int  # the point's position in a walk of the module
    line: int
    description: str


def _jitted(node: ast.FunctionDef) -> bool:
    return any(ast.unparse(d).split("(")[0] in ("triton.jit", "jit") for d in node.decorator_list)


def _points(tree: ast.Module) -> list[tuple[ast.AST, int | None]]:
    """(node, comparator index or None) of every operator inside a jitted function."""
    found: list[tuple[ast.AST, int | None]] = []
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        if not _jitted(function):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
                found.append((node, None))
            elif isinstance(node, ast.Compare):
                found += [(node, k) for k, op in enumerate(node.ops) if type(op) in SWAPS]
    return found


def mutants(source: str) -> list[Mutant]:
    tree = ast.parse(source)
    listed = []
    for index, (node, k) in enumerate(_points(tree)):
        op = node.op if k is None else node.ops[k]  # type: ignore[attr-defined]
        text = ast.unparse(node)
        listed.append(Mutant(index, node.lineno,  # type: ignore[attr-defined]
                             f"{type(op).__name__} → {SWAPS[type(op)].__name__} in {text[:70]}"))
    return listed


def mutated(source: str, mutant: Mutant) -> str:
    tree = ast.parse(source)
    node, k = _points(tree)[mutant.index]
    if k is None:
        node.op = SWAPS[type(node.op)]()  # type: ignore[attr-defined]
    else:
        node.ops[k] = SWAPS[type(node.ops[k])]()  # type: ignore[attr-defined]
    return ast.unparse(tree)


TIMEOUT_S = 120
"""Several times the unmutated tests' time: a mutant that runs longer (a loop bound gone
wrong) counts as killed, as in mutmut."""


def tests_pass(tests: list[str]) -> bool:
    env = {**os.environ, "TRITON_INTERPRET": "1", "CI": "1", "SYNNET_TRITON_MUTATION": "1"}
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p",
                              "no:cacheprovider", *tests], cwd=ROOT, env=env,
                             capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False
    return run.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=20, help="mutants per kernel file")
    parser.add_argument("--files", nargs="+", default=list(TARGETS), choices=list(TARGETS),
                        help="kernel files to mutate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # a terminated run must still restore the kernel file it was mutating (the finally below)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    rng = random.Random(args.seed)
    for relative in args.files:
        tests = TARGETS[relative]
        path = ROOT / relative
        original = path.read_text()
        listed = mutants(original)
        chosen = sorted(rng.sample(listed, min(args.sample, len(listed))), key=lambda m: m.index)
        survivors = []
        try:
            path.write_text(ast.unparse(ast.parse(original)))
            if not tests_pass(tests):
                print(f"{relative}: the tests fail on the unmutated (re-printed) file", flush=True)
                return 1
            for mutant in chosen:
                path.write_text(mutated(original, mutant))
                killed = not tests_pass(tests)
                print(f"{relative}:{mutant.line} {'killed  ' if killed else 'SURVIVED'} "
                      f"{mutant.description}", flush=True)
                if not killed:
                    survivors.append(mutant)
        finally:
            path.write_text(original)
        run = len(chosen)
        print(f"{relative}: {len(listed)} mutation points, {run} run, {run - len(survivors)} "
              f"killed ({(run - len(survivors)) / max(run, 1):.0%})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
