"""Detections scored like a product: recall, false alarms per hour and the DET curve, on a
hand-checkable run (windows given directly; the numbers below are worked out by hand from
the rule in docs/kws.md), the truth file's checks, the files written, and ``detect --truth``
through the CLI."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from synnet_triton.kws.detect import Detection, DetectionRun, DetectorConfig
from synnet_triton.kws.detection_scores import (
    det_curve,
    read_truth,
    score_detections,
    write_det,
)

CONFIG = DetectorConfig(window=1.0, hop=0.05, merge_gap=0.1, min_share=0.5)
# (end step, class, its spikes, all spikes) at dt = 1 ms: w0 ends at 1.5 s and 1.55 s
# (shares 0.9, 0.8), w1 at 4 s (0.6), w0 again at 6 s (0.7)
CANDIDATES = [(1500, 0, 9.0, 10.0), (1550, 0, 8.0, 10.0), (4000, 1, 6.0, 10.0),
              (6000, 0, 7.0, 10.0)]
TRUTH = [("w0", 0.6, 1.0), ("w1", 3.2, 3.6), ("w1", 8.0, 8.5)]
TWO_HOURS = 7200.0


def _run() -> DetectionRun:
    run = DetectionRun([], ["w0", "w1"], TWO_HOURS, 1.0, "float", torch.zeros(0, 2),
                       CANDIDATES, CONFIG, 1e-3)
    run.detections = run.detections_at(CONFIG.min_share)
    return run


def test_the_detections_and_their_scores_are_the_hand_worked_ones() -> None:
    run = _run()
    assert run.detections == [Detection("w0", 0.5, 1.55, 0.85), Detection("w1", 3.0, 4.0, 0.6),
                              Detection("w0", 5.0, 6.0, 0.7)]
    scores = score_detections(run.detections, TRUTH, run.seconds)
    # w0 and the first w1 found, the second w1 missed; w0 at 5-6 s overlaps no true w0
    assert scores["found"] == 2 and scores["recall"] == pytest.approx(2 / 3)
    assert scores["false_alarms"] == 1 and scores["false_alarms_per_hour"] == 0.5
    assert scores["precision"] == pytest.approx(2 / 3)


def test_the_det_curve_sweeps_the_share_threshold() -> None:
    points = det_curve(_run(), TRUTH, (0.5, 0.65, 0.75, 0.85, 0.95))
    assert [(p.recall, p.false_alarms, p.detections) for p in points] == [
        (pytest.approx(2 / 3), 1, 3),   # as above
        (pytest.approx(1 / 3), 1, 2),   # w1 (0.6) gone: missed; w0 at 6 s (0.7) stays
        (pytest.approx(1 / 3), 0, 1),   # the false alarm (0.7) gone
        (pytest.approx(1 / 3), 0, 1),   # w0 from its 0.9 window alone, still on the word
        (0.0, 0, 0),
    ]
    assert all(p.miss_rate == pytest.approx(1 - p.recall) for p in points)
    assert [p.false_alarms_per_hour for p in points] == [0.5, 0.5, 0.0, 0.0, 0.0]


def test_the_det_files_hold_the_curve(tmp_path: Path) -> None:
    points = det_curve(_run(), TRUTH)
    csv_path, png_path = write_det(points, tmp_path)
    rows = list(csv.DictReader(csv_path.open()))
    assert [float(r["min_share"]) for r in rows] == [p.min_share for p in points]
    assert [float(r["miss_rate"]) for r in rows] == [p.miss_rate for p in points]
    assert png_path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("text, words", [
    ("a,b,c\nw0,0,1\n", "expected the header"),
    ("word,start_s,end_s\nw0,zero,1\n", "line 2 is not word,start_s,end_s"),
    ("word,start_s,end_s\nw0,2,1\n", "line 2 needs 0 <= start_s < end_s"),
    ("word,start_s,end_s\nw0,nan,1\n", "line 2 needs"),
])
def test_a_bad_truth_file_is_named(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "truth.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=words):
        read_truth(path)
    with pytest.raises(ValueError, match="cannot be read"):
        read_truth(tmp_path / "none.csv")


def test_read_truth_reads_what_make_speech_set_writes(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("word", "start_s", "end_s"))
        writer.writerows([("yes", 1.25, 1.9), ("no", 3.0, 3.5)])
    assert read_truth(path) == [("yes", 1.25, 1.9), ("no", 3.0, 3.5)]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    return subprocess.run([sys.executable, "-m", "synnet_triton.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def test_detect_with_truth_reports_and_writes_the_curve(tmp_path: Path) -> None:
    trained = _cli("train", "--out", "run", "--hidden", "8", "--epochs", "1", "--train-clips",
                   "8", "--test-clips", "4", "--no-progress", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    tone = 0.3 * np.sin(2 * np.pi * 800 * np.arange(3 * 16_000) / 16_000)
    soundfile.write(str(tmp_path / "long.wav"), tone, 16_000)
    (tmp_path / "truth.csv").write_text("word,start_s,end_s\nword0,1.0,1.5\n")
    result = _cli("detect", "run/checkpoint.pt", "long.wav", "--truth", "truth.csv",
                  "--out", "found", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "against truth.csv: recall" in result.stdout and "per hour) at min_share 0.5" \
        in result.stdout
    assert (tmp_path / "found" / "det.csv").is_file() and (tmp_path / "found" / "det.png").is_file()
    (tmp_path / "bad.csv").write_text("nothing useful\n")
    bad = _cli("detect", "run/checkpoint.pt", "long.wav", "--truth", "bad.csv", cwd=tmp_path)
    assert bad.returncode == 2 and "--truth bad.csv: expected the header" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
