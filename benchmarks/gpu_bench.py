"""GPU benchmark of the fused Triton LIF kernels; ``benchmarks/gpu_check.sh`` runs it.

Two workloads, forward + backward, fp32, timed with CUDA events (median of repeats after
warm-up), each contender on the same input:

* ``long``: one LIF layer, B=64, T=10 000, N=512, S=1 (long audio). Contenders: the Triton
  backend and the torch reference backend; Rockpool ``LIFTorch`` (when installed) with the
  Triton backend at T=1 000, then Rockpool alone at T=10 000 if the T=1 000 time promises
  to finish in about a minute: its backward copies the whole output gradient once per step
  (O(T²) memory traffic). The backward is ``autograd.grad(spikes, x, g)`` for a fixed
  incoming gradient g, so only the LIF op is timed. Every row reports its achieved
  bandwidth against a device-to-device copy measured in the same run, under the byte model
  of docs/design.md §5: the forward reads x (4·S B) and writes spikes and the saved membrane u
  (4 + 4 B); the backward reads u and g (4 + 4 B) and writes the input gradient (4·S B):
  8·S + 16 bytes per neuron-step (what the Triton kernels move; a lower bound for others).
* ``linear``: ``Linear(n, n, bias=False)`` + one LIF layer, B=16, T=500,
  n ∈ {4096, 8192, 16384} (the Open Neuromorphic SNN benchmark), gradients for the input
  and the weight. Contenders: the Triton backend and Rockpool ``LIFTorch``. The matrix
  products, identical for both, dominate this workload.

Writes ``gpu_bench.json`` and ``gpu_bench.png`` into ``--out``. ``--dry-run`` runs tiny
sizes on the CPU under the Triton interpreter to check the script itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

DT = 1e-3
TAU = 0.02


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-results"))
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on CPU (interpreter)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls of fast contenders")
    return parser.parse_args()


def timed(fn: Callable[[], Any], device: Any, warmup: int, repeats: int) -> tuple[float, Any]:
    """(median wall time of ``fn()`` in ms, peak CUDA bytes allocated during the timed calls)."""
    import torch

    for _ in range(warmup):
        fn()
    from synnet_triton.bench.measure import median_ms

    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    ms = median_ms(fn, device, repeats)
    return ms, torch.cuda.max_memory_allocated() if cuda else None


def copy_bandwidth(device: Any, n_bytes: int) -> float:
    """Bytes per second of a device-to-device copy (read + write counted)."""
    import torch

    src = torch.empty(n_bytes // 4, device=device)
    dst = torch.empty_like(src)
    ms, _ = timed(lambda: dst.copy_(src), device, warmup=3, repeats=10)
    return 2 * n_bytes / (ms * 1e-3)


def rockpool_lif(n_in: int, n_out: int, device: Any) -> Any:
    """Rockpool LIFTorch with SynNet's surrogate, or None when Rockpool is not installed."""
    try:
        from rockpool.nn.modules import LIFTorch
        from rockpool.nn.modules.torch.lif_torch import PeriodicExponential
    except ImportError:
        return None
    return LIFTorch(
        shape=(n_in, n_out), tau_mem=TAU, tau_syn=TAU, dt=DT,
        spike_generation_fn=PeriodicExponential, max_spikes_per_dt=31,
    ).to(device)  # fmt: skip


