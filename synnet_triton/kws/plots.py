"""PNG figures of a keyword-spotting run: the training curve, one clip through the network,
and the readout over a long recording with its detections."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from synnet_triton.kws.training import EpochRecord

__all__ = ["plot_training_curve", "plot_clip", "plot_detections"]


def plot_training_curve(history: Sequence[EpochRecord], path: str | Path) -> Path:
    """Loss and accuracies per epoch, written as a PNG to ``path``."""
    if not history:
        raise ValueError("history must hold at least one epoch")
    epochs = [record.epoch for record in history]
    # A bare Figure (no pyplot) renders with Agg and keeps no global state between calls.
    figure = Figure(figsize=(9, 3.2))
    loss_axis, accuracy_axis = figure.subplots(1, 2)
    loss_axis.plot(epochs, [record.loss for record in history], marker="o")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("cross-entropy")
    loss_axis.set_title("training loss")
    accuracy_axis.plot(
        epochs, [record.train_accuracy for record in history], marker="o", label="train"
    )
    accuracy_axis.plot(
        epochs, [record.test_accuracy for record in history], marker="s", label="held-out"
    )
    accuracy_axis.set_ylim(0, 1.02)
    accuracy_axis.set_xlabel("epoch")
    accuracy_axis.set_ylabel("accuracy")
    accuracy_axis.set_title("accuracy (spike-count readout)")
    accuracy_axis.legend(loc="lower right")
    figure.tight_layout()
    return _save(figure, path)


def plot_clip(
    events: Tensor,
    hidden_spikes: Tensor,
    output_spikes: Tensor,
    class_names: Sequence[str],
    label: int,
    path: str | Path,
    dt: float = 1e-3,
) -> Path:
    """One clip through the network, as three panels sharing the time axis.

    Args:
        events:        (T, C) input event counts from the front-end, shown as an image.
        hidden_spikes: (T, H) hidden spike counts, shown as a raster (one dot per active step).
        output_spikes: (T, n_classes) readout spikes, shown as running spike counts per class.
        class_names:   name of each readout neuron.
        label:         the clip's true class.
        path:          where to write the PNG.
        dt:            time step in seconds (for the time axis).
    """
    n_steps = events.shape[0]
    if hidden_spikes.shape[0] != n_steps or output_spikes.shape[0] != n_steps:
        raise ValueError(
            "events, hidden_spikes and output_spikes must have the same number of steps, got "
            f"{events.shape[0]}, {hidden_spikes.shape[0]} and {output_spikes.shape[0]}"
        )
    if output_spikes.shape[1] != len(class_names):
        raise ValueError(
            f"class_names must name every readout neuron ({output_spikes.shape[1]}), "
            f"got {len(class_names)}"
        )
    seconds = n_steps * dt
    figure = Figure(figsize=(9, 7))
    axes = figure.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.4, 1]})
    input_axis, hidden_axis, output_axis = axes
    image = input_axis.imshow(
        events.detach().cpu().numpy().T,
        aspect="auto",
        origin="lower",
        interpolation="nearest",
        extent=(0, seconds, -0.5, events.shape[1] - 0.5),
        cmap="magma",
    )
    # An inset colour bar keeps the three panels the same width, so their time axes line up.
    colour_axis = input_axis.inset_axes((1.01, 0.0, 0.015, 1.0))
    figure.colorbar(image, cax=colour_axis, label="events / step")
    input_axis.set_ylabel("band (low → high)")
    input_axis.set_title(f"input: front-end events of a clip of class '{class_names[label]}'")

    steps, neurons = np.nonzero(hidden_spikes.detach().cpu().numpy())
    hidden_axis.scatter(steps * dt, neurons, s=1.0, marker="|", color="black")
    hidden_axis.set_ylim(-0.5, hidden_spikes.shape[1] - 0.5)
    hidden_axis.set_ylabel("hidden neuron")
    hidden_axis.set_title("hidden spikes")

    running = np.cumsum(output_spikes.detach().cpu().numpy(), axis=0)
    time_axis = np.arange(1, n_steps + 1) * dt
    for index, (name, colour) in enumerate(zip(class_names, class_colours(len(class_names)),
                                               strict=True)):
        style = "-" if index == label else "--"
        output_axis.plot(time_axis, running[:, index], style, color=colour,
                         label=legend_label(name))
    output_axis.set_xlabel("time (s)")
    output_axis.set_ylabel("readout spikes so far")
    output_axis.set_title("readout: running spike count per class (solid: true class)")
    output_axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                       ncol=1 + len(class_names) // 16, fontsize="small")
    figure.tight_layout()
    return _save(figure, path)


def plot_detections(trace: Tensor, bin_seconds: float, class_names: Sequence[str],
                    detections: Sequence[Any], path: str | Path) -> Path:
    """:func:`detections_figure` written to ``path`` as PNG."""
    return _save(detections_figure(trace, bin_seconds, class_names, detections), path)


def detections_figure(trace: Tensor, bin_seconds: float, class_names: Sequence[str],
                      detections: Sequence[Any]) -> Figure:
    """Readout spikes per bin over a long recording, one line per class in its own colour
    (:func:`class_colours`), the legend beside the data; each detection a shaded span in its
    class's colour, labelled with its word.

    trace: (bins, classes) readout spikes per bin; detections: objects with ``word``,
    ``start_s`` and ``end_s``.
    """
    figure = Figure(figsize=(14, 4))
    axis = figure.subplots()
    times = np.arange(trace.shape[0]) * bin_seconds
    colours = dict(zip(class_names, class_colours(len(class_names)), strict=True))
    for index, name in enumerate(class_names):
        axis.plot(times, trace[:, index].numpy(), linewidth=0.7, color=colours[name],
                  label=legend_label(name))
    for detection in detections:
        axis.axvspan(detection.start_s, detection.end_s, color=colours[detection.word],
                     alpha=0.2)
        axis.text((detection.start_s + detection.end_s) / 2, 0.98, detection.word,
                  transform=axis.get_xaxis_transform(), rotation=90, ha="center", va="top",
                  fontsize="x-small", color=colours[detection.word],
                  bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0, "pad": 1})
    axis.set_xlabel("time (s)")
    axis.set_ylabel(f"readout spikes per {bin_seconds:g} s")
    axis.set_title(f"readout over the recording; shaded: {len(detections)} detections")
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                ncol=1 + len(class_names) // 16, fontsize="small")
    figure.tight_layout()
    return figure


def plot_det(points: Sequence[Any], path: str | Path) -> Path:
    """The DET curve: miss rate against false alarms per hour, one point per ``min_share``
    threshold (``points``: :class:`~synnet_triton.kws.detection_scores.DetPoint`)."""
    figure = Figure(figsize=(6, 4.5))
    axes = figure.subplots()
    alarms = [p.false_alarms_per_hour for p in points]
    misses = [p.miss_rate for p in points]
    axes.plot(alarms, misses, marker="o", color=class_colours(1)[0])
    for point in points[:: max(1, len(points) // 5)]:
        axes.annotate(f"{point.min_share:g}", (point.false_alarms_per_hour, point.miss_rate),
                      textcoords="offset points", xytext=(4, 4), fontsize="small")
    axes.set_xlabel("false alarms per hour")
    axes.set_ylabel("miss rate")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title("detection error trade-off (labels: min_share)")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


PALETTES = ("tab10", "tab20b", "tab20c")
"""Matplotlib's qualitative maps, in order: 50 distinct colours (tab10's first)."""


def class_colours(n_classes: int) -> list[tuple[float, float, float, float]]:
    """``n_classes`` distinct RGBA colours, tab10's ten first; ValueError past 50."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, to_rgba

    maps = [colormaps[name] for name in PALETTES]
    colours = [to_rgba(colour) for listed in maps if isinstance(listed, ListedColormap)
               for colour in cast(Sequence[Any], listed.colors)]
    if n_classes > len(colours):
        raise ValueError(f"{n_classes} classes: the plots tell at most {len(colours)} apart")
    return colours[:n_classes]


def legend_label(name: str) -> str:
    """``name`` as a legend shows it: matplotlib leaves out labels that start with ``_``
    (``_noise``, ``_silence_``), so those get a zero-width space in front."""
    return "\u200b" + name if name.startswith("_") else name


def _save(figure: Figure, path: str | Path) -> Path:
    """``figure`` written to ``path`` atomically, in the format its suffix names."""
    from synnet_triton.kws.run_folder import atomic_write_bytes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=path.suffix.lstrip(".") or "png", dpi=100)
    atomic_write_bytes(path, buffer.getvalue())
    return path
