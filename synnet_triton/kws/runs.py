"""The runs behind the ``synnet-triton`` commands: data sets, the training run, the long-clip
run, summaries and figures."""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch

from synnet_triton.kws.audio import FrontEndConfig
from synnet_triton.kws.data import EventSet, KeywordSetConfig, synthetic_event_set, wav_event_set
from synnet_triton.kws.options import (
    DataOptions,
    HeldOutOverrides,
    LongAudio,
    ModelOptions,
    TrainRun,
)
from synnet_triton.xylo.design import DesignError

if TYPE_CHECKING:
    from synnet_triton.kws.training import TrainConfig
    from synnet_triton.nn.synnet import SynNet, SynNetResult

CHECKPOINT_NAME = "checkpoint.pt"
SUMMARY_NAME = "summary.json"
SYNTHETIC_SECONDS = 0.5
"""Clip length of the synthetic set unless ``--seconds`` says otherwise."""
SILENT_SPIKES_PER_CLIP = 1.0
SATURATED_SPIKES_PER_STEP = 1.0


def parse_device(name: str) -> torch.device:
    """``--device``: 'auto', 'cpu', 'cuda' or 'cuda:K'; ValueError naming the option."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name}: expected 'auto', 'cpu', 'cuda' or 'cuda:K'") from None
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: expected 'auto', 'cpu', 'cuda' or 'cuda:K'")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: this machine has {torch.cuda.device_count()} GPUs")
    return device


def resolved_backend(backend: str, device: torch.device) -> str:
    """``--backend`` for ``device``; ValueError when this machine cannot run it."""
    from synnet_triton.ops.lif import resolve_backend

    try:
        return resolve_backend(backend, device, recurrent=False)
    except RuntimeError as error:
        raise ValueError(f"--backend {backend}: {error}") from None


def split_every_fifth(everything: EventSet) -> tuple[EventSet, EventSet]:
    """(training, held-out): every fifth clip (4, 9, 14, …) is held out."""
    held_out = torch.arange(len(everything)) % 5 == 4
    names, source = everything.class_names, everything.source
    return (
        EventSet(everything.events[~held_out], everything.labels[~held_out], names, source),
        EventSet(everything.events[held_out], everything.labels[held_out], names, source),
    )


def load_sets(options: DataOptions, progress: bool = True,
              ) -> tuple[EventSet, EventSet, dict[str, Any]]:
    """Training and held-out event sets, and a JSON-able description of how to remake them."""
    front_end = FrontEndConfig()
    if options.data is not None:
        if not options.data.is_dir():
            raise ValueError(f"--data {options.data}: not a directory")
        skip = options.skip_unreadable
        everything = wav_event_set(options.data, options.seconds, front_end, progress=progress,
                                   skip_unreadable=skip)
        assert everything.source is not None
        print(everything.source.format())
        # the held-out folder takes the training clips' length, whatever the rule gave
        seconds = everything.source.seconds
        if options.test_data is not None:
            test = wav_event_set(options.test_data, seconds, front_end, progress=progress,
                                 skip_unreadable=skip)
            assert test.source is not None
            print(test.source.format())
            if test.class_names != everything.class_names:
                raise ValueError(
                    f"--test-data classes {test.class_names} differ from --data classes "
                    f"{everything.class_names}"
                )
            train = everything
        else:
            train, test = split_every_fifth(everything)
        source = {
            "kind": "wav",
            "data": str(options.data),
            "test_data": None if options.test_data is None else str(options.test_data),
            "seconds": seconds,
        }
        return train, test, source
    config = KeywordSetConfig(n_classes=options.classes,
                              seconds=options.seconds or SYNTHETIC_SECONDS)
    seed = options.data_seed
    train = synthetic_event_set(options.train_clips, 2 * seed, config, front_end, progress)
    test = synthetic_event_set(options.test_clips, 2 * seed + 1, config, front_end, progress)
    source = {
        "kind": "synthetic",
        "classes": options.classes,
        "seconds": config.seconds,
        "train_clips": options.train_clips,
        "test_clips": options.test_clips,
        "data_seed": seed,
    }
    return train, test, source


def held_out_set(source: dict[str, Any], overrides: HeldOutOverrides) -> EventSet:
    """The held-out set of a checkpoint's data ``source``, with the overrides given to eval."""
    seconds = overrides.seconds if overrides.seconds is not None else source["seconds"]
    if overrides.data is not None:
        return wav_event_set(overrides.data, seconds)
    if source["kind"] == "wav":
        if source["test_data"] is not None:
            return wav_event_set(source["test_data"], seconds)
        return split_every_fifth(wav_event_set(source["data"], seconds))[1]
    config = KeywordSetConfig(n_classes=source["classes"], seconds=seconds)
    clips = overrides.test_clips if overrides.test_clips is not None else source["test_clips"]
    seed = overrides.data_seed if overrides.data_seed is not None else source["data_seed"]
    return synthetic_event_set(clips, 2 * seed + 1, config)


