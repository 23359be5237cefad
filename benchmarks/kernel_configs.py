"""Launch configurations of the LIF kernels side by side on a GPU: which block of neurons
per program and which pipelining depth win, per layer-size bucket. ``gpu_check.sh`` runs it.

For each workload of the performance model (:data:`WORKLOADS`: (a) B=64 T=10 000 N=512,
(b) B=16 T=500 N=4096 and 16 384, (c) B=32 T=1000 N=64; S=1, fp32) and each kernel — the
training forward (spikes, saved u, final state) and SynNet's backward (the gradient of x
only, PeriodicExponential) — every configuration of :func:`configurations` (BLOCK_N 32/64,
the old ``num_stages=3`` and deeper pipelines) is launched directly, no autograd and no
allocation in the timed region:

1. answer first: its outputs must be bitwise (``.view(torch.int32)``) those of the default
   configuration (what the launchers pick); a configuration that differs is reported
   ``wrong`` and not timed;
2. the median of ``--repeats`` launches, timed with CUDA events after one warm-up (which
   compiles it);
3. achieved bandwidth: the bytes the compiled loop moves (its per-thread loads and stores per
   step, read from its TTGIR/SASS by ``compile_report.loop_analysis``) over the time, against
   a device-to-device copy measured in the same run, and the time against the performance
   model's prediction for that compiled code (with the measured copy as its bandwidth).

Writes into ``--out``: ``kernel_configs.json`` (every row), ``kernel_configs.csv``,
``kernel_configs.png`` and ``winners.json``: per N bucket of ``block_config`` (N <= 1024,
N > 1024) and kernel, the configuration with the least time summed over the bucket's
workloads, next to the default's — what ``block_config`` and ``NUM_STAGES`` in ``kernels/``
should be. The issue's approach (b), time-chunked register tiles
(``benchmarks/chunked_time_tiles.py``: CHUNK_T steps per iteration, :data:`CHUNKED`), runs as a
third kernel, ``forward-chunked``, checked bitwise against the default forward like the rest.

``--dry-run``: tiny workloads under the Triton interpreter on CPU, to check the script; no
compiled code there, so no prediction and no achieved bandwidth.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

DT = 1e-3
TAU = 0.02
FORWARD_STAGES = (3, 9, 17, 25)
BACKWARD_STAGES = (3, 5, 9, 13)
BLOCKS = (32, 64)
CHUNKED = ((16, 2), (8, 3))
"""(CHUNK_T, num_stages) of approach (b): both keep 16 steps (2 KB per warp) in flight, the
depth of the shipped forward; their registers and instructions are in docs/kernels.md."""
BUCKETS = (("N <= 1024", lambda n: n <= 1024), ("N > 1024", lambda n: n > 1024))
CSV_COLUMNS = (
    "workload", "batch", "steps", "neurons", "kernel", "block_n", "num_warps", "num_stages",
    "chunk_t",
    "default", "status", "ms", "bytes", "achieved_gbps", "fraction_of_copy",
    "predicted_ms_low", "predicted_ms_high", "registers", "spills", "steps_in_flight",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-results"))
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on CPU (interpreter)")
    parser.add_argument("--repeats", type=int, default=5, help="timed launches per configuration")
    return parser.parse_args()


@dataclasses.dataclass(frozen=True)
class Config:
    kernel: str  # "forward", "backward" or "forward-chunked"
    block_n: int
    num_stages: int
    chunk_t: int = 1  # steps per loop iteration


def chunked_module() -> Any:
    """benchmarks/chunked_time_tiles.py, loaded by path (the benchmarks are not a package)."""
    import importlib.util

    path = Path(__file__).with_name("chunked_time_tiles.py")
    spec = importlib.util.spec_from_file_location("chunked_time_tiles", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def configurations(kernel: str, dry_run: bool) -> list[Config]:
    """The configurations timed for ``kernel``: every block × depth (dry run: fewer);
    approach (b)'s :data:`CHUNKED` for ``"forward-chunked"``."""
    from synnet_triton.kernels import lif_backward, lif_forward

    if kernel == "forward-chunked":
        return [Config(kernel, 32, stages, chunk) for chunk, stages in CHUNKED]
    default = lif_forward.NUM_STAGES if kernel == "forward" else lif_backward.NUM_STAGES
    stages = FORWARD_STAGES if kernel == "forward" else BACKWARD_STAGES
    if dry_run:
        stages = (3, default)
    return [Config(kernel, block, depth) for block in BLOCKS for depth in sorted(set(stages))]


