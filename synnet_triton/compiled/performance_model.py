"""A performance model of the LIF kernels on a GPU, from their compiled code: a model, not a
measurement, until ``benchmarks/gpu_check.sh`` measures it.

Inputs per build (:func:`compile_report` rows, read from TTGIR/SASS): registers, shared
memory, ``instructions_per_step``, ``lone_warp_cycles`` (one warp's in-order issue of the
loop with data ready), ``steps_in_flight``, ``sync_loads_in_loop`` and the bytes each thread
loads and stores per step. Device constants are stated in ``DEVICES``. For a layer of
(B, T, N) and one kernel launch:

- occupancy: programs of ``num_warps`` warps resident per SM, limited by 32 blocks, 64 warps,
  65 536 registers and the shared memory per SM; ``waves`` = programs over what fits at once;
- issue: a scheduler (4 per SM) issues one instruction per cycle, so a step of one warp takes
  at least ``warps per scheduler × instructions_per_step`` cycles, and at least
  ``lone_warp_cycles`` (its own dependency chains);
- latency (Little's law): a warp runs at most ``steps_in_flight`` steps ahead of its loads,
  so a step takes at least ``DRAM latency / steps_in_flight``; a synchronous load in the loop
  adds a whole DRAM latency to every step;
- bandwidth: the bytes moved over the HBM bandwidth (an achievable copy rate, not the
  datasheet peak);
- time = max(waves × T × step time, bytes / bandwidth), i.e. perfect overlap of compute and
  memory; the fraction of the roofline is (bytes / bandwidth) / time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Device:
    name: str
    sms: int
    clock_hz: float
    bandwidth: float  # bytes/s, an achievable device-to-device copy
    dram_latency_s: tuple[float, float]  # assumed range
    shared_per_sm: int = 228 * 1024
    registers_per_sm: int = 65536
    max_warps_per_sm: int = 64
    max_blocks_per_sm: int = 32
    schedulers_per_sm: int = 4


DEVICES = {
    # 132 SMs at a 1.98 GHz boost clock (NVIDIA's H100/H200 SXM datasheets); bandwidth: H200
    # ≈4.3 TB/s measured copy (of 4.8 nominal), H100 ≈3.0 TB/s (≈90 % of 3.35 nominal);
    # DRAM latency 600-900 ns assumed (published microbenchmarks of Hopper HBM3 land there).
    "H100": Device("H100 SXM", 132, 1.98e9, 3.0e12, (600e-9, 900e-9)),
    "H200": Device("H200 SXM", 132, 1.98e9, 4.3e12, (600e-9, 900e-9)),
}


@dataclass(frozen=True)
class Workload:
    name: str
    batch: int
    steps: int
    neurons: int
    synapses: int = 1


WORKLOADS = (
    Workload("(a) long audio", 64, 10_000, 512),
    Workload("(b) Open Neuromorphic n=4096", 16, 500, 4096),
    Workload("(b) Open Neuromorphic n=16384", 16, 500, 16384),
    Workload("(c) SynNet layer", 32, 1000, 64),
)

FORWARD_BUILD = "lif_forward[train]"
BACKWARD_BUILDS = {"x only": "lif_backward[x periodic_exponential]",
                   "all gradients": "lif_backward[all periodic_exponential]"}


@dataclass(frozen=True)
class Prediction:
    seconds: tuple[float, float]  # at the low and high DRAM latency
    roofline_seconds: float
    bytes: float
    waves: int
    warps_per_scheduler: int
    bound: str  # what limits it at the high latency: "bandwidth", "issue", "chain", "latency"


def resident_programs(row: dict[str, Any], device: Device) -> int:
    """Programs of this build that fit on one SM at once."""
    warps = row["num_warps"]
    registers = math.ceil(row["registers"] / 8) * 8 * 32 * warps
    shared = row["dynamic_shared"] + row["shared"] + 1024  # 1 KB reserved per block
    return max(1, min(device.max_blocks_per_sm, device.max_warps_per_sm // warps,
                      device.registers_per_sm // registers, device.shared_per_sm // shared))


def predict_launch(row: dict[str, Any], workload: Workload, device: Device) -> Prediction:
    """Time of one launch of ``row``'s build on ``workload``."""
    programs = workload.batch * math.ceil(workload.neurons / row["block_n"])
    per_sm = resident_programs(row, device)
    waves = math.ceil(programs / (per_sm * device.sms))
    active = math.ceil(min(programs, per_sm * device.sms) / device.sms) * row["num_warps"]
    per_scheduler = math.ceil(active / device.schedulers_per_sm)
    issue = per_scheduler * row["instructions_per_step"]
    chain = row["lone_warp_cycles"]
    neuron_steps = workload.batch * workload.steps * workload.neurons
    per_neuron = row["load_bytes_per_step"] + row["store_bytes_per_step"] \
        + 4 * row["sync_loads_in_loop"]
    moved = neuron_steps * per_neuron
    memory = moved / device.bandwidth
    times, bound = [], ""
    for latency in device.dram_latency_s:
        latency_cycles = latency * device.clock_hz
        in_flight = row["steps_in_flight"]
        limits = {
            "issue": issue + row["sync_loads_in_loop"] * latency_cycles,
            "chain": chain + row["sync_loads_in_loop"] * latency_cycles,
            "latency": latency_cycles / in_flight if in_flight else latency_cycles,
        }
        bound = max(limits, key=lambda k: limits[k])
        compute = waves * workload.steps * limits[bound] / device.clock_hz
        if memory >= compute:
            bound = "bandwidth"
        times.append(max(compute, memory))
    return Prediction((times[0], times[1]), memory, moved, waves, per_scheduler, bound)


