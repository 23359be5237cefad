"""The CPU path side by side: the LIF op's torch reference and its numba loops, one run.

    .venv/bin/python benchmarks/bench_cpu_training.py [--repeats 7] [--out DIR]

For one and two threads, calls of the contenders interleaved round-robin and the median kept:

- the LIF op forward and forward + backward (B = 8 and 32, T = 1000, N = 128, S = 1, M = 31,
  PeriodicExponential, every τ and θ trainable) in ns per neuron-step;
- one training step of the keyword-spotting application's default network (16 → 128 → 11
  SynNet, B = 32, T = 1000, cross-entropy on readout spike counts, Adam), as ``train`` runs it;
- the numba loops' first call in a fresh process, with an empty compile cache and with the
  cache the first one wrote.

Every contender's answer is checked against the torch reference before it is timed (spikes
bitwise, gradients within 1e-5 of their scale). Writes ``cpu_training.csv`` and
``cpu_training.md`` to ``--out`` (default ``bench-results/``).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

from synnet_triton import lif
from synnet_triton.kws.training import NetworkConfig, build_network, spike_count_logits

BACKENDS = ("torch", "numba")
N_NEURONS, STEPS = 128, 1000


def lif_case(batch: int, backend: str) -> tuple[Callable[[], None], Callable[[], None],
                                                Callable[[], tuple[torch.Tensor, ...]]]:
    """(forward, forward + backward, answer) closures for one LIF layer."""
    g = torch.Generator().manual_seed(batch)
    x = torch.randn(batch, STEPS, N_NEURONS, generator=g) * 0.6
    tau_mem = torch.full((N_NEURONS,), 0.02).requires_grad_()
    tau_syn = torch.full((N_NEURONS,), 0.01).requires_grad_()
    threshold = torch.ones(N_NEURONS).requires_grad_()
    leaf = x.clone().requires_grad_()
    weights = torch.randn(batch, STEPS, N_NEURONS, generator=g)

    def run(inputs: torch.Tensor) -> torch.Tensor:
        out, _ = lif(inputs, tau_mem, tau_syn, threshold, max_spikes_per_dt=31.0,
                     backend=backend)
        return out.spikes

    def forward() -> None:
        with torch.no_grad():
            run(x)

    def forward_backward() -> None:
        (run(leaf) * weights).sum().backward()

    def answer() -> tuple[torch.Tensor, ...]:
        spikes = run(leaf)
        grads = torch.autograd.grad((spikes * weights).sum(), [leaf, tau_mem, tau_syn, threshold])
        return (spikes.detach(), *grads)

    return forward, forward_backward, answer


def training_step(backend: str) -> tuple[Callable[[], None], Callable[[], torch.Tensor]]:
    """(one Adam step, the gradients of the first step) for the KWS default network."""
    config = NetworkConfig(n_classes=11, n_channels=16, hidden=(128,), time_constants=(4,))
    net = build_network(config, backend=backend, seed=0, init_gain=0.4)
    g = torch.Generator().manual_seed(1)
    events = torch.poisson(torch.full((32, STEPS, 16), 0.08), generator=g)
    labels = torch.randint(0, 11, (32,), generator=g)
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        logits = spike_count_logits(net(events), 0.1)
        return torch.nn.functional.cross_entropy(logits, labels)

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        loss().backward()
        optimiser.step()

    def answer() -> torch.Tensor:
        grads = torch.autograd.grad(loss(), list(net.parameters()))
        return torch.cat([g.flatten() for g in grads])

    return step, answer


def check(name: str, got: tuple[torch.Tensor, ...], ref: tuple[torch.Tensor, ...]) -> None:
    spikes, *grads = got
    if not torch.equal(spikes.view(torch.int32), ref[0].view(torch.int32)):
        raise SystemExit(f"{name}: spikes differ from the torch reference")
    for a, b in zip(grads, ref[1:]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * float(b.abs().max()))


def timed(calls: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds per contender, calls interleaved round-robin after one warm-up each."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


FIRST_CALL = """
import time, torch
start = time.perf_counter()
from synnet_triton import lif
x = torch.randn(2, 50, 8, requires_grad=True)
out, _ = lif(x, 0.02, 0.02, backend="numba")
out.spikes.sum().backward()
print(time.perf_counter() - start)
"""


def first_call_seconds() -> tuple[float, float]:
    """Seconds to import and run one forward + backward on numba in a fresh process: with an
    empty compile cache, then with the cache that run wrote."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        runs = [float(subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, check=True,
                                     capture_output=True, text=True).stdout)
                for _ in range(2)]
    return runs[0], runs[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch in (8, 32):
            cases = {b: lif_case(batch, b) for b in BACKENDS}
            reference = cases["torch"][2]()
            check(f"numba B={batch}", cases["numba"][2](), reference)
            for pass_, index in (("fwd", 0), ("fwd+bwd", 1)):
                medians = timed({b: cases[b][index] for b in BACKENDS}, args.repeats)
                for backend, seconds in medians.items():
                    rows.append({"threads": threads, "what": f"LIF B={batch} {pass_}",
                                 "backend": backend, "ms": seconds * 1e3,
                                 "ns_per_neuron_step": seconds / (batch * STEPS * N_NEURONS) * 1e9,
                                 "torch_over_this": medians["torch"] / seconds})
        steps = {b: training_step(b) for b in BACKENDS}
        reference_grads = steps["torch"][1]()
        torch.testing.assert_close(steps["numba"][1](), reference_grads, rtol=1e-5,
                                   atol=1e-5 * float(reference_grads.abs().max()))
        medians = timed({b: steps[b][0] for b in BACKENDS}, args.repeats)
        for backend, seconds in medians.items():
            rows.append({"threads": threads, "what": "KWS training step (16→128→11, B=32)",
                         "backend": backend, "ms": seconds * 1e3, "ns_per_neuron_step": "",
                         "torch_over_this": medians["torch"] / seconds})
    cold, warm = first_call_seconds()
    with open(args.out / "cpu_training.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"CPU path, {stamp}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
             f"median of {args.repeats} interleaved calls", "",
             "| threads | what | backend | ms | ns/neuron-step | torch ÷ this |",
             "|---:|---|---|---:|---:|---:|"]
    for row in rows:
        ns = row["ns_per_neuron_step"]
        lines.append(f"| {row['threads']} | {row['what']} | {row['backend']} | "
                     f"{row['ms']:.2f} | {'' if ns == '' else f'{ns:.2f}'} | "
                     f"{row['torch_over_this']:.2f}× |")
    lines += ["", f"numba first call in a fresh process (import + compile + run): "
              f"{cold:.1f} s with an empty cache, {warm:.1f} s with the cache it wrote"]
    (args.out / "cpu_training.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
