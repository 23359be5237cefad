"""What the commands share around a run: the device and backend asked for, the summary and
its headlines, the first clip's figure and the demo's long-clip run."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch

from synnet_triton.kws.data import (
    EventSet,
    KeywordSetConfig,
    synthetic_event_set,
)
from synnet_triton.kws.options import (
    LongAudio,
    TrainRun,
)
from synnet_triton.kws.run_folder import atomic_write_text

if TYPE_CHECKING:
    from synnet_triton.nn.synnet import SynNet, SynNetResult

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


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()})"


def write_summary(summary: dict[str, Any], path: Path) -> None:
    """``summary`` as indented JSON at ``path``, atomically."""
    atomic_write_text(path, json.dumps(summary, indent=2) + "\n")


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


def long_audio_run(net: SynNet, long: LongAudio, run: TrainRun, folder: Path,
                   ) -> dict[str, Any]:
    """Evaluate the trained network on long synthetic clips (one word per second); the plot
    of the first goes into ``folder``. ``run`` is the finished run (its target chosen)."""
    from synnet_triton.kws.training import evaluate, evaluate_xylo

    config = KeywordSetConfig(n_classes=run.data.classes, seconds=long.seconds)
    progress = run.runtime.progress
    long_set = synthetic_event_set(
        long.clips, 2 * run.data.data_seed + 1, config, progress=progress
    )
    float_result = evaluate(net, long_set, batch_size=long.clips, progress=progress)
    plot = plot_first_clip(net, long_set, folder / "long_clip.png")
    model = run.model
    report: dict[str, Any] = {
        "seconds": long.seconds,
        "time_steps": long_set.events.shape[1],
        "clips": len(long_set),
        "float_accuracy": float_result.accuracy,
        "float_clips_per_second": float_result.clips_per_second,
        "plot": str(run.out / plot.name),
    }
    if long.xylo:
        assert model.target is not None
        xylo_result = evaluate_xylo(net, long_set, batch_size=long.clips, progress=progress,
                                    target=model.target, quantize=model.quantize)
        report["xylo_accuracy"] = xylo_result.accuracy
        report["xylo_clips_per_second"] = xylo_result.clips_per_second
    return report