def default_config(kernel: str, n_neurons: int) -> Config:
    from synnet_triton.kernels import lif_backward, lif_forward

    block_n, _ = lif_forward.block_config(n_neurons)
    depth = lif_forward.NUM_STAGES if kernel == "forward" else lif_backward.NUM_STAGES
    return Config(kernel, block_n, depth)


def workloads(dry_run: bool) -> tuple[Any, ...]:
    from synnet_triton.compiled.performance_model import WORKLOADS, Workload

    if not dry_run:
        return WORKLOADS
    return (Workload("(a) dry", 2, 20, 40), Workload("(b) dry", 1, 6, 1100),
            Workload("(c) dry", 2, 12, 64))


class Layer:
    """The tensors of one workload and the default launch plans of both kernels on them."""

    def __init__(self, workload: Any, device: Any) -> None:
        import torch
        from synnet_triton.kernels.lif_backward import PERIODIC_EXPONENTIAL, lif_backward_arguments
        from synnet_triton.kernels.lif_forward import lif_forward_arguments

        batch, steps, n = workload.batch, workload.steps, workload.neurons
        gen = torch.Generator(device=device).manual_seed(0)
        self.x = torch.randn(batch, steps, n, generator=gen, device=device) * 1.5
        self.grad = torch.randn(batch, steps, n, generator=gen, device=device)
        alpha = torch.full((n,), math.exp(-DT / TAU), device=device)
        beta = alpha[:, None].clone()
        threshold = torch.ones(n, device=device)
        bias = torch.zeros(n, device=device)
        zeros = torch.zeros(batch, n, device=device)
        self.outputs = {"spikes": torch.empty_like(self.x), "u": torch.empty_like(self.x),
                        "final_v": zeros.clone(), "final_i": zeros[:, :, None].clone(),
                        "final_s": zeros.clone()}
        self.forward_plan = lif_forward_arguments(
            self.x, None, alpha, beta, threshold, bias, zeros, zeros[:, :, None], zeros,
            n_steps=steps, seq_start=0, max_spikes=31.0, **self.outputs,
        )  # fmt: skip
        # grad_v and grad_i are read and overwritten: fresh zeros before every checked launch
        self.carried = {"grad_v": zeros.clone(), "grad_i": zeros[:, :, None].clone()}
        self.grad_x = torch.empty_like(self.x)
        self.backward_plan = lif_backward_arguments(
            self.outputs["u"], self.x, self.grad, None, None, alpha, beta, threshold,
            zeros, zeros[:, :, None], zeros, self.carried["grad_v"], self.carried["grad_i"],
            n_steps=steps, seq_start=0, max_spikes=31.0, window=0.5,
            surrogate=PERIODIC_EXPONENTIAL, grad_x=self.grad_x,
        )  # fmt: skip

    def chunked_plan(self, chunk_t: int, num_stages: int) -> Any:
        """Approach (b)'s launch on the forward's tensors (it writes the same outputs)."""
        from synnet_triton.kernels.launch import COMPILE_OPTIONS, LaunchPlan

        args = self.forward_plan.args
        alpha, beta, threshold, bias = args[2:6]
        batch, steps, n = self.x.shape
        outputs = self.outputs
        return LaunchPlan(
            (batch, math.ceil(n / 32)),
            (self.x, alpha, beta.reshape(-1), threshold, bias, outputs["spikes"], outputs["u"],
             outputs["final_v"], outputs["final_i"].reshape(batch, n), outputs["final_s"],
             steps, n, 31.0),
            {"BLOCK_N": 32, "CHUNK_T": chunk_t, "NUM_STAGES": num_stages, "num_warps": 1,
             **COMPILE_OPTIONS},
        )

    def results(self, kernel: str) -> dict[str, Any]:
        """The tensors a launch of ``kernel`` writes (after the launch: copies of them)."""
        if kernel.startswith("forward"):
            return {name: t.clone() for name, t in self.outputs.items()}
        return {"grad_x": self.grad_x.clone(),
                **{name: t.clone() for name, t in self.carried.items()}}

    def reset(self, kernel: str) -> None:
        if kernel == "backward":
            for tensor in self.carried.values():
                tensor.zero_()


def launch_kernel(kernel: Any, plan: Any) -> Any:
    """One launch of ``plan``; on a GPU the compiled kernel (None under the interpreter)."""
    return kernel[plan.grid](*plan.args, **plan.options)


def bitwise_equal(expected: dict[str, Any], found: dict[str, Any]) -> bool:
    """Every tensor equal in its bits (−0.0 is not +0.0; NaN payloads compared too)."""
    import torch

    return all(torch.equal(expected[k].view(torch.int32), found[k].view(torch.int32))
               for k in expected)


