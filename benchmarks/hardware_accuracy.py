"""Float, post-training-quantised and hardware-exact accuracy side by side, in one run.

For each setting: train in float, measure held-out accuracy in float and on the bit-exact
Xylo simulation of ``to_xylo()`` (post-training quantisation, PTQ; global quantisation, and
channel quantisation for comparison), fine-tune through the
chip's arithmetic (``train(..., hardware=HardwareSynNet(net))``), and measure the chip again;
the chip accuracy the last epoch reported must be the simulation's (checked). Settings:

- ``demo``: the embedded synthetic keywords as ``make demo`` trains them (64 hidden, 0.5 s).
- ``wide-range``: two hidden layers (32, 32) trained in float, then the second layer's weights
  and threshold multiplied by ``--wide-factor`` — the same float network (spike for spike up
  to rounding), but global quantisation's one scale for all hidden weights now leaves the first
  layer's weights a few integer levels, so its currents are small integers whose bit-shift
  decay (at least 1 per step) and rounding change what the network computes: Xylo's 8-bit
  weights over a wide dynamic range.
- ``speech`` (with ``--data DIR``): a folder of WAV keywords (tools/make_speech_set.py),
  every fifth clip held out, the CLI's WAV defaults (128 hidden, 30 epochs at 3e-3).

    python benchmarks/hardware_accuracy.py [--data /tmp/speech/words] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from synnet_triton.hardware import HardwareSynNet
from synnet_triton.kws.data import EventSet, KeywordSetConfig, synthetic_event_set, wav_event_set
from synnet_triton.kws.data_sources import split_every_fifth
from synnet_triton.kws.training import (
    NetworkConfig,
    TrainConfig,
    build_network,
    evaluate,
    evaluate_xylo,
    train,
)
from synnet_triton.nn.synnet import SynNet


def synthetic_sets() -> tuple[EventSet, EventSet]:
    words = KeywordSetConfig(n_classes=4, seconds=0.5)
    return synthetic_event_set(256, 0, words), synthetic_event_set(128, 1, words)


def widen(factor: float) -> Callable[[SynNet], None]:
    """Multiply the second hidden layer's weights and threshold by ``factor``."""

    def apply(net: SynNet) -> None:
        with torch.no_grad():
            net.linear_layers()[1].weight.mul_(factor)
            net.neuron_layers()[1].threshold.mul_(factor)

    return apply


def run_setting(
    name: str, sets: tuple[EventSet, EventSet], network: NetworkConfig, float_config: TrainConfig,
    hardware_config: TrainConfig, after_float: Callable[[SynNet], None] | None = None,
) -> dict[str, Any]:
    train_set, test_set = sets
    net = build_network(network, backend="torch", seed=0, init_gain=float_config.init_gain)
    start = time.perf_counter()
    train(net, train_set, test_set, float_config, progress=False)
    float_seconds = time.perf_counter() - start
    if after_float is not None:
        after_float(net)
    float_accuracy = evaluate(net, test_set).accuracy
    ptq = evaluate_xylo(net, test_set).accuracy
    ptq_channel = evaluate_xylo(net, test_set, quantize="channel").accuracy
    start = time.perf_counter()
    history = train(net, train_set, test_set, hardware_config, progress=False,
                    hardware=HardwareSynNet(net))
    hardware_seconds = time.perf_counter() - start
    chip = evaluate_xylo(net, test_set).accuracy
    if history[-1].test_accuracy != chip:
        raise AssertionError(f"{name}: training reported {history[-1].test_accuracy}, "
                             f"the chip simulation gives {chip}")
    loss = float_accuracy - ptq
    return {
        "setting": name, "test_clips": len(test_set), "float": float_accuracy, "ptq": ptq,
        "ptq_channel": ptq_channel,
        "hardware_exact": chip, "float_after": evaluate(net, test_set).accuracy,
        "recovered_share_of_loss": (chip - ptq) / loss if loss > 0 else None,
        "float_epochs": float_config.epochs, "float_lr": float_config.lr,
        "hardware_epochs": hardware_config.epochs, "hardware_lr": hardware_config.lr,
        "float_seconds": float_seconds, "hardware_seconds": hardware_seconds,
        "hardware_history": [record.test_accuracy for record in history],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="WAV keyword folder")
    parser.add_argument("--wide-factor", type=float, default=200.0)
    parser.add_argument("--hardware-epochs", type=int, default=8)
    parser.add_argument("--hardware-lr", type=float, default=3e-3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    fine_tune = TrainConfig(epochs=args.hardware_epochs, lr=args.hardware_lr)
    synthetic = synthetic_sets()
    rows = [
        run_setting("demo", synthetic, NetworkConfig(n_classes=4, hidden=(64,)),
                    TrainConfig(epochs=6, lr=1e-2), fine_tune),
        run_setting(f"wide-range x{args.wide_factor:g}", synthetic,
                    NetworkConfig(n_classes=4, hidden=(32, 32), time_constants=(2, 2)),
                    TrainConfig(epochs=6, lr=1e-2), fine_tune, widen(args.wide_factor)),
    ]
    if args.data is not None:
        train_set, test_set = split_every_fifth(wav_event_set(args.data, None))
        network = NetworkConfig(n_classes=len(train_set.class_names), hidden=(128,))
        rows.append(run_setting("speech", (train_set, test_set), network,
                                TrainConfig(epochs=30, lr=3e-3), fine_tune))
    print("| setting | held-out clips | float | PTQ on chip (global) | hardware-exact on chip "
          "(global) | share of the PTQ loss recovered | PTQ on chip (channel) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        share = row["recovered_share_of_loss"]
        print(f"| {row['setting']} | {row['test_clips']} | {row['float']:.3f} | "
              f"{row['ptq']:.3f} | {row['hardware_exact']:.3f} | "
              f"{'–' if share is None else f'{share:.0%}'} | {row['ptq_channel']:.3f} |")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
