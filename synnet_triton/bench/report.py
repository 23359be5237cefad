"""Output of a comparison: the environment, CSV, the Markdown table and PNG plots."""

from __future__ import annotations

import csv
import importlib.util
import math
import os
import platform
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from synnet_triton.bench.measure import ResultRow
from synnet_triton.bench.workloads import FORWARD, FORWARD_BACKWARD


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo where there is one, else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _short_path(path: str) -> str:
    """``path`` relative to the working directory when it lies below it (a venv's python)."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def environment() -> dict[str, Any]:
    """What the numbers were measured on: date, machine, load, library versions."""
    versions = {}
    for name in ("torch", "triton", "rockpool", "snntorch", "norse", "spikingjelly", "sinabs"):
        if importlib.util.find_spec(name) is not None:
            try:
                from importlib.metadata import version

                versions[name] = version(name)
            except Exception:  # a module without distribution metadata
                versions[name] = "?"
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu_model()}, {os.cpu_count()} CPUs",
        "gpu": gpu,
        "torch_threads": torch.get_num_threads(),
        "load_average_1_5_15": os.getloadavg(),
        "python": platform.python_version(),
        "versions": versions,
        "command": shlex.join([_short_path(sys.executable), "-m", "synnet_triton.bench",
                               *sys.argv[1:]]),
    }


def write_csv(rows: Sequence[ResultRow], path: Path) -> None:
    """One line per row; column ``pass`` holds fwd or fwd+bwd."""
    names = [f.replace("pass_", "pass") for f in asdict(rows[0])] if rows else []
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for row in rows:
            writer.writerow(list(asdict(row).values()))


def _format_float(value: float, digits: int = 3) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.{digits}g}"


def format_markdown(rows: Sequence[ResultRow]) -> str:
    """A markdown table per workload: times in ms, ratio to ours, neuron-steps per second, the
    fraction of the memory limit (modelled bytes at the measured copy bandwidth), memory per
    neuron-step."""
    lines: list[str] = []
    workloads = list(dict.fromkeys(r.workload for r in rows))
    for workload in workloads:
        group = [r for r in rows if r.workload == workload]
        first = group[0]
        lines += [
            "",
            f"**{workload}** (B={first.batch}, T={first.steps}, N={first.neurons}, "
            f"S={first.synapses}{', Linear+LIF' if first.linear else ''}, {first.device})",
            "",
            "| contender | fwd ms | fwd+bwd ms | fwd+bwd × ours | fwd+bwd G neuron-steps/s | "
            "of the memory limit | saved B/neuron-step (new + ref) | peak MiB | note |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        contenders = list(dict.fromkeys(r.contender for r in group))
        for name in contenders:
            by_pass = {r.pass_: r for r in group if r.contender == name}
            full = by_pass.get(FORWARD_BACKWARD) or next(iter(by_pass.values()))
            if full.status != "ok":
                lines.append(f"| {name} | | | | | | | | {full.status} |")
                continue
            forward = by_pass.get(FORWARD)
            forward_ms = _format_float(forward.median_s * 1e3) if forward else "–"
            memory = (f"{_format_float(full.saved_new_bytes_per_neuron_step)} + "
                      f"{_format_float(full.saved_referenced_bytes_per_neuron_step)}")
            lines.append(
                f"| {name} | {forward_ms} | {_format_float(full.median_s * 1e3)} | "
                f"{_format_float(full.ratio_to_ours)} | "
                f"{_format_float(full.neuron_steps_per_s / 1e9)} | "
                f"{_format_float(full.fraction_of_copy)} | {memory} | "
                f"{_format_float(full.peak_allocated_mib)} | {full.note} |")
    return "\n".join(lines) + "\n"


def plot_results(rows: Sequence[ResultRow], out_dir: Path) -> list[Path]:
    """PNG plots of the sweeps: time vs T, time vs N, saved memory vs T (fwd+bwd)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.status == "ok" and r.pass_ == FORWARD_BACKWARD]
    figures = [
        ("time_vs_T.png", "sweep-t", "steps", "median_s", "T (steps)", "fwd+bwd time (s)"),
        ("time_vs_N.png", "sweep-n", "neurons", "median_s", "N (neurons)",
         "fwd+bwd time (s)"),
        ("memory_vs_T.png", "sweep-t", "steps", "saved_mib", "T (steps)",
         "saved for backward, new allocations (MiB)"),
    ]
    written = []
    for filename, suite, x_field, y_field, x_label, y_label in figures:
        subset = [r for r in ok if r.suite == suite]
        if not subset:
            continue
        figure, axes = plt.subplots(figsize=(6.4, 4.4))
        for name in dict.fromkeys(r.contender for r in subset):
            points = sorted((getattr(r, x_field), _plot_value(r, y_field))
                            for r in subset if r.contender == name)
            points = [(x, y) for x, y in points if not math.isnan(y) and y > 0]
            if points:
                axes.plot(*zip(*points, strict=True), marker="o", label=name)
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel(x_label)
        axes.set_ylabel(y_label)
        axes.set_title(f"{y_label} — {subset[0].device}", fontsize=9)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7)
        figure.tight_layout()
        path = out_dir / filename
        figure.savefig(path, dpi=120)
        plt.close(figure)
        written.append(path)
    return written


def _plot_value(row: ResultRow, field_name: str) -> float:
    if field_name == "saved_mib":
        per_step = row.saved_new_bytes_per_neuron_step
        return per_step * row.batch * row.steps * row.neurons / 2**20
    return float(getattr(row, field_name))