def model_device(copy: float) -> Any:
    """The performance model's device for this GPU, with the copy measured in this run."""
    import torch

    from synnet_triton.compiled.performance_model import DEVICES

    name = torch.cuda.get_device_name()
    base = DEVICES["H100"] if "H100" in name else DEVICES["H200"]
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    return dataclasses.replace(base, name=name, sms=sms, bandwidth=copy)


def prediction(compiled: Any, plan: Any, workload: Any, device: Any) -> dict[str, Any]:
    """The compiled code's figures and the model's time for it; {} without compiled code."""
    if compiled is None or device is None:
        return {}
    import torch

    from synnet_triton.compiled.compile_report import compiled_row
    from synnet_triton.compiled.performance_model import predict_launch

    major, minor = torch.cuda.get_device_capability()
    row = compiled_row("config", major * 10 + minor, compiled, plan)
    model = predict_launch(row, workload, device)
    return {"bytes": model.bytes, "predicted_ms_low": model.seconds[0] * 1e3,
            "predicted_ms_high": model.seconds[1] * 1e3, "registers": row["registers"],
            "spills": row["spills"], "steps_in_flight": row["steps_in_flight"]}


def sweep(
    device: Any,
    dry_run: bool,
    repeats: int,
    copy: float,
    launch: Callable[[Any, Any], Any] = launch_kernel,
) -> Iterator[dict[str, Any]]:
    """One row per (workload, kernel, configuration); ``launch(kernel, plan)`` runs a plan."""
    from synnet_triton.kernels.launch import reconfigured
    from synnet_triton.kernels.lif_backward import lif_backward_kernel
    from synnet_triton.kernels.lif_forward import lif_forward_kernel

    from synnet_triton.bench.measure import median_ms

    kernels = {"forward": lif_forward_kernel, "backward": lif_backward_kernel,
               "forward-chunked": chunked_module().chunked_forward_kernel}
    model = model_device(copy) if device.type == "cuda" else None
    for workload in workloads(dry_run):
        layer = Layer(workload, device)
        for name, kernel in kernels.items():
            base = layer.backward_plan if name == "backward" else layer.forward_plan
            default = default_config(name, workload.neurons)
            layer.reset(name)
            launch(lif_forward_kernel if name == "forward-chunked" else kernel, base)
            expected = layer.results(name)
            for config in configurations(name, dry_run):
                plan = (layer.chunked_plan(config.chunk_t, config.num_stages)
                        if name == "forward-chunked" else
                        reconfigured(base, workload.neurons, config.block_n, config.num_stages))
                row: dict[str, Any] = {
                    "workload": workload.name, "batch": workload.batch, "steps": workload.steps,
                    "neurons": workload.neurons, "kernel": name, "block_n": config.block_n,
                    "num_warps": config.block_n // 32, "num_stages": config.num_stages,
                    "chunk_t": config.chunk_t, "default": config == default,
                }  # fmt: skip
                layer.reset(name)
                compiled = launch(kernel, plan)
                if not bitwise_equal(expected, layer.results(name)):
                    yield {**row, "status": "wrong"}
                    continue
                timed = functools.partial(launch, kernel, plan)
                row.update(status="ok", ms=median_ms(timed, device, repeats))
                try:
                    if name == "forward-chunked":
                        # the model reads one step per loop iteration; (b) runs CHUNK_T
                        raise NotImplementedError("approach (b) is not modelled")
                    row.update(prediction(compiled, plan, workload, model))
                except Exception as error:  # keep the timing; say why there is no model
                    row["prediction_error"] = f"{type(error).__name__}: {error}"
                if "bytes" in row:
                    row["achieved_gbps"] = row["bytes"] / (row["ms"] * 1e-3) / 1e9
                    row["fraction_of_copy"] = row["achieved_gbps"] * 1e9 / copy
                yield row
        del layer
        if device.type == "cuda":
            import torch

            torch.cuda.empty_cache()


