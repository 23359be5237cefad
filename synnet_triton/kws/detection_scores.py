"""Detections scored against a recording's known words, as a product is measured.

Truth: a CSV of ``word,start_s,end_s`` rows (a header first; ``tools/make_speech_set.py
--long`` writes one beside its recording). A true word is *found* when a detection of its
class overlaps it; a detection that overlaps no true word of its class is a *false alarm*.
Recall is the share of true words found; false alarms are also given per hour of audio.
The DET curve is miss rate (1 − recall) against false alarms per hour as the detector's
``min_share`` threshold sweeps its range, the rest of the rule kept
(:meth:`synnet_triton.kws.detect.DetectionRun.detections_at`).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from synnet_triton.kws.detect import Detection, DetectionRun

__all__ = ["DetPoint", "det_curve", "read_truth", "score_detections", "write_det"]

Truth = list[tuple[str, float, float]]
DET_THRESHOLDS = tuple(np.round(np.linspace(0.05, 1.0, 20), 2).tolist())


def read_truth(path: Path) -> Truth:
    """The rows of a truth CSV; ValueError naming the file and the first bad row."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"--truth {path}: cannot be read ({type(error).__name__})") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or [cell.strip() for cell in rows[0]] != ["word", "start_s", "end_s"]:
        raise ValueError(f"--truth {path}: expected the header word,start_s,end_s")
    truth: Truth = []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            word, start, end = row[0], float(row[1]), float(row[2])
        except (IndexError, ValueError):
            raise ValueError(f"--truth {path}: line {number} is not word,start_s,end_s: "
                             f"{','.join(row)[:60]!r}") from None
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
            raise ValueError(f"--truth {path}: line {number} needs 0 <= start_s < end_s")
        truth.append((word, start, end))
    return truth


def _overlaps(detection: Detection, word: str, start: float, end: float) -> bool:
    return detection.word == word and detection.start_s < end and start < detection.end_s


def score_detections(detections: list[Detection], truth: Truth, seconds: float | None = None,
                     ) -> dict[str, float]:
    """Recall, precision and false alarms (per hour of ``seconds`` of audio, when given) of
    ``detections`` against the true words ``truth`` (see the module docstring)."""
    right = sum(any(_overlaps(d, *t) for t in truth) for d in detections)
    found = sum(any(_overlaps(d, *t) for d in detections) for t in truth)
    scores = {"detections": len(detections), "words": len(truth),
              "found": found, "false_alarms": len(detections) - right,
              "precision": right / len(detections) if detections else float("nan"),
              "recall": found / len(truth) if truth else float("nan")}
    if seconds:
        scores["false_alarms_per_hour"] = scores["false_alarms"] * 3600.0 / seconds
    return scores


@dataclass(frozen=True)
class DetPoint:
    """One threshold of the DET curve."""

    min_share: float
    recall: float
    miss_rate: float
    false_alarms: int
    false_alarms_per_hour: float
    detections: int


def det_curve(run: DetectionRun, truth: Truth,
              thresholds: tuple[float, ...] = DET_THRESHOLDS) -> list[DetPoint]:
    """Miss rate and false alarms per hour of ``run`` at each ``min_share`` threshold."""
    points = []
    for threshold in thresholds:
        scores = score_detections(run.detections_at(threshold), truth, run.seconds)
        points.append(DetPoint(threshold, scores["recall"], 1.0 - scores["recall"],
                               int(scores["false_alarms"]), scores["false_alarms_per_hour"],
                               int(scores["detections"])))
    return points


def write_det(points: list[DetPoint], out: Path) -> list[Path]:
    """det.csv and det.png (miss rate against false alarms per hour) in ``out``."""
    from synnet_triton.kws.plots import plot_det
    from synnet_triton.kws.run_folder import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, list(asdict(points[0])))
    writer.writeheader()
    writer.writerows(asdict(point) for point in points)
    atomic_write_text(out / "det.csv", table.getvalue())
    return [out / "det.csv", plot_det(points, out / "det.png")]