def long_workload(
    device: Any, sizes: tuple[int, int, int], names: tuple[str, ...], repeats: int
) -> list[dict]:
    """fwd+bwd of one LIF layer (B, T, N) = ``sizes`` for the contenders in ``names``."""
    import torch

    from synnet_triton.ops.lif.functional import lif

    batch, steps, n = sizes
    gen = torch.Generator(device=device).manual_seed(0)
    x = (torch.randn(batch, steps, n, generator=gen, device=device) * 1.5).requires_grad_()
    g = torch.randn(batch, steps, n, generator=gen, device=device)

    def ours(backend: str) -> Callable[[], Any]:
        def step() -> Any:
            out, _ = lif(x, TAU, TAU, dt=DT, max_spikes_per_dt=31.0, backend=backend)
            return torch.autograd.grad(out.spikes, x, g)

        return step

    # slow contenders: one warm-up and two timed calls, or a single call when repeats == 1
    slow = (0, 1) if repeats == 1 else (1, 2)
    contenders: dict[str, tuple[Callable[[], Any], int, int]] = {
        "triton": (ours("triton"), 2, repeats),
        "torch reference": (ours("torch"), *slow),
    }
    neurons = rockpool_lif(n, n, device) if "rockpool LIFTorch" in names else None
    if neurons is not None:

        def rockpool_step() -> Any:
            neurons.reset_state()
            out, _, _ = neurons(x)
            return torch.autograd.grad(out, x, g)

        contenders["rockpool LIFTorch"] = (rockpool_step, *slow)
    bytes_moved = (8 * 1 + 16) * batch * steps * n
    rows = []
    for name, (fn, warmup, reps) in contenders.items():
        if name not in names:
            continue
        ms, peak = timed(fn, device, warmup, reps)
        rows.append(
            {
                "contender": name,
                "steps": steps,
                "ms": ms,
                "peak_bytes": peak,
                "bytes_model": bytes_moved,
                "bandwidth": bytes_moved / (ms * 1e-3),
            }
        )
    return rows


def linear_workload(device: Any, batch: int, steps: int, n: int, repeats: int) -> list[dict]:
    import torch

    from synnet_triton.ops.lif.functional import lif

    gen = torch.Generator(device=device).manual_seed(1)
    x = torch.randn(batch, steps, n, generator=gen, device=device).requires_grad_()
    linear = torch.nn.Linear(n, n, bias=False).to(device)
    g = torch.randn(batch, steps, n, generator=gen, device=device)
    inputs = [x, linear.weight]

    def ours() -> Any:
        out, _ = lif(linear(x), TAU, TAU, dt=DT, max_spikes_per_dt=31.0, backend="triton")
        return torch.autograd.grad(out.spikes, inputs, g)

    contenders: dict[str, tuple[Callable[[], Any], int, int]] = {"triton": (ours, 2, repeats)}
    neurons = rockpool_lif(n, n, device)
    if neurons is not None:

        def rockpool_step() -> Any:
            neurons.reset_state()
            out, _, _ = neurons(linear(x))
            return torch.autograd.grad(out, inputs, g)

        contenders["rockpool LIFTorch"] = (rockpool_step, 1, 2)
    rows = []
    for name, (fn, warmup, reps) in contenders.items():
        ms, peak = timed(fn, device, warmup, reps)
        rows.append({"contender": name, "n": n, "ms": ms, "peak_bytes": peak})
        del fn
    return rows


