"""Keyword detection in an arbitrarily long recording, streamed in chunks.

The network was trained on clips of ``window`` seconds, its class the readout neuron that
spiked most over the clip. On a stream the same question is asked of every window of that
length, every ``hop`` seconds:

1. the file is read in chunks of ``chunk_seconds`` (``soundfile`` blocks: memory does not
   grow with the file's length), mixed to mono, resampled per chunk to the front-end's rate;
2. each chunk goes through the audio front-end with ``CONTEXT_SECONDS`` of the previous
   audio in front (the band filters and the smoothing then start warm; only the
   integrate-and-fire encoder's sub-threshold remainder restarts), and the events of the
   chunk itself go to the network (float or the Xylo-parity simulation) as a batch of
   1 s segments, each with the 0.3 s before it as warm-up (see ``_Readout``);
3. readout spikes are counted over the last ``window`` seconds at every hop; a window is
   *active* for the top class when it holds at least ``min_spikes`` readout spikes (and at
   least one, whatever ``min_spikes``; the first class on a tie) and the
   top class has at least ``min_share`` of them and is a keyword (not a class whose name
   starts with ``_``, such as ``_noise``: what "no keyword" sounds like); consecutive active
   windows of one class (gaps up to ``merge_gap`` seconds) are one detection, from the
   first window's start to the last window's end, its confidence the top share (the mean
   over its windows).

Only the readout counts per ``TRACE_SECONDS`` bin are kept for the plot: 10 values per second
per class, so an hour is 36 000 × classes floats.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from synnet_triton.kws.audio import FrontEndConfig, audio_to_events
from synnet_triton.kws.audio_folder import resample
from synnet_triton.kws.options import DetectorConfig
from synnet_triton.nn.synnet import SynNet
from synnet_triton.xylo.targets import DEFAULT_TARGET

__all__ = ["Detection", "DetectionRun", "DetectorConfig", "detect_keywords"]

CONTEXT_SECONDS = 0.25
TRACE_SECONDS = 0.1
SEGMENT_SECONDS = 1.0
WARMUP_SECONDS = 0.3


@dataclass(frozen=True)
class Detection:
    word: str
    start_s: float
    end_s: float
    confidence: float


@dataclass
class DetectionRun:
    """What :func:`detect_keywords` found: detections, a coarse readout trace, timings.

    trace: float32 (bins, n_classes) readout spikes per ``TRACE_SECONDS`` bin.
    """

    detections: list[Detection]
    class_names: list[str]
    seconds: float
    compute_seconds: float
    mode: str
    trace: Tensor = field(repr=False)
    candidates: list[tuple[int, int, float, float]] = field(default_factory=list, repr=False)
    """(end step, top class, its spikes, all spikes) of every window with enough spikes for
    a keyword, before ``min_share``: the detections at any threshold (:meth:`detections_at`)."""
    config: DetectorConfig = field(default_factory=DetectorConfig, repr=False)
    dt: float = 1e-3

    def detections_at(self, min_share: float) -> list[Detection]:
        """The detections with ``min_share`` (the run's own gives ``detections``)."""
        active = [(end, top, count / total) for end, top, count, total in self.candidates
                  if count >= min_share * total]
        return _merge(active, self.config, self.dt, self.class_names)

    @property
    def real_time_factor(self) -> float:
        """Seconds of audio processed per second of computation."""
        return self.seconds / max(self.compute_seconds, 1e-9)

    def write(self, out: Path) -> list[Path]:
        """detections.json, detections.csv and readout.png in ``out``; the paths written."""
        from synnet_triton.kws.plots import plot_detections
        from synnet_triton.kws.run_folder import atomic_write_text

        out.mkdir(parents=True, exist_ok=True)
        rows = [asdict(d) for d in self.detections]
        summary = {"mode": self.mode, "seconds": self.seconds,
                   "compute_seconds": self.compute_seconds,
                   "real_time_factor": self.real_time_factor, "class_names": self.class_names,
                   "detections": rows}  # fmt: skip
        paths = [out / "detections.json", out / "detections.csv", out / "readout.png"]
        atomic_write_text(paths[0], json.dumps(summary, indent=2) + "\n")
        table = io.StringIO(newline="")
        writer = csv.DictWriter(table, ("word", "start_s", "end_s", "confidence"))
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(paths[1], table.getvalue())
        plot_detections(self.trace, TRACE_SECONDS, self.class_names, self.detections, paths[2])
        return paths


def _chunks(path: Path, rate: int, chunk_seconds: float) -> Iterator[np.ndarray]:
    """Mono float64 blocks of the file at ``rate``, about ``chunk_seconds`` each."""
    import soundfile

    with soundfile.SoundFile(str(path)) as handle:
        native = handle.samplerate
        frames = max(1, round(chunk_seconds * native))
        for block in handle.blocks(blocksize=frames, dtype="float64", always_2d=True):
            yield resample(block.mean(axis=1), native, rate)


class _Readout:
    """Runs the network over a chunk of events as a batch of segments.

    One stream stepped alone is dominated by per-step overhead on a CPU, so a chunk is cut
    into segments of ``SEGMENT_SECONDS``, each run from zero state with the
    ``WARMUP_SECONDS`` of events before it in front (its outputs dropped), all segments of a
    chunk in one batch. The network's time constants are milliseconds (SynNet: 2-16 ms
    synapses, 20 ms membranes; Xylo's decays alike), so 0.3 s of warm-up leaves the state
    where a continuous run would have it, to within rounding of the decayed start.
    """

    def __init__(self, net: SynNet, xylo: bool, n_channels: int, target: str,
                 quantize: str) -> None:
        self.net = net
        self.sim: Any = None
        if xylo:
            from synnet_triton.xylo import XyloSim

            # to_xylo checks the design (naming the layers); no second check of the same spec
            self.sim = XyloSim.from_specification(
                **net.to_xylo(quantize=quantize, target=target), target=target,
                verify_config=False)
        self.tail = torch.zeros(0, n_channels, dtype=torch.int32)

    def __call__(self, events: Tensor, dt: float) -> Tensor:
        """events int (T, C) → readout spikes float32 (T, n_classes)."""
        segment, warmup = round(SEGMENT_SECONDS / dt), round(WARMUP_SECONDS / dt)
        steps = events.shape[0]
        joined = torch.cat([self.tail, events])
        offset = len(self.tail)
        self.tail = joined[-warmup:]
        count = -(-steps // segment)
        padded = torch.cat([torch.zeros(warmup, events.shape[1], dtype=joined.dtype), joined,
                            torch.zeros(count * segment, events.shape[1], dtype=joined.dtype)])
        base = warmup + offset  # index in `padded` of the chunk's first step
        batch = torch.stack([padded[base + k * segment - warmup: base + (k + 1) * segment]
                             for k in range(count)])
        if self.sim is not None:
            self.sim.reset_state()
            output, _, _ = self.sim(batch.to(torch.int64))
            spikes = torch.as_tensor(output).float()
        else:
            with torch.no_grad():
                device = next(self.net.parameters()).device
                result = self.net(batch.float().to(device))
            assert isinstance(result, Tensor)
            spikes = result.float().cpu()
        return spikes[:, warmup:].reshape(count * segment, -1)[:steps]


def detect_keywords(
    net: SynNet,
    path: str | Path,
    class_names: list[str],
    config: DetectorConfig | None = None,
    *,
    xylo: bool = False,
    target: str = DEFAULT_TARGET,
    quantize: str = "global",
    front_end: FrontEndConfig | None = None,
) -> DetectionRun:
    """Detect the trained keywords in the recording at ``path`` (any length; see the module
    docstring for the rule). ``xylo`` runs the Xylo-parity simulation of the chip ``target``
    (``net.to_xylo(quantize, target)``) instead of float."""
    config = config or DetectorConfig()
    front_end = front_end or FrontEndConfig()
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    net.eval()
    readout = _Readout(net, xylo, front_end.n_channels, target, quantize)
    # classes named "_..." (_noise, _silence_, _unknown_) are what is not a keyword
    keywords = torch.tensor([not name.startswith("_") for name in class_names])
    dt, step = front_end.dt, front_end.samples_per_step
    window, hop = round(config.window / dt), max(1, round(config.hop / dt))
    context = round(CONTEXT_SECONDS * front_end.sample_rate) // step * step
    bin_steps = round(TRACE_SECONDS / dt)
    tail = np.zeros(0)
    leftover = np.zeros(0)
    history = torch.zeros(0, len(class_names))  # the last `window` steps of readout spikes
    trace: list[Tensor] = []
    pending = torch.zeros(0, len(class_names))  # readout steps not yet in a full trace bin
    # (end step, class, its count, all counts) of the windows min_share may make active
    windows: list[tuple[int, int, float, float]] = []
    steps_done = 0
    start = time.perf_counter()
    for block in _chunks(path, front_end.sample_rate, config.chunk_seconds):
        audio = np.concatenate([leftover, block])
        usable = len(audio) // step * step
        audio, leftover = audio[:usable], audio[usable:]
        if usable == 0:
            continue
        with_context = np.concatenate([tail, audio])
        events = audio_to_events(torch.from_numpy(with_context).float(), front_end)
        events = events[len(tail) // step:]
        tail = with_context[-context:] if context else np.zeros(0)
        spikes = readout(events, dt)
        pending = torch.cat([pending, spikes])
        full = len(pending) // bin_steps * bin_steps
        trace.append(pending[:full].reshape(-1, bin_steps, len(class_names)).sum(1))
        pending = pending[full:]
        joined = torch.cat([history, spikes])
        running = torch.cat([torch.zeros(1, len(class_names)), joined.cumsum(0)])
        first = len(history)  # index in `joined` of this chunk's first step
        ends = steps_done + torch.arange(1, len(spikes) + 1)  # steps up to each one
        chosen = (ends % hop == 0) & (ends >= window)
        last = first + torch.nonzero(chosen).flatten() + 1  # into `running`
        counts = running[last] - running[last - window]  # (windows, classes)
        total = counts.sum(1)
        top_count, top = counts.max(1)
        # a silent window is never a keyword, whatever min_spikes allows
        candidate = (total >= config.min_spikes) & (total > 0) & keywords[top]
        windows += [(int(e), int(c), float(n), float(m)) for e, c, n, m in
                    zip(ends[chosen][candidate], top[candidate], top_count[candidate],
                        total[candidate], strict=True)]
        steps_done += len(spikes)
        history = joined[-window:]
    if len(pending):
        trace.append(pending.sum(0, keepdim=True))
    compute = time.perf_counter() - start
    run = DetectionRun([], class_names, steps_done * dt, compute, "xylo" if xylo else "float",
                       torch.cat(trace) if trace else torch.zeros(0, len(class_names)),
                       windows, config, dt)
    run.detections = run.detections_at(config.min_share)
    return run


def _merge(windows: list[tuple[int, int, float]], config: DetectorConfig, dt: float,
           class_names: list[str]) -> list[Detection]:
    """Consecutive active windows of one class (gaps ≤ merge_gap) → one detection each."""
    gap = round(config.merge_gap / dt) + round(config.hop / dt)
    window = round(config.window / dt)
    detections: list[Detection] = []
    current: list[tuple[int, int, float]] = []

    def close() -> None:
        if current:
            shares = [share for _, _, share in current]
            detections.append(Detection(class_names[current[0][1]],
                                        round((current[0][0] - window) * dt, 6),
                                        round(current[-1][0] * dt, 6),
                                        round(sum(shares) / len(shares), 4)))

    for entry in windows:
        if current and (entry[1] != current[-1][1] or entry[0] - current[-1][0] > gap):
            close()
            current = []
        current.append(entry)
    close()
    return detections