def winners(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per N bucket and kernel: the configuration correct on every workload of the bucket
    with the least summed time, and the default's summed time beside it."""
    table: dict[str, dict[str, Any]] = {}
    for bucket, contains in BUCKETS:
        in_bucket = [r for r in rows if contains(r["neurons"])]
        if not in_bucket:
            continue
        table[bucket] = {}
        for kernel in ("forward", "backward", "forward-chunked"):
            totals: dict[tuple[int, int, int], float] = {}
            wrong: set[tuple[int, int, int]] = set()
            default_key = None
            for row in (r for r in in_bucket if r["kernel"] == kernel):
                key = (row["block_n"], row["num_stages"], row.get("chunk_t", 1))
                if row["default"]:
                    default_key = key
                if row["status"] != "ok":
                    wrong.add(key)
                    continue
                totals[key] = totals.get(key, 0.0) + row["ms"]
            candidates = {k: v for k, v in totals.items() if k not in wrong}
            if not candidates:
                continue
            best = min(candidates, key=lambda k: candidates[k])
            entry: dict[str, Any] = {"block_n": best[0], "num_stages": best[1],
                                     "chunk_t": best[2], "ms_total": candidates[best]}
            if default_key in candidates:
                entry["default"] = {"block_n": default_key[0], "num_stages": default_key[1],
                                    "ms_total": candidates[default_key],
                                    "default_over_best": candidates[default_key]
                                    / candidates[best]}
            table[bucket][kernel] = entry
    return table


def format_row(row: dict[str, Any]) -> str:
    head = (f"{row['workload']:32s} {row['kernel']:15s} BLOCK_N={row['block_n']:<3d} "
            f"stages={row['num_stages']:<2d} CHUNK_T={row.get('chunk_t', 1):<2d}"
            f"{'*' if row['default'] else ' '}")
    if row["status"] != "ok":
        return f"{head} WRONG (outputs differ from the default configuration's): not timed"
    text = f"{head} {row['ms']:9.3f} ms"
    if "prediction_error" in row:
        text += f"  (no model: {row['prediction_error']})"
    if "achieved_gbps" in row:
        text += (f"  {row['achieved_gbps']:7.1f} GB/s = {row['fraction_of_copy']:6.1%} of copy"
                 f"  model {row['predicted_ms_low']:.3f}-{row['predicted_ms_high']:.3f} ms"
                 f"  regs {row['registers']} spills {row['spills']}")
    return text


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no PNG", file=sys.stderr)
        return
    names = list(dict.fromkeys(r["workload"] for r in rows))
    fig, axes = plt.subplots(2, len(names), figsize=(4 * len(names), 7), squeeze=False)
    for column, name in enumerate(names):
        for line, kernel in enumerate(("forward", "backward")):
            ax = axes[line][column]
            chosen = [r for r in rows if r["workload"] == name and r["kernel"] == kernel]
            labels = [f"{r['block_n']}/{r['num_stages']}" for r in chosen]
            values = [r.get("ms", 0.0) for r in chosen]
            colors = ["C3" if r["status"] != "ok" else "C1" if r["default"] else "C0"
                      for r in chosen]
            ax.bar(labels, values, color=colors)
            ax.set_title(f"{name}\n{kernel}", fontsize=9)
            ax.set_xlabel("BLOCK_N / num_stages (orange: default, red: wrong)", fontsize=8)
            ax.set_ylabel("ms")
            ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    if args.repeats < 1:
        sys.exit(f"--repeats must be >= 1, got {args.repeats}")
    if args.dry_run:
        os.environ.setdefault("TRITON_INTERPRET", "1")
    import torch

    device = torch.device("cpu" if args.dry_run else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --dry-run to check the script on CPU")
    args.out.mkdir(parents=True, exist_ok=True)
    from synnet_triton.bench.measure import measure_copy_bandwidth

    copy = measure_copy_bandwidth(device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu (dry run)"
    report: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": name, "dry_run": args.dry_run, "copy_bandwidth": copy, "rows": [],
    }  # fmt: skip
    print(f"{name}: copy {copy / 1e9:.1f} GB/s; * marks the default configuration", flush=True)

    def save() -> None:
        """After every row, so a timeout keeps what was measured."""
        report["winners"] = winners(report["rows"])
        (args.out / "kernel_configs.json").write_text(json.dumps(report, indent=2))
        (args.out / "winners.json").write_text(json.dumps(report["winners"], indent=2))
        with open(args.out / "kernel_configs.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(report["rows"])

    for row in sweep(device, args.dry_run, args.repeats, copy):
        report["rows"].append(row)
        print(format_row(row), flush=True)
        save()
    plot(report["rows"], args.out / "kernel_configs.png", f"{name}  {report['date']}")
    for bucket, kernels in report["winners"].items():
        for kernel, entry in kernels.items():
            default = entry.get("default", {})
            against = (f"default {default['block_n']}/{default['num_stages']} is "
                       f"{default['default_over_best']:.2f}x" if default else "no default")
            print(f"winner {bucket} {kernel}: BLOCK_N={entry['block_n']} "
                  f"num_stages={entry['num_stages']} CHUNK_T={entry['chunk_t']} "
                  f"({entry['ms_total']:.3f} ms; {against})")
    print(f"wrote {args.out / 'kernel_configs.json'}, kernel_configs.csv, winners.json, "
          "kernel_configs.png")


if __name__ == "__main__":
    main()
