"""A user's mistake on the command line is one line on stderr naming the argument and what
was expected, exit status 2, no traceback; ``--debug`` shows the traceback instead. Run as
the console script would be, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """As a user runs it: without the interpreter switch this suite sets (conftest.py)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    return subprocess.run([sys.executable, "-m", "synnet_triton.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


def _word_folder(root: Path, classes: dict[str, int]) -> Path:
    for name, count in classes.items():
        (root / name).mkdir(parents=True)
        for k in range(count):
            tone = 0.2 * np.sin(2 * np.pi * (300 + 100 * k) * np.arange(1600) / 16_000)
            soundfile.write(str(root / name / f"{k}.wav"), tone, 16_000)
    return root


MISTAKES = [
    (("eval", "nope.pt"), "nope.pt"),
    (("train", "--out", "run", "--device", "gpu"), "--device gpu"),
    (("train", "--out", "run", "--epochs", "0"), "--epochs"),
    (("train", "--out", "run", "--epochs", "-1"), "--epochs"),
    (("train", "--out", "run", "--hardware-aware", "--hardware-epochs", "0"),
     "--hardware-epochs"),
    (("train", "--out", "run", "--quantize", "per-layer"), "--quantize"),
    (("train", "--out", "run", "--lr", "-1"), "--lr"),
    (("train", "--out", "run", "--hidden", "many"), "--hidden"),
    (("train", "--out", "run", "--data", "no/such/folder"), "--data"),
    (("train", "--out", "run", "--epoch", "1"), "--epoch"),  # no abbreviations
    (("kernels", "--capability", "75"), "--capability 75"),
    (("kernels", "--capability", "80", "--predict"), "--predict"),
]
if not torch.cuda.is_available():
    MISTAKES += [
        (("train", "--out", "run", "--backend", "triton", "--device", "cpu"), "--backend triton"),
        (("train", "--out", "run", "--device", "cuda"), "--device cuda"),
    ]


@pytest.mark.parametrize("args,named", MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_a_mistake_is_one_line_and_exit_2(tmp_path: Path, args, named) -> None:
    result = _cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and named in lines[0]
    assert lines[0].startswith("synnet-triton")


def test_an_empty_class_folder_is_named(tmp_path: Path) -> None:
    data = _word_folder(tmp_path / "words", {"yes": 2})
    (data / "no").mkdir()
    result = _cli("train", "--out", "run", "--data", str(data), "--no-progress", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no" in result.stderr


def test_eval_xylo_of_a_network_that_does_not_fit_the_chip_shows_the_design_report(
        tmp_path) -> None:
    trained = _cli("train", "--out", "run", "--classes", "9", "--hidden", "4", "--epochs", "1",
                   "--train-clips", "18", "--test-clips", "9", "--seconds", "0.5",
                   "--target", "xylo-audio2", "--no-progress", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "output_neurons: the readout: found 9, limit 8" in trained.stderr
    assert "eval --xylo will refuse it" in trained.stderr
    result = _cli("eval", "run/checkpoint.pt", "--xylo", "--no-progress", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == ("synnet-triton eval: error: Xylo Audio 2 (SYNS61201) design check: "
                        "1 error(s), 0 warning(s)")
    assert lines[1].strip().startswith("error: output_neurons: the readout: found 9, limit 8")
    # the same network fits Xylo Audio 3's 32 outputs (with Rockpool's warning above 16)
    on_audio3 = _cli("eval", "run/checkpoint.pt", "--xylo", "--target", "xylo-audio3",
                     "--no-progress", cwd=tmp_path)
    assert on_audio3.returncode == 0, on_audio3.stderr


def test_train_for_the_imu_refuses_nothing_but_reports_its_windows(tmp_path) -> None:
    trained = _cli("train", "--out", "run", "--hidden", "200", "--epochs", "1",
                   "--train-clips", "8", "--test-clips", "4", "--seconds", "0.5",
                   "--target", "xylo-imu", "--no-progress", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "Xylo IMU (SYNS63300) design check: 2 error(s)" in trained.stderr
    assert "input_window" in trained.stderr and "output_window" in trained.stderr
    result = _cli("eval", "run/checkpoint.pt", "--xylo", "--no-progress", cwd=tmp_path)
    assert result.returncode == 2 and "input_window" in result.stderr  # the checkpoint's chip


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = _cli("--debug", "eval", "nope.pt", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_help_shows_the_defaults(tmp_path: Path) -> None:
    text = _cli("train", "--help", cwd=tmp_path).stdout
    assert "(default: 32)" in text and "(default: 0.4)" in text  # batch size, init gain
    flat = " ".join(text.split())
    assert "default: 30 with --data, 6 for the synthetic set" in flat  # epochs


def test_detect_runs_a_checkpoint_over_a_recording(tmp_path: Path) -> None:
    trained = _cli("train", "--out", "run", "--hidden", "8", "--epochs", "1", "--train-clips",
                   "8", "--test-clips", "4", "--no-progress", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    tone = 0.3 * np.sin(2 * np.pi * 800 * np.arange(3 * 16_000) / 16_000)
    soundfile.write(str(tmp_path / "long.ogg"), tone, 16_000)
    result = _cli("detect", "run/checkpoint.pt", "long.ogg", "--out", "found",
                  "--chunk-seconds", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "in 3.0 s of audio (float)" in result.stdout
    for name in ("detections.json", "detections.csv", "readout.png"):
        assert (tmp_path / "found" / name).stat().st_size > 0
    missing = _cli("detect", "run/checkpoint.pt", "nothing.wav", cwd=tmp_path)
    assert missing.returncode == 2 and "nothing.wav: no such file" in missing.stderr


def test_unreadable_files_stop_the_run_or_are_skipped_by_a_flag(tmp_path: Path) -> None:
    data = _word_folder(tmp_path / "words", {"no": 5, "yes": 5})
    (data / "yes" / "broken.wav").write_bytes(b"RIFF nonsense")
    args = ("train", "--out", "run", "--data", str(data), "--hidden", "4", "--epochs", "1",
            "--no-progress")
    stopped = _cli(*args, cwd=tmp_path)
    assert stopped.returncode == 2 and "broken.wav: cannot read audio" in stopped.stderr
    skipped = _cli(*args, "--skip-unreadable", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    assert "skipped 1 unreadable: broken.wav" in skipped.stdout