def train_run(run: TrainRun) -> dict[str, Any]:
    """Shared by demo and train: data, training, float evaluation, checkpoint, curve plot."""
    from synnet_triton.kws.plots import plot_training_curve
    from synnet_triton.kws.training import (
        NetworkConfig,
        TrainConfig,
        build_network,
        evaluate,
        save_checkpoint,
        train,
    )

    device = parse_device(run.runtime.device)
    backend = resolved_backend(run.runtime.backend, device)
    progress = run.runtime.progress
    model = run.model.for_data(run.data)
    assert model.hidden is not None and model.epochs is not None and model.lr is not None
    if model.epochs == 0 and not model.hardware_aware:
        raise ValueError("--epochs 0 trains nothing: add --hardware-aware to train through "
                         "the chip from scratch")
    start = time.perf_counter()
    train_set, test_set, source = load_sets(run.data, progress)
    data_seconds = time.perf_counter() - start
    network = NetworkConfig(
        n_classes=len(train_set.class_names),
        n_channels=train_set.events.shape[-1],
        hidden=(model.hidden,),
        time_constants=(model.time_constants,),
    )
    design = network.design_report(model.target)
    if not design.fits and (run.must_fit_chip or model.hardware_aware):
        raise DesignError(design)
    if design.violations:
        print(f"note: {design}" + ("" if design.fits else
              "\n  (trained in float only; eval --xylo will refuse it)"), file=sys.stderr)
    settings = TrainConfig(
        epochs=model.epochs,
        batch_size=model.batch_size,
        lr=model.lr,
        seed=model.seed,
        init_gain=model.init_gain,
    )
    net = build_network(network, backend=backend, seed=model.seed, init_gain=model.init_gain)
    net = net.to(device)
    start = time.perf_counter()
    history = train(net, train_set, test_set, settings, progress=progress, log_epochs=True)
    train_seconds = time.perf_counter() - start
    hardware = None
    if model.hardware_aware:
        hardware = hardware_aware_run(net, train_set, test_set, settings, model, progress)
    result = evaluate(net, test_set, progress=progress)
    readout = result.counts.sum(dim=1).mean().item()
    per_neuron_step = readout / (test_set.events.shape[1] * len(train_set.class_names))
    if per_neuron_step > SATURATED_SPIKES_PER_STEP:
        print(f"warning: the readout saturates ({per_neuron_step:.1f} spikes per neuron and "
              "step; Xylo emits at most 1): lower --init-gain or --lr", file=sys.stderr)
    if readout < SILENT_SPIKES_PER_CLIP:
        print(f"warning: the readout is silent ({readout:.2f} spikes per held-out clip): the "
              "network cannot tell the classes apart; lower --lr or raise --init-gain",
              file=sys.stderr)
    run.out.mkdir(parents=True, exist_ok=True)
    checkpoint = run.out / CHECKPOINT_NAME
    quantize = model.quantize
    extra = {"source": source, "class_names": train_set.class_names,
             "float_accuracy": result.accuracy, "xylo_target": model.target,
             "xylo_quantize": quantize}
    if hardware is not None:
        extra["xylo_accuracy"] = hardware["xylo_accuracy"]
    save_checkpoint(checkpoint, net, network, extra)
    curve = plot_training_curve(history, run.out / "training_curve.png")
    summary = {
        "float_accuracy": result.accuracy,
        "float_predictions": result.predictions.tolist(),
        "float_readout_spikes_per_clip": result.counts.sum(dim=1).mean().item(),
        "backend": backend,
        "device": device_name(device),
        "train_seconds": train_seconds,
        "data_seconds": data_seconds,
        "clips_per_second": result.clips_per_second,
        "train_clips": len(train_set),
        "test_clips": len(test_set),
        "time_steps": train_set.events.shape[1],
        "network": asdict(network),
        "xylo_target": model.target,
        "xylo_quantize": quantize,
        "xylo_design": [str(violation) for violation in design.violations],
        "training": asdict(settings),
        "data": source,
        "history": [asdict(record) for record in history],
        "checkpoint": str(checkpoint),
        "plots": [str(curve)],
    }
    if hardware is not None:
        summary["hardware_aware"] = hardware
        summary["float_accuracy_before_hardware_aware"] = hardware["float_before"]
        summary["ptq_xylo_accuracy"] = hardware["ptq_xylo_accuracy"]
        summary["xylo_accuracy"] = hardware["xylo_accuracy"]
    return {"summary": summary, "net": net, "test_set": test_set, "float": result}


