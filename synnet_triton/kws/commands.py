"""What the keyword-spotting commands of ``synnet-triton`` do: demo, train, eval, detect.

``demo`` is the whole path in one command: synthesise a keyword-spotting set, turn it into
front-end events, train a Xylo-sized SynNet, measure float accuracy on held-out clips,
convert to Xylo and measure accuracy on the Xylo-parity simulation, and write a JSON summary,
a checkpoint and PNG plots. ``train`` and ``eval`` are its halves, joined by the checkpoint.
A user's mistake is a ``ValueError`` whose message names the option.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch

from synnet_triton.kws.runs import (
    SUMMARY_NAME,
    device_name,
    hardware_headline,
    headline,
    held_out_set,
    long_audio_run,
    parse_device,
    plot_first_clip,
    resolved_backend,
    train_run,
    write_summary,
)
from synnet_triton.xylo.targets import DEFAULT_TARGET

__all__ = ["command_demo", "command_detect", "command_eval", "command_train"]


def command_train(args: argparse.Namespace) -> int:
    run = train_run(args)
    summary = run["summary"]
    write_summary(summary, args.out / SUMMARY_NAME)
    print(headline(summary))
    if hardware_headline(summary):
        print(hardware_headline(summary))
    print("wrote " + ", ".join([str(args.out / SUMMARY_NAME), summary["checkpoint"],
                                *summary["plots"]]))
    return 0


def command_demo(args: argparse.Namespace) -> int:
    from synnet_triton.kws.training import evaluate_xylo

    start = time.perf_counter()
    args.xylo = True  # the demo ends on the chip: refuse a network it cannot hold up front
    run = train_run(args)
    summary, net, test_set = run["summary"], run["net"], run["test_set"]
    xylo = evaluate_xylo(net, test_set, progress=not args.no_progress, target=args.target,
                         quantize=args.quantize)
    summary["xylo_accuracy"] = xylo.accuracy
    summary["xylo_clips_per_second"] = xylo.clips_per_second
    summary["float_xylo_agreement"] = (
        (xylo.predictions == run["float"].predictions).double().mean().item()
    )
    summary["plots"].append(str(plot_first_clip(net, test_set, args.out / "clip.png")))
    if args.long_seconds > 0 and args.data is None:
        summary["long_audio"] = long_audio_run(net, args)
        summary["plots"].append(summary["long_audio"]["plot"])
    summary["total_seconds"] = time.perf_counter() - start
    write_summary(summary, args.out / SUMMARY_NAME)
    print(headline(summary))
    if hardware_headline(summary):
        print(hardware_headline(summary))
    if "long_audio" in summary:
        long_audio = summary["long_audio"]
        print(
            f"long audio ({long_audio['clips']} clips of {long_audio['seconds']} s): "
            + headline(long_audio)
        )
    print(
        f"wrote {args.out / SUMMARY_NAME}, {summary['checkpoint']}, " + ", ".join(summary["plots"])
    )
    return 0


def _checkpoint_for(args: argparse.Namespace) -> tuple[torch.device, str, Any, Any, dict]:
    """(device, backend, net, its NetworkConfig, extra) of ``args.checkpoint`` on the asked
    device; sets ``args.target`` (the checkpoint's chip unless given). With ``--xylo``, a
    DesignError listing every rule of that chip the network breaks."""
    from synnet_triton.kws.training import load_checkpoint

    device = parse_device(args.device)
    backend = resolved_backend(args.backend, device)
    net, network, extra = load_checkpoint(args.checkpoint, backend=backend, device=device)
    if args.target is None:
        args.target = extra.get("xylo_target", DEFAULT_TARGET)
    if args.xylo:
        network.design_report(args.target).enforce()
    return device, backend, net, network, extra


def command_eval(args: argparse.Namespace) -> int:
    from synnet_triton.kws.reports import format_evaluation
    from synnet_triton.kws.training import evaluate, evaluate_xylo

    device, backend, net, network, extra = _checkpoint_for(args)
    test_set = held_out_set(extra["source"], args)
    names = extra.get("class_names", test_set.class_names)
    floating = evaluate(net, test_set, progress=not args.no_progress)
    quantize = extra.get("xylo_quantize", "global")
    result = evaluate_xylo(net, test_set, progress=not args.no_progress,
                           target=args.target, quantize=quantize) if args.xylo \
        else floating
    report = {
        "checkpoint": str(args.checkpoint),
        "mode": "xylo" if args.xylo else "float",
        "accuracy": result.accuracy,
        "class_names": names,
        "labels": test_set.labels.tolist(),
        "predictions": result.predictions.tolist(),
        "readout_spikes_per_clip": result.counts.sum(dim=1).mean().item(),
        "clips": len(test_set),
        "clips_per_second": result.clips_per_second,
        "backend": "xylo-sim" if args.xylo else backend,
        "xylo_quantize": quantize,
        "device": device_name(device),
    }
    if args.xylo:
        report["float_accuracy"] = floating.accuracy
        report["float_xylo_agreement"] = (
            (result.predictions == floating.predictions).double().mean().item())
    title = f"{args.checkpoint} on {len(test_set)} held-out clips, " + (
        "Xylo-parity simulation" if args.xylo else f"float ({backend}, {device_name(device)})")
    other = ("float", floating.predictions) if args.xylo else None
    print(format_evaluation(title, names, test_set.labels, result.predictions, other))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def command_detect(args: argparse.Namespace) -> int:
    from synnet_triton.kws.detect import DetectorConfig, detect_keywords

    _, _, net, network, extra = _checkpoint_for(args)
    if not args.recording.is_file():
        raise ValueError(f"{args.recording}: no such file")
    if args.min_share > 1:
        raise ValueError(f"--min-share {args.min_share}: expected a share in (0, 1]")
    window = float(extra.get("source", {}).get("seconds") or 1.0)
    config = DetectorConfig(window=window, min_share=args.min_share,
                            min_spikes=args.min_spikes, chunk_seconds=args.chunk_seconds)
    names = list(extra.get("class_names") or [f"class{k}" for k in range(network.n_classes)])
    run = detect_keywords(net, args.recording, names, config, xylo=args.xylo,
                          target=args.target, quantize=extra.get("xylo_quantize", "global"))
    for found in run.detections:
        print(f"{found.start_s:10.2f} s  {found.end_s:10.2f} s  {found.word:12s}  "
              f"confidence {found.confidence:.2f}")
    print(f"{len(run.detections)} detections in {run.seconds:.1f} s of audio "
          f"({run.mode}); {run.compute_seconds:.1f} s of compute, "
          f"{run.real_time_factor:.0f}x real time")
    print("wrote " + ", ".join(str(p) for p in run.write(args.out)))
    return 0

