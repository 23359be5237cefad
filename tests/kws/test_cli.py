"""The ``synnet-triton`` command line, run end to end in subprocesses on tiny settings."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from synnet_triton.cli import build_parser, main

TINY = [
    "--classes", "2", "--seconds", "0.5", "--train-clips", "8", "--test-clips", "6",
    "--hidden", "16", "--time-constants", "2", "--epochs", "1", "--batch-size", "8",
    "--no-progress",
]  # fmt: skip
SUBCOMMANDS = ("demo", "train", "eval", "detect", "bench", "kernels", "info")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "synnet_triton.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"synnet-triton {command}" in capsys.readouterr().out


def test_top_level_help_lists_every_subcommand() -> None:
    text = build_parser().format_help()
    for command in SUBCOMMANDS:
        assert command in text


def test_info_reports_versions_and_backends() -> None:
    report = json.loads(_run("info").stdout)
    assert report["versions"]["torch"] == torch.__version__
    assert "torch" in report["backends_available"]
    assert report["cuda_available"] == torch.cuda.is_available()
    cpu_backend = "numba" if importlib.util.find_spec("numba") else "torch"
    assert report["backend_auto"] == ("triton" if torch.cuda.is_available() else cpu_backend)
    assert ("numba" in report["backends_available"]) == (cpu_backend == "numba")


def test_train_checkpoint_reloads_in_eval_with_the_same_accuracy(tmp_path: Path) -> None:
    out = tmp_path / "run"
    # Rockpool's full-size initial weights keep the tiny readout spiking after one epoch, so
    # the predictions depend on the weights and a wrong reload would show.
    _run("train", "--out", str(out), *TINY, "--init-gain", "1.0")
    summary = json.loads((out / "summary.json").read_text())
    assert (out / "checkpoint.pt").is_file()
    assert (out / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["test_clips"] == 6
    assert summary["time_steps"] == 500
    assert len(summary["history"]) == 1

    trained = _run("train", "--out", str(tmp_path / "again"), *TINY, "--init-gain", "1.0")
    for name in ("summary.json", "checkpoint.pt", "training_curve.png"):
        assert str(tmp_path / "again" / name) in trained.stdout.splitlines()[-1]
    shown = _run("eval", str(out / "checkpoint.pt"), "--no-progress", "--json",
                 str(tmp_path / "eval.json"))
    report = json.loads((tmp_path / "eval.json").read_text())
    correct = sum(p == t for p, t in zip(report["predictions"], report["labels"], strict=True))
    assert f"accuracy {correct / 6:.3f} ({correct}/6 clips)" in shown.stdout
    assert "true \\ predicted" in shown.stdout
    for name in report["class_names"]:
        assert name in shown.stdout
    assert report["mode"] == "float"
    assert report["clips"] == 6
    assert summary["float_readout_spikes_per_clip"] > 0
    assert report["predictions"] == summary["float_predictions"]
    assert report["readout_spikes_per_clip"] == summary["float_readout_spikes_per_clip"]
    assert report["accuracy"] == summary["float_accuracy"]


def test_demo_writes_summary_checkpoint_and_plots_and_eval_reproduces_xylo(
    tmp_path: Path,
) -> None:
    out = tmp_path / "demo"
    _run("demo", "--out", str(out), *TINY, "--long-seconds", "1", "--long-clips", "2")
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "float_accuracy",
        "xylo_accuracy",
        "backend",
        "device",
        "train_seconds",
        "clips_per_second",
    ):
        assert key in summary
    # Six held-out clips: every accuracy is a whole number of sixths.
    for key in ("float_accuracy", "xylo_accuracy"):
        assert round(summary[key] * 6, 9) == round(summary[key] * 6)
    assert summary["long_audio"]["time_steps"] == 1_000
    assert summary["long_audio"]["clips"] == 2
    assert "xylo_accuracy" not in summary["long_audio"]  # only with --long-xylo
    for name in ("training_curve.png", "clip.png", "long_clip.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    shown = _run("eval", str(out / "checkpoint.pt"), "--xylo", "--no-progress", "--json",
                 str(tmp_path / "eval.json"))
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["mode"] == "xylo"
    assert report["accuracy"] == summary["xylo_accuracy"]
    assert report["float_accuracy"] == summary["float_accuracy"]
    assert report["float_xylo_agreement"] == summary["float_xylo_agreement"]
    assert "agreement with float" in shown.stdout


@pytest.mark.parametrize("quantize", ["global", "channel"])
def test_hardware_aware_training_reports_three_accuracies_and_eval_reproduces_the_chip(
    tmp_path: Path, quantize: str,
) -> None:
    out = tmp_path / "run"
    shown = _run("train", "--out", str(out), *TINY, "--init-gain", "1.0", "--hardware-aware",
                 "--hardware-epochs", "2", "--quantize", quantize)
    summary = json.loads((out / "summary.json").read_text())
    hardware = summary["hardware_aware"]
    assert len(summary["history"]) == 1 and len(hardware["history"]) == 2
    assert hardware["quantize"] == summary["xylo_quantize"] == quantize
    assert hardware["training"]["epochs"] == 2 and hardware["training"]["lr"] == 1e-3
    for key in ("float_accuracy_before_hardware_aware", "ptq_xylo_accuracy", "xylo_accuracy"):
        assert round(summary[key] * 6, 9) == round(summary[key] * 6)  # sixths: 6 clips
    assert summary["xylo_accuracy"] == hardware["xylo_accuracy"]
    assert hardware["history"][-1]["test_accuracy"] == summary["xylo_accuracy"]
    assert f"xylo_accuracy={summary['xylo_accuracy']:.3f}" in shown.stdout
    assert (f"post-training quantised {summary['ptq_xylo_accuracy']:.3f}, hardware-exact "
            f"training {summary['xylo_accuracy']:.3f}") in shown.stdout

    _run("eval", str(out / "checkpoint.pt"), "--xylo", "--no-progress", "--json",
         str(tmp_path / "eval.json"))
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["xylo_quantize"] == quantize
    assert report["accuracy"] == summary["xylo_accuracy"]
    assert report["predictions"] == hardware["xylo_predictions"]
    assert report["float_accuracy"] == summary["float_accuracy"]


def test_bench_is_forwarded_to_the_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    _run(
        "bench", "--suite", "tiny", "--contender", "synnet_triton", "--pass", "fwd",
        "--repeats", "1", "--out", str(out), "--no-plots", "--no-progress",
    )  # fmt: skip
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert all("synnet_triton" in row["contender"] for row in rows)


def test_unknown_arguments_are_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["info", "--frobnicate"])
    assert exit_info.value.code == 2
    assert "--frobnicate" in capsys.readouterr().err


def test_kernels_reports_every_kernel_build_without_a_gpu() -> None:
    text = _run("kernels", "--capability", "80").stdout
    assert "lif_forward" in text
    assert "lif_backward" in text