def hardware_aware_run(
    net: SynNet, train_set: EventSet, test_set: EventSet, settings: TrainConfig,
    model: ModelOptions, progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune ``net`` in place through the chip's integer arithmetic (``--hardware-aware``)
    after measuring it in float and post-training quantised on the chip; returns the summary
    of the three accuracies side by side."""
    from synnet_triton.hardware import HardwareSynNet
    from synnet_triton.kws.training import evaluate, evaluate_xylo, train

    float_before = evaluate(net, test_set, progress=progress).accuracy
    ptq = evaluate_xylo(net, test_set, progress=progress, target=model.target,
                        quantize=model.quantize).accuracy
    print(f"before hardware-exact training: float {float_before:.3f}  "
          f"post-training quantised on {model.target} {ptq:.3f}")
    hardware = HardwareSynNet(net, quantize=model.quantize, target=model.target)
    fine_tuning = replace(settings, epochs=model.hardware_epochs, lr=model.hardware_lr)
    start = time.perf_counter()
    history = train(net, train_set, test_set, fine_tuning, progress=progress,
                    log_epochs=True, hardware=hardware)
    seconds = time.perf_counter() - start
    chip = evaluate_xylo(net, test_set, progress=progress, target=model.target,
                         quantize=model.quantize)
    summary = {
        "float_before": float_before,
        "ptq_xylo_accuracy": ptq,
        "xylo_accuracy": chip.accuracy,
        "xylo_predictions": chip.predictions.tolist(),
        "quantize": model.quantize,
        "target": model.target,
        "training": asdict(fine_tuning),
        "train_seconds": seconds,
        "history": [asdict(record) for record in history],
    }
    return summary


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()})"


def write_summary(summary: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(summary, indent=2) + "\n")


def headline(summary: dict[str, Any]) -> str:
    keys = ("float_accuracy", "ptq_xylo_accuracy", "xylo_accuracy", "backend", "device",
            "train_seconds")
    parts = []
    for key in keys:
        if key in summary:
            value = summary[key]
            parts.append(f"{key}={value:.3f}" if isinstance(value, float) else f"{key}={value}")
    return "  ".join(parts)


def hardware_headline(summary: dict[str, Any]) -> str | None:
    """The three accuracies of a ``--hardware-aware`` run side by side, or None."""
    if "hardware_aware" not in summary:
        return None
    hardware = summary["hardware_aware"]
    return (f"held out on {hardware['target']} ({hardware['quantize']} quantisation): float "
            f"{hardware['float_before']:.3f}, post-training quantised "
            f"{hardware['ptq_xylo_accuracy']:.3f}, hardware-exact training "
            f"{hardware['xylo_accuracy']:.3f} (its float shadows: "
            f"{summary['float_accuracy']:.3f})")


def plot_first_clip(net: SynNet, data: EventSet, path: Path) -> Path:
    """Input raster, hidden raster and readout trace of the first clip of ``data``."""
    from synnet_triton.kws.plots import plot_clip

    device = next(net.parameters()).device
    with torch.no_grad():
        result = cast("SynNetResult", net(data.events[:1].float().to(device), record=True))
    assert result.record is not None  # record=True always fills it
    return plot_clip(
        data.events[0],
        result.record[net.lif_names[0]].spikes[0],
        result.output[0],
        data.class_names,
        int(data.labels[0]),
        path,
    )


def long_audio_run(net: SynNet, long: LongAudio, run: TrainRun) -> dict[str, Any]:
    """Evaluate the trained network on long synthetic clips (one word per second)."""
    from synnet_triton.kws.training import evaluate, evaluate_xylo

    config = KeywordSetConfig(n_classes=run.data.classes, seconds=long.seconds)
    progress = run.runtime.progress
    long_set = synthetic_event_set(
        long.clips, 2 * run.data.data_seed + 1, config, progress=progress
    )
    float_result = evaluate(net, long_set, batch_size=long.clips, progress=progress)
    plot = plot_first_clip(net, long_set, run.out / "long_clip.png")
    model = run.model
    report: dict[str, Any] = {
        "seconds": long.seconds,
        "time_steps": long_set.events.shape[1],
        "clips": len(long_set),
        "float_accuracy": float_result.accuracy,
        "float_clips_per_second": float_result.clips_per_second,
        "plot": str(plot),
    }
    if long.xylo:
        xylo_result = evaluate_xylo(net, long_set, batch_size=long.clips, progress=progress,
                                    target=model.target, quantize=model.quantize)
        report["xylo_accuracy"] = xylo_result.accuracy
        report["xylo_clips_per_second"] = xylo_result.clips_per_second
    return report
