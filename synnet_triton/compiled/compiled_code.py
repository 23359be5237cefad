"""What a compiled kernel's time loop does, read from its TTGIR and SASS (no GPU needed).

- :func:`time_loop`: the SASS instructions of the time loop, the backward branch that spans
  the most instructions (one iteration is one time step in these kernels);
- :func:`pipelined_streams`: the shared-memory rings Triton's pipeliner allocates for the loads
  it issues ahead of use (``ttg.local_alloc : () -> !ttg.memdesc<D x ... x dtype, mutable>``):
  D steps of that input stream are in flight;
- :func:`sync_loads`: plain global loads (``LDG``) in the loop, each a full DRAM round trip
  per step (``LDGSTS``, the asynchronous copies into the rings, are not counted);
- :func:`lone_warp_cycles_per_step`: an in-order issue model of one warp running the loop
  body with its data ready, from a stated latency table (below): how long the loop's
  dependency chains make a step when nothing else hides them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DTYPE_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "i32": 4, "i64": 8, "i8": 1, "i16": 2}

# Result latency in cycles per SASS opcode family: a stated model for sm_80/sm_90 (dependent
# FP32/integer ALU ~4 cycles, conversions and rounding ~6, the special-function unit ~18,
# shared-memory loads ~30); anything not listed issues and completes in 4.
LATENCY = {
    "MUFU": 18,
    "LDS": 30,
    "LDSM": 30,
    "FRND": 6,
    "F2F": 6,
    "F2I": 6,
    "I2F": 6,
    "S2R": 20,
}
DEFAULT_LATENCY = 4

_INSTRUCTION = re.compile(r"^\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
_BRANCH_TARGET = re.compile(r"\bBRA\s+(?:!?U?P[T\d]+,\s*)?(0x[0-9a-f]+)")
_REGISTER = re.compile(r"\b(U?R\d+|U?P\d+)(?:\.64)?\b")
_RING = re.compile(
    r"ttg\.local_alloc\s*:\s*\(\)\s*->\s*!ttg\.memdesc<((?:\d+x)+)(\w+),[^>]*mutable>"
)
# Opcodes whose first operand is not a register they write.
_NO_DESTINATION = ("ST", "STG", "STS", "LDGSTS", "BRA", "EXIT", "DEPBAR", "LDGDEPBAR", "BAR",
                   "CALL", "RET", "NOP", "MEMBAR", "RED", "ATOM", "WARPSYNC", "BSYNC", "BSSY")


@dataclass(frozen=True)
class Instruction:
    address: int
    text: str  # without the predicate guard

    @property
    def opcode(self) -> str:
        """The opcode with its modifiers (``STG.E.64``), past any predicate guard."""
        text = self.text.split(None, 1)[1] if self.text.startswith("@") else self.text
        return text.split()[0]


@dataclass(frozen=True)
class Stream:
    """A pipelined input stream: ``depth`` steps in flight, ``step_bytes`` per program-step."""

    depth: int
    step_bytes: int


def instructions(sass: str) -> list[Instruction]:
    """Every SASS instruction of a ``cuobjdump -sass`` listing, guard kept in the text."""
    found = []
    for line in sass.splitlines():
        match = _INSTRUCTION.match(line)
        if match:
            found.append(Instruction(int(match.group(1), 16), match.group(2).strip()))
    return found


def time_loop(sass: str) -> list[Instruction]:
    """The instructions of the largest loop: from a backward branch's target to the branch."""
    code = instructions(sass)
    best: tuple[int, int] | None = None
    for index, instruction in enumerate(code):
        match = _BRANCH_TARGET.search(instruction.text)
        if match is None or int(match.group(1), 16) >= instruction.address:
            continue
        target = int(match.group(1), 16)
        start = next(k for k, other in enumerate(code) if other.address >= target)
        if best is None or index - start > best[1] - best[0]:
            best = (start, index)
    if best is None:
        raise ValueError("no loop (backward branch) in this SASS")
    return code[best[0]: best[1] + 1]


def sync_loads(loop: list[Instruction]) -> int:
    """Plain global loads in the loop (``LDG``, not the asynchronous ``LDGSTS``)."""
    return sum(1 for i in loop if i.opcode.split(".")[0] == "LDG")


def global_stores_bytes(loop: list[Instruction]) -> int:
    """Bytes one thread stores to global memory per iteration (``STG.E``, ``.64``, ``.128``)."""
    total = 0
    for instruction in loop:
        opcode = instruction.opcode
        if opcode.split(".")[0] != "STG":
            continue
        width = re.search(r"\.(64|128)\b", opcode)
        total += int(width.group(1)) // 8 if width else 4
    return total


def pipelined_streams(ttgir: str) -> list[Stream]:
    """The pipeliner's rings: one per input stream of the time loop."""
    streams = []
    for match in _RING.finditer(ttgir):
        dims = [int(d) for d in match.group(1).rstrip("x").split("x")]
        elements = 1
        for d in dims[1:]:
            elements *= d
        streams.append(Stream(dims[0], elements * DTYPE_BYTES[match.group(2)]))
    return streams


def _registers(operands: str) -> list[str]:
    return [m.group(1) for m in _REGISTER.finditer(operands)]


def lone_warp_cycles_per_step(loop: list[Instruction], iterations: int = 4) -> float:
    """Cycles per iteration of one warp issuing the loop in order, one instruction per cycle
    at most, each waiting for its source registers (latencies from ``LATENCY``), data in
    shared memory ready; the steady state over ``iterations`` back-to-back iterations."""
    ready: dict[str, float] = {}
    clock = 0.0
    ends = []
    for _ in range(iterations):
        for instruction in loop:
            text = instruction.text
            guard = []
            if text.startswith("@"):
                predicate, text = text.split(None, 1)
                guard = _registers(predicate)
            opcode, _, operands = text.partition(" ")
            family = opcode.split(".")[0]
            registers = _registers(operands)
            writes_first = family not in _NO_DESTINATION and bool(registers)
            destination = registers[0] if writes_first else None
            sources = guard + (registers[1:] if writes_first else registers)
            issue = max([clock + 1.0] + [ready.get(r, 0.0) for r in sources])
            clock = issue
            if destination is not None:
                width = 2 if re.search(rf"\b{destination}\.64\b", operands) else 1
                latency = LATENCY.get(family, DEFAULT_LATENCY)
                for k in range(width):
                    ready[_offset(destination, k)] = issue + latency
        ends.append(clock)
    return (ends[-1] - ends[0]) / (iterations - 1)


def _offset(register: str, k: int) -> str:
    prefix = register.rstrip("0123456789")
    return f"{prefix}{int(register[len(prefix):]) + k}"