def plot(report: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no PNG", file=sys.stderr)
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    long_rows = report["long"]["rows"]
    labels = [f"{r['contender']}\nT={r['steps']}" for r in long_rows]
    left.bar(labels, [r["ms"] for r in long_rows], color="C0")
    left.set_yscale("log")
    left.set_ylabel("fwd+bwd ms (log)")
    b, t, n = report["long"]["sizes"]
    copy = report["copy_bandwidth"] / 1e12
    left.set_title(f"LIF B={b} N={n} S=1 fp32 (T={t} and {t // 10}); copy {copy:.2f} TB/s")
    for i, row in enumerate(long_rows):
        fraction = row["bandwidth"] / report["copy_bandwidth"]
        left.annotate(f"{row['ms']:.3g} ms\n{fraction:.0%} of copy", (i, row["ms"]), ha="center")
    names = sorted({r["contender"] for r in report["linear"]})
    sizes = sorted({r["n"] for r in report["linear"]})
    width = 0.8 / max(len(names), 1)
    for k, name in enumerate(names):
        values = {r["n"]: r["ms"] for r in report["linear"] if r["contender"] == name}
        right.bar([i + k * width for i in range(len(sizes))], [values.get(s, 0) for s in sizes],
                  width, label=name)  # fmt: skip
    right.set_xticks([i + width * (len(names) - 1) / 2 for i in range(len(sizes))])
    right.set_xticklabels([str(s) for s in sizes])
    right.set_yscale("log")
    batch, steps = report["linear_sizes"]
    right.set_xlabel(f"n (Linear(n, n) + LIF, B={batch}, T={steps})")
    right.set_ylabel("fwd+bwd ms (log)")
    if names:
        right.legend()
    fig.suptitle(f"{report['device']}  {report['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def headline(report: dict) -> list[str]:
    """The figures a reader needs first: the Triton backend on the long-audio layer, achieved
    bandwidth under the byte model against the copy measured in the same run."""
    copy = report["copy_bandwidth"]
    lines = [f"device {report['device'] or 'cpu'}{' (dry run)' if report['dry_run'] else ''}: "
             f"copy {copy / 1e9:.1f} GB/s"]
    batch, steps, neurons = report["long"]["sizes"]
    for row in report["long"]["rows"]:
        if row["contender"] == "triton" and row["steps"] == steps:
            lines.append(f"triton fwd+bwd B={batch} T={steps} N={neurons}: {row['ms']:.3f} ms, "
                         f"{row['bandwidth'] / 1e9:.1f} GB/s = {row['bandwidth'] / copy:.1%} "
                         "of copy")
    return lines


def main() -> None:
    args = parse_args()
    if args.dry_run:
        os.environ.setdefault("TRITON_INTERPRET", "1")
    import torch
    import triton

    device = torch.device("cpu" if args.dry_run else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --dry-run to check the script on CPU")
    long_sizes = (2, 20, 40) if args.dry_run else (64, 10_000, 512)
    linear_sizes = (2, 10, (32, 64)) if args.dry_run else (16, 500, (4096, 8192, 16384))
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "dry_run": args.dry_run,
        "copy_bandwidth": copy_bandwidth(device, 2**30 if device.type == "cuda" else 2**24),
    }
    print(f"copy bandwidth {report['copy_bandwidth'] / 1e9:.1f} GB/s", flush=True)

    def save() -> None:
        """Written after every stage, so a timeout keeps what was measured."""
        (args.out / "gpu_bench.json").write_text(json.dumps(report, indent=2))
        (args.out / "headline.txt").write_text("\n".join(headline(report)) + "\n")
        plot(report, args.out / "gpu_bench.png")

    def show(rows: list[dict]) -> None:
        for row in rows:
            fraction = row["bandwidth"] / report["copy_bandwidth"]
            print(f"long T={row['steps']:<6d} {row['contender']:18s} {row['ms']:10.3f} ms  "
                  f"{fraction:6.1%} of copy", flush=True)  # fmt: skip

    report["long"] = {"sizes": long_sizes, "rows": []}
    report["linear"] = []
    batch, steps, widths = linear_sizes
    report["linear_sizes"] = (batch, steps)
    names = ("triton", "torch reference")
    long_rows = long_workload(device, long_sizes, names, args.repeats)
    # Rockpool's backward copies the whole output gradient once per step (its record writes),
    # O(T^2) traffic: it is first compared at T/10, and at the full T only if that promises
    # to finish in about a minute.
    short = (long_sizes[0], long_sizes[1] // 10, long_sizes[2])
    long_rows += long_workload(device, short, ("triton", "rockpool LIFTorch"), args.repeats)
    report["long"]["rows"] = long_rows
    show(long_rows)
    save()

    for n in widths:
        rows = linear_workload(device, batch, steps, n, args.repeats)
        report["linear"] += rows
        ours = next(r["ms"] for r in rows if r["contender"] == "triton")
        for row in rows:
            print(f"linear n={n:<6d} {row['contender']:18s} {row['ms']:10.3f} ms  "
                  f"{row['ms'] / ours:7.1f}x ours", flush=True)  # fmt: skip
        if device.type == "cuda":
            torch.cuda.empty_cache()
        save()

    rockpool_short = [r["ms"] for r in long_rows if r["contender"] == "rockpool LIFTorch"]
    if rockpool_short and rockpool_short[0] * 100 < 60_000:
        rows = long_workload(device, long_sizes, ("rockpool LIFTorch",), repeats=1)
        report["long"]["rows"] += rows
        show(rows)
        save()
    print(f"wrote {args.out / 'gpu_bench.json'} and gpu_bench.png")


if __name__ == "__main__":
    main()