def _row(rows: Sequence[dict[str, Any]], build: str, workload: Workload) -> dict[str, Any]:
    block_n = 32 if workload.neurons <= 1024 else 64
    name = f"{build} BLOCK_N={block_n} S={workload.synapses}"
    return next(row for row in rows if row["name"] == name)


def predict(rows: Sequence[dict[str, Any]], device: str = "H200",
            workloads: Sequence[Workload] = WORKLOADS) -> list[dict[str, Any]]:
    """Forward + backward predictions per workload and backward build, from compile rows of
    sm_90 (H100/H200). Times in seconds, (low, high) DRAM latency."""
    spec = DEVICES[device]
    table = []
    for workload in workloads:
        forward = predict_launch(_row(rows, FORWARD_BUILD, workload), workload, spec)
        for label, build in BACKWARD_BUILDS.items():
            backward = predict_launch(_row(rows, build, workload), workload, spec)
            total = tuple(f + b for f, b in zip(forward.seconds, backward.seconds, strict=True))
            roofline = forward.roofline_seconds + backward.roofline_seconds
            table.append({
                "device": spec.name,
                "workload": workload.name,
                "shape": (workload.batch, workload.steps, workload.neurons, workload.synapses),
                "backward": label,
                "forward_s": forward.seconds,
                "backward_s": backward.seconds,
                "total_s": total,
                "roofline_s": roofline,
                "times_roofline": (total[0] / roofline, total[1] / roofline),
                "forward_bound": forward.bound,
                "backward_bound": backward.bound,
            })
    return table


def format_prediction(table: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of :func:`predict`; times in ms at the low-high DRAM latency."""

    def ms(pair: tuple[float, float]) -> str:
        return f"{pair[0] * 1e3:.3f}-{pair[1] * 1e3:.3f}"

    header = ("workload", "B,T,N,S", "backward", "fwd ms", "bwd ms", "fwd+bwd ms", "roofline ms",
              "x roofline", "bound fwd/bwd")
    lines = [
        (row["workload"], ",".join(map(str, row["shape"])), row["backward"], ms(row["forward_s"]),
         ms(row["backward_s"]), ms(row["total_s"]), f"{row['roofline_s'] * 1e3:.3f}",
         f"{row['times_roofline'][0]:.2f}-{row['times_roofline'][1]:.2f}",
         f"{row['forward_bound']}/{row['backward_bound']}")
        for row in table
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
    title = f"model (not a measurement), {table[0]['device']}" if table else "model"
    return title + "\n" + "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in (header, *lines)
    )
