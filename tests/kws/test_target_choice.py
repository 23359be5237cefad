"""Without ``--target`` a keyword spotter goes onto the smallest Xylo Audio chip that holds
it, says which and why, records it, and ``eval --xylo`` simulates that chip; ``--target``
still forces one. The limits are the targets' documented ones (Audio 2: 8 outputs, Audio 3:
32, inputs and outputs reaching only 128 hidden neurons)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from synnet_triton.kws.options import ModelOptions
from synnet_triton.kws.training import NetworkConfig
from synnet_triton.kws.training_run import _with_target
from synnet_triton.xylo.design import smallest_target


def test_the_smallest_audio_chip_that_holds_the_network_is_chosen() -> None:
    assert smallest_target(16, [64], 8)[0] == "xylo-audio2"
    chosen, reports = smallest_target(16, [64], 9)
    assert chosen == "xylo-audio3"
    assert [v.rule for v in reports["xylo-audio2"].errors] == ["output_neurons"]
    # 200 neurons in one layer: Audio 2 holds them, Audio 3 would not (128-neuron windows)
    assert smallest_target(16, [200], 8)[0] == "xylo-audio2"
    assert smallest_target(16, [200], 9)[0] is None
    assert smallest_target(16, [64], 33)[0] is None


def test_the_choice_is_said_with_its_reason_and_a_given_target_is_kept() -> None:
    model, line = _with_target(ModelOptions(), NetworkConfig(n_classes=12, hidden=(64,)))
    assert model.target == "xylo-audio3"
    assert line == ("target: xylo-audio3, the smallest Xylo Audio chip that holds 16 → 64 → 12 "
                    "(Xylo Audio 2 (SYNS61201) cannot: output_neurons 12 > 8)")
    model, line = _with_target(ModelOptions(), NetworkConfig(n_classes=4, hidden=(64,)))
    assert model.target == "xylo-audio2" and line.endswith("holds 16 → 64 → 4")
    model, line = _with_target(ModelOptions(), NetworkConfig(n_classes=40, hidden=(64,)))
    assert model.target == "xylo-audio2" and line.startswith("target: no Xylo Audio chip holds")
    assert "output_neurons 40 > 8" in line and "output_neurons 40 > 32" in line
    forced = ModelOptions(target="xylo-imu")
    assert _with_target(forced, NetworkConfig(n_classes=12)) == (forced, "")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    return subprocess.run([sys.executable, "-m", "synnet_triton.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def test_nine_classes_train_for_audio3_and_eval_simulates_it(tmp_path: Path) -> None:
    trained = _cli("train", "--out", "run", "--classes", "9", "--hidden", "4", "--epochs", "1",
                   "--train-clips", "18", "--test-clips", "9", "--no-progress",
                   "--device", "cpu", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "target: xylo-audio3" in trained.stdout and "output_neurons 9 > 8" in trained.stdout
    assert "refuse" not in trained.stderr
    extra = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["extra"]
    assert extra["xylo_target"] == "xylo-audio3"
    scored = _cli("eval", "run/checkpoint.pt", "--xylo", "--no-progress", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert "Xylo-parity simulation" in scored.stdout
