"""Spiking keyword sets stored as HDF5: the Heidelberg Spiking Data Sets (SHD, SSC).

The layout (Cramer et al. 2020, "The Heidelberg Spiking Data Sets for the Systematic
Evaluation of Spiking Neural Networks", IEEE TNNLS): per sample, ``spikes/times`` (seconds,
float) and ``spikes/units`` (input channel, 0-699 for the cochlea model's 700 fibres) as
variable-length arrays, ``labels`` (N,) class indices, and optionally ``extra/keys`` (the
class names, bytes). The spikes are already events: they are binned at the network's ``dt``
into counts per (step, channel), so the front-end is not used. Xylo's 16 input channels cannot
take 700: such a network trains in float (the design check names the limit).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from synnet_triton.kws.audio_folder import FolderSummary
from synnet_triton.kws.data import EventSet

__all__ = ["SPIKE_FILE_SUFFIXES", "is_spike_file", "load_spike_file"]

SPIKE_FILE_SUFFIXES = (".h5", ".hdf5")
MAX_COUNT = 15
"""Events per (step, channel) are clipped as Xylo's inputs are (an event set holds ≤ 15)."""


def is_spike_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SPIKE_FILE_SUFFIXES


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def load_spike_file(path: str | Path, seconds: float | None = None, dt: float = 1e-3,
                    ) -> EventSet:
    """The samples of an SHD/SSC-layout HDF5 file as events (N, T, channels) uint8: spikes
    counted per ``dt`` bin (bin ``floor(t / dt)``) and channel, clipped to 15. ``seconds``
    None: long enough for the latest spike; else spikes after it are dropped (the summary
    counts the samples cropped).

    Raises:
        ValueError: a file that is not HDF5 or lacks ``spikes/times``, ``spikes/units`` or
            ``labels`` (naming it), a unit or label out of range, or events that would take
            more than half of this machine's memory (naming the size and ``--seconds``).
    """
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None
    with handle:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in handle:
                raise ValueError(f"{path}: no {key!r} (expected the SHD/SSC layout)")
        times = [np.asarray(t, dtype=np.float64) for t in handle["spikes/times"]]
        units = [np.asarray(u, dtype=np.int64) for u in handle["spikes/units"]]
        labels = np.asarray(handle["labels"], dtype=np.int64)
        keys = handle.get("extra/keys")
        names = ([k.decode() if isinstance(k, bytes) else str(k) for k in keys]
                 if keys is not None else None)
    if not (len(times) == len(units) == len(labels)) or not len(labels):
        raise ValueError(f"{path}: spikes/times, spikes/units and labels must hold one entry "
                         f"per sample, got {len(times)}, {len(units)}, {len(labels)}")
    channels = 1 + max((int(u.max()) for u in units if u.size), default=0)
    if any(u.size and int(u.min()) < 0 for u in units):
        raise ValueError(f"{path}: spikes/units holds negative channels")
    n_classes = int(labels.max()) + 1
    if int(labels.min()) < 0 or (names is not None and n_classes > len(names)):
        raise ValueError(f"{path}: labels must lie in [0, {len(names or []) or n_classes})")
    latest = max((float(t.max()) for t in times if t.size), default=0.0)
    if seconds is None:
        steps = math.floor(latest / dt) + 1
    else:
        steps = max(1, math.ceil(seconds / dt - 1e-9))
    needed = len(labels) * steps * channels
    if needed > _memory_bytes() // 2:
        raise ValueError(f"{path}: {len(labels)} samples × {steps} steps × {channels} channels "
                         f"of events take {needed / 2**30:.1f} GiB, over half this machine's "
                         "memory: crop them with --seconds")
    events = np.zeros((len(labels), steps, channels), dtype=np.uint8)
    cropped = 0
    for row, (t, u) in enumerate(zip(times, units, strict=True)):
        bins = np.floor(t / dt).astype(np.int64)
        kept = bins < steps
        cropped += bool((~kept).any())
        counts = np.bincount(bins[kept] * channels + u[kept], minlength=steps * channels)
        events[row] = np.minimum(counts, MAX_COUNT).reshape(steps, channels)
    class_names = (names or [f"class{k}" for k in range(n_classes)])
    counts_per_class = np.bincount(labels, minlength=len(class_names))
    summary = FolderSummary(root=str(path), class_names=list(class_names),
                            files_per_class={n: int(c) for n, c in
                                             zip(class_names, counts_per_class, strict=True)},
                            seconds=steps * dt, sample_rate=round(1 / dt), cropped=cropped)
    return EventSet(torch.from_numpy(events), torch.from_numpy(labels), list(class_names),
                    summary)
