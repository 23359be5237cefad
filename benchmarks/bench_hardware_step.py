"""One training step of hardware-exact training (`HardwareSynNet`: the chip's integer forward,
the surrogate sweep back, the quantiser in the graph, Adam) against the float step of the same
SynNet on the same batch, interleaved in one run; issue 15 asks for at most 3x.

    python benchmarks/bench_hardware_step.py [--repeats 7] [--threads 1] [--csv FILE]

Each row: a network (hidden layers), batch size and clip length; the median seconds of each
step over ``--repeats`` interleaved rounds (after one warm-up step each) and their ratio; with
the ``[cpu]`` extra also the float step on the numba loops and the ratio to it. The
input is front-end-like events (Poisson, 0.5 per channel-step) and the loss the spike-count
cross-entropy of ``kws.training``; both steps start from the same parameters each round.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

import torch

from synnet_triton.arrays import numba_available
from synnet_triton.hardware import HardwareSynNet
from synnet_triton.kws.training import NetworkConfig, build_network, spike_count_logits
from synnet_triton.nn.synnet import SynNet

CASES = [
    # (hidden layers, batch, steps): the demo's network on 0.5 s clips, the WAV default on 1 s
    # clips, and a three-layer network
    ((64,), 32, 500),
    ((128,), 32, 1000),
    ((64, 64, 64), 32, 1000),
]


def training_step(model: torch.nn.Module, net: SynNet, events: torch.Tensor,
                  labels: torch.Tensor) -> float:
    """Seconds of one step: forward, spike-count cross-entropy, backward, Adam."""
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(spike_count_logits(model(events), 0.1), labels)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return time.perf_counter() - start


def measure(hidden: tuple[int, ...], batch: int, steps: int, repeats: int) -> dict[str, object]:
    """The float step on the torch reference (the ratio issue 15 set) and, with the [cpu]
    extra, on the numba loops (what ``auto`` runs on a CPU now), beside the hardware step."""
    config = NetworkConfig(n_classes=4, hidden=hidden, time_constants=(2,) * len(hidden))
    net = build_network(config, backend="torch", seed=0, init_gain=0.4)
    initial = {k: v.clone() for k, v in net.state_dict().items()}
    hardware = HardwareSynNet(net)
    models: dict[str, torch.nn.Module] = {"float": net, "hardware": hardware}
    if numba_available():
        compiled = build_network(config, backend="numba", seed=0, init_gain=0.4)
        compiled.load_state_dict(initial)
        models["float_numba"] = compiled
    generator = torch.Generator().manual_seed(0)
    events = torch.poisson(torch.full((batch, steps, 16), 0.5), generator=generator)
    labels = torch.randint(0, 4, (batch,), generator=generator)
    times: dict[str, list[float]] = {name: [] for name in models}
    for round_ in range(repeats + 1):
        for name, model in models.items():
            trained = compiled if name == "float_numba" else net
            trained.load_state_dict(initial)
            seconds = training_step(model, trained, events, labels)
            if round_:  # the first round warms up
                times[name].append(seconds)
    medians = {name: statistics.median(values) for name, values in times.items()}
    row: dict[str, object] = {
        "hidden": "x".join(map(str, hidden)), "batch": batch, "steps": steps,
        "float_step_s": medians["float"], "hardware_step_s": medians["hardware"],
        "ratio": medians["hardware"] / medians["float"], "repeats": repeats}
    if "float_numba" in medians:
        row.update(float_numba_step_s=medians["float_numba"],
                   ratio_to_numba=medians["hardware"] / medians["float_numba"])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [measure(hidden, batch, steps, args.repeats) for hidden, batch, steps in CASES]
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    if args.csv is not None:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
