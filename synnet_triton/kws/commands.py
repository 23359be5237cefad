"""What the keyword-spotting commands of ``synnet-triton`` do: demo, train, eval, detect.

``demo`` is the whole path in one command: synthesise a keyword-spotting set, turn it into
front-end events, train a Xylo-sized SynNet, measure float accuracy on held-out clips,
convert to Xylo and measure accuracy on the Xylo-parity simulation, and write a JSON summary,
a checkpoint and PNG plots. ``train`` and ``eval`` are its halves, joined by the checkpoint.
A user's mistake is a ``ValueError`` whose message names the option.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from synnet_triton.kws.data_sources import held_out_set
from synnet_triton.kws.options import DetectRequest, EvalRequest, LongAudio, Runtime, TrainRun
from synnet_triton.kws.run_folder import SUMMARY_NAME, atomic_write_text
from synnet_triton.kws.runs import (
    device_name,
    hardware_headline,
    headline,
    long_audio_run,
    parse_device,
    plot_first_clip,
    resolved_backend,
)
from synnet_triton.kws.training_run import FinishedRun, commit_run, open_run, train_run
from synnet_triton.xylo.targets import DEFAULT_TARGET

__all__ = ["command_demo", "command_detect", "command_eval", "command_train"]


def _print_written(finished: FinishedRun) -> None:
    summary = finished.summary
    print("wrote " + ", ".join([str(finished.run.out / SUMMARY_NAME), summary["checkpoint"],
                                *summary["plots"]]))


def command_train(run: TrainRun) -> int:
    """Train into ``run.out``: checkpoint, summary and curve; prints the headline.

    The folder is locked and checked before any data is read; after every epoch the run's
    state is saved there for ``--resume``; the finished run's files replace the previous
    ones all at once."""
    folder, run, state = open_run(run)
    with folder:
        finished = train_run(run, folder, state)
        commit_run(finished)
    summary = finished.summary
    print(headline(summary))
    if hardware_headline(summary):
        print(hardware_headline(summary))
    _print_written(finished)
    return 0


def command_demo(run: TrainRun, long: LongAudio) -> int:
    """Train, then score the network on the chip's simulation too (and on ``long`` clips of
    the synthetic set); the network must fit the chip before training starts."""
    from synnet_triton.kws.training import evaluate_xylo

    start = time.perf_counter()
    folder, run, state = open_run(replace(run, must_fit_chip=True))
    with folder:
        finished = train_run(run, folder, state)
        summary, net, test_set = finished.summary, finished.net, finished.test_set
        run = finished.run
        model = run.model
        assert model.target is not None  # train_run chose it
        xylo = evaluate_xylo(net, test_set, progress=run.runtime.progress, target=model.target,
                             quantize=model.quantize)
        summary["xylo_accuracy"] = xylo.accuracy
        summary["xylo_clips_per_second"] = xylo.clips_per_second
        summary["float_xylo_agreement"] = (
            (xylo.predictions == finished.float.predictions).double().mean().item()
        )
        clip = plot_first_clip(net, test_set, finished.staged / "clip.png")
        summary["plots"].append(str(run.out / clip.name))
        if long.seconds > 0 and run.data.data is None:
            summary["long_audio"] = long_audio_run(net, long, run, finished.staged)
            summary["plots"].append(summary["long_audio"]["plot"])
        summary["total_seconds"] = time.perf_counter() - start
        commit_run(finished)
    print(headline(summary))
    if hardware_headline(summary):
        print(hardware_headline(summary))
    if "long_audio" in summary:
        long_audio = summary["long_audio"]
        print(
            f"long audio ({long_audio['clips']} clips of {long_audio['seconds']} s): "
            + headline(long_audio)
        )
    _print_written(finished)
    return 0


def _checkpoint_for(checkpoint: Path, runtime: Runtime, target: str | None, xylo: bool,
                    ) -> tuple[torch.device, str, Any, Any, dict, str]:
    """(device, backend, net, its NetworkConfig, extra, target) of ``checkpoint`` on the asked
    device; ``target`` is the checkpoint's chip unless given. With ``xylo``, a DesignError
    listing every rule of that chip the network breaks. A summary beside the checkpoint that
    names another checkpoint is reported on stderr."""
    from synnet_triton.kws.checkpoint import load_checkpoint

    device = parse_device(runtime.device)
    backend = resolved_backend(runtime.backend, device)
    net, network, extra = load_checkpoint(checkpoint, backend=backend, device=device)
    _check_summary_beside(checkpoint)
    if target is None:
        target = extra.get("xylo_target", DEFAULT_TARGET)
    if xylo:
        network.design_report(target).enforce()
    return device, backend, net, network, extra, target


def _check_summary_beside(checkpoint: Path) -> None:
    from synnet_triton.kws.checkpoint import file_sha256

    summary_path = checkpoint.resolve().parent / SUMMARY_NAME
    try:
        recorded = json.loads(summary_path.read_text()).get("checkpoint_sha256")
    except (OSError, ValueError, AttributeError):
        return
    if isinstance(recorded, str) and recorded != file_sha256(checkpoint):
        print(f"warning: {summary_path} describes another checkpoint than {checkpoint} "
              "(their SHA-256 differ): the two are from different runs", file=sys.stderr)


def command_eval(request: EvalRequest) -> int:
    """Score a checkpoint on its held-out set, in float or on the chip; prints the report."""
    from synnet_triton.kws.reports import format_evaluation
    from synnet_triton.kws.training import evaluate, evaluate_xylo

    device, backend, net, _, extra, target = _checkpoint_for(
        request.checkpoint, request.runtime, request.target, request.xylo)
    progress = request.runtime.progress
    names = extra.get("class_names") or [f"word{k}" for k in range(net.n_classes)]
    test_set = held_out_set(extra.get("source"), request.held_out, names)
    floating = evaluate(net, test_set, progress=progress)
    if not bool(torch.isfinite(floating.counts).all()):
        raise ValueError(f"checkpoint {request.checkpoint}: its readout is not finite; the "
                         "network is not scored")
    quantize = extra.get("xylo_quantize", "global")
    result = evaluate_xylo(net, test_set, progress=progress, target=target,
                           quantize=quantize) if request.xylo else floating
    report = {
        "checkpoint": str(request.checkpoint),
        "mode": "xylo" if request.xylo else "float",
        "accuracy": result.accuracy,
        "class_names": names,
        "labels": test_set.labels.tolist(),
        "predictions": result.predictions.tolist(),
        "readout_spikes_per_clip": result.counts.sum(dim=1).mean().item(),
        "clips": len(test_set),
        "clips_per_second": result.clips_per_second,
        "backend": "xylo-sim" if request.xylo else backend,
        "xylo_quantize": quantize,
        "device": device_name(device),
    }
    if request.xylo:
        report["float_accuracy"] = floating.accuracy
        report["float_xylo_agreement"] = (
            (result.predictions == floating.predictions).double().mean().item())
    title = f"{request.checkpoint} on {len(test_set)} held-out clips, " + (
        "Xylo-parity simulation" if request.xylo
        else f"float ({backend}, {device_name(device)})")
    other = ("float", floating.predictions) if request.xylo else None
    print(format_evaluation(title, names, test_set.labels, result.predictions, other))
    if request.json is not None:
        atomic_write_text(request.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {request.json}")
    return 0


def command_detect(request: DetectRequest) -> int:
    """Stream a recording through a checkpoint and report the keywords found."""
    from synnet_triton.kws.audio_folder import check_readable
    from synnet_triton.kws.detect import DetectorConfig, detect_keywords
    from synnet_triton.kws.detection_scores import (
        det_curve,
        read_truth,
        score_detections,
        write_det,
    )
    from synnet_triton.kws.reports import printable

    _, _, net, network, extra, target = _checkpoint_for(
        request.checkpoint, request.runtime, request.target, request.xylo)
    if not request.recording.is_file():
        raise ValueError(f"{request.recording}: no such file")
    check_readable(request.recording)
    truth = None if request.truth is None else read_truth(request.truth)
    if request.min_share > 1:
        raise ValueError(f"--min-share {request.min_share}: expected a share in (0, 1]")
    window = float(extra.get("source", {}).get("seconds") or 1.0)
    config = DetectorConfig(window=window, min_share=request.min_share,
                            min_spikes=request.min_spikes, chunk_seconds=request.chunk_seconds)
    names = list(extra.get("class_names") or [f"class{k}" for k in range(network.n_classes)])
    run = detect_keywords(net, request.recording, names, config, xylo=request.xylo,
                          target=target, quantize=extra.get("xylo_quantize", "global"))
    for found in run.detections:
        print(f"{found.start_s:10.2f} s  {found.end_s:10.2f} s  {printable(found.word):12s}  "
              f"confidence {found.confidence:.2f}")
    print(f"{len(run.detections)} detections in {run.seconds:.1f} s of audio "
          f"({run.mode}); {run.compute_seconds:.1f} s of compute, "
          f"{run.real_time_factor:.0f}x real time")
    written = run.write(request.out)
    if truth is not None:
        scores = score_detections(run.detections, truth, run.seconds)
        print(f"against {request.truth}: recall {scores['recall']:.3f} ({scores['found']}/"
              f"{scores['words']} words), {scores['false_alarms']} false alarms "
              f"({scores['false_alarms_per_hour']:.1f} per hour) at min_share "
              f"{request.min_share:g}")
        written += write_det(det_curve(run, truth), request.out)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
