"""GPU check of the Xylo simulation layer by layer and of hardware-exact training;
``benchmarks/gpu_check.sh`` runs it.

Answers before times. Every CUDA result is first compared with the CPU's, then timed:

* ``xylo``: ``XyloSim`` of a SynNet-shaped spec (16 inputs → 128 hidden neurons with two
  synapses → 4 readouts, ``to_xylo`` of a SynNet with Rockpool's initial weights times
  ``gain``), B=64, T=1000, on 0–2 input events per channel-step. ``quiet`` (gain 1) and
  ``saturating`` (gain 40: currents on the int16 rails, hidden neurons at the 31-spike cap).
  CUDA: one Triton launch per layer (``backend="auto"``); CPU: the vectorised step loop on
  one thread. Outputs and records must be equal in every bit.
* ``training step``: one step of hardware-exact training (forward on the chip's arithmetic,
  surrogate backward, Adam) of a 16 → 128 → 4 SynNet, B=32, T=1000, on CUDA, beside the float
  step of the same SynNet on CUDA (Triton LIF kernels) and the hardware-exact step on the
  CPU. The CUDA outputs must equal the CPU's bit for bit, the gradients to float32 rounding
  (reductions run in another order).

Writes ``gpu_hardware.json`` into ``--out``. ``--dry-run`` runs tiny sizes on the CPU under
the Triton interpreter (the CUDA path forced there) to check the script itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-results"))
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on CPU (interpreter)")
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args()


def seconds(fn: Callable[[], Any], device: Any, repeats: int) -> float:
    """Median wall time of ``fn()`` after one warm-up call, synchronising CUDA."""
    import torch

    def synchronize() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    times = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        fn()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def synnet(hidden: int, gain: float, backend: str) -> Any:
    """A 16 → hidden (2 synapses) → 4 SynNet, Rockpool's initial weights times ``gain``."""
    from synnet_triton.kws.training import NetworkConfig, build_network

    return build_network(NetworkConfig(n_classes=4, hidden=(hidden,), time_constants=(2,)),
                         backend=backend, seed=0, init_gain=gain)


def _fresh_run(sim: Any, events: Any) -> Any:
    return sim.reset_state()(events)


def xylo_rows(device: Any, batch: int, steps: int, hidden: int, repeats: int,
              dry_run: bool) -> list[dict[str, Any]]:
    import torch

    from synnet_triton.xylo import XyloSim

    rows = []
    generator = torch.Generator().manual_seed(0)
    events = torch.randint(0, 3, (batch, steps, 16), generator=generator)
    for name, gain in (("quiet", 1.0), ("busy", 40.0)):
        spec = synnet(hidden, gain, "torch").to_xylo(check=False)
        cpu = XyloSim.from_specification(**spec, verify_config=False, backend="torch")
        ours = XyloSim.from_specification(**spec, verify_config=False,
                                          backend="triton" if dry_run else "auto").to(device)
        expected = cpu.reset_state()(events, record=True)
        got = ours.reset_state()(events.to(device), record=True)
        same = torch.equal(got[0].cpu(), expected[0]) and all(
            torch.equal(got[2][key].cpu(), expected[2][key]) for key in expected[2])
        row: dict[str, Any] = {"workload": f"xylo {name}", "batch": batch, "steps": steps,
                               "hidden": hidden, "bitwise_cpu": same,
                               "hidden_spikes_per_neuron_step":
                                   float(expected[2]["Spikes"].float().mean())}
        if same:
            torch.set_num_threads(1)
            row["cpu_steps_s"] = seconds(partial(_fresh_run, cpu, events), torch.device("cpu"),
                                         repeats)
            row["device_layers_s"] = seconds(partial(_fresh_run, ours, events.to(device)),
                                             device, repeats)
            row["speedup"] = row["cpu_steps_s"] / row["device_layers_s"]
        rows.append(row)
    return rows


def training_rows(device: Any, batch: int, steps: int, hidden: int, repeats: int,
                  dry_run: bool) -> list[dict[str, Any]]:
    import torch

    from synnet_triton.hardware import HardwareSynNet
    from synnet_triton.kws.training import spike_count_logits

    generator = torch.Generator().manual_seed(1)
    events = torch.poisson(torch.full((batch, steps, 16), 0.5), generator=generator)
    labels = torch.randint(0, 4, (batch,), generator=generator)

    def step(model: Any, net: Any, x: Any, y: Any) -> Callable[[], Any]:
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)

        def run() -> Any:
            out = model(x)
            loss = torch.nn.functional.cross_entropy(spike_count_logits(out, 0.1), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            return out

        return run

    cpu_net = synnet(hidden, 0.4, "torch")
    device_net = synnet(hidden, 0.4, "torch").to(device)
    device_net.load_state_dict(cpu_net.state_dict())
    cpu_out = step(HardwareSynNet(cpu_net, backend="torch"), cpu_net, events, labels)()
    device_hw = HardwareSynNet(device_net, backend="triton" if dry_run else "auto")
    x, y = events.to(device), labels.to(device)
    device_out = step(device_hw, device_net, x, y)()
    outputs_equal = torch.equal(device_out.cpu(), cpu_out)
    worst = max(float((a.grad.cpu() - b.grad).abs().max() / (b.grad.abs().max() + 1e-12))
                for a, b in zip(device_net.parameters(), cpu_net.parameters(), strict=True)
                if b.grad is not None)
    row: dict[str, Any] = {"workload": "hardware-exact training step", "batch": batch,
                           "steps": steps, "hidden": hidden, "bitwise_cpu_outputs": outputs_equal,
                           "gradient_relative_difference": worst}
    if outputs_equal and worst < 1e-3:
        float_net = synnet(hidden, 0.4, "auto" if device.type == "cuda" else "torch").to(device)
        row["device_float_step_s"] = seconds(step(float_net, float_net, x, y), device, repeats)
        row["device_hardware_step_s"] = seconds(step(device_hw, device_net, x, y), device,
                                                repeats)
        torch.set_num_threads(1)
        row["cpu_hardware_step_s"] = seconds(
            step(HardwareSynNet(cpu_net), cpu_net, events, labels), torch.device("cpu"), repeats)
        row["hardware_over_float_on_device"] = (row["device_hardware_step_s"]
                                                / row["device_float_step_s"])
    return [row]


def main() -> None:
    args = parse_args()
    if args.dry_run:  # before the kernels are first imported: they run interpreted
        os.environ.setdefault("TRITON_INTERPRET", "1")
    import torch

    if args.dry_run:  # backend="triton" runs the CUDA path's kernels and scans interpreted
        device, batch, steps, hidden, repeats = torch.device("cpu"), 2, 12, 8, 1
    else:
        device, batch, steps, hidden, repeats = torch.device("cuda"), 64, 1000, 128, args.repeats
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dry_run": args.dry_run,
        "rows": xylo_rows(device, batch, steps, hidden, repeats, args.dry_run)
        + training_rows(device, batch // 2, steps, hidden, repeats, args.dry_run),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_hardware.json").write_text(json.dumps(report, indent=2) + "\n")
    for row in report["rows"]:
        print(json.dumps(row))
    failed = [row["workload"] for row in report["rows"]
              if not row.get("bitwise_cpu", row.get("bitwise_cpu_outputs"))]
    if failed:
        raise SystemExit(f"CUDA differs from the CPU on: {', '.join(failed)}")


if __name__ == "__main__":
    main()
