"""The commands' typed settings: the CLI maps every option onto them (nothing below the CLI
sees argparse), and the training defaults for each kind of data are the documented ones
(docs/kws.md: 128 hidden, 30 epochs, 3e-3 for a WAV folder; 64, 6, 1e-2 synthetic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synnet_triton.cli import _train_run, build_parser
from synnet_triton.kws.options import DataOptions, ModelOptions, Runtime, TrainRun


def test_defaults_follow_the_kind_of_data_and_never_override_a_choice() -> None:
    wav = ModelOptions().for_data(DataOptions(data=Path("words")))
    assert (wav.hidden, wav.epochs, wav.lr) == (128, 30, 3e-3)
    synthetic = ModelOptions().for_data(DataOptions())
    assert (synthetic.hidden, synthetic.epochs, synthetic.lr) == (64, 6, 1e-2)
    chosen = ModelOptions(hidden=7, epochs=0, lr=0.5).for_data(DataOptions(data=Path("w")))
    assert (chosen.hidden, chosen.epochs, chosen.lr) == (7, 0, 0.5)


def test_the_cli_maps_every_train_option_onto_the_settings() -> None:
    args = build_parser().parse_args([
        "train", "--out", "run", "--data", "words", "--test-data", "held", "--skip-unreadable",
        "--seconds", "1.5", "--classes", "5", "--train-clips", "9", "--test-clips", "3",
        "--data-seed", "4", "--hidden", "33", "--time-constants", "2", "--epochs", "0",
        "--batch-size", "8", "--lr", "0.02", "--seed", "6", "--init-gain", "0.7",
        "--target", "xylo-audio3", "--quantize", "channel", "--hardware-aware",
        "--hardware-epochs", "2", "--hardware-lr", "0.004", "--device", "cpu",
        "--backend", "torch", "--no-progress",
    ])
    assert _train_run(args) == TrainRun(
        out=Path("run"),
        data=DataOptions(data=Path("words"), test_data=Path("held"), skip_unreadable=True,
                         seconds=1.5, classes=5, train_clips=9, test_clips=3, data_seed=4),
        model=ModelOptions(hidden=33, time_constants=2, epochs=0, batch_size=8, lr=0.02,
                           seed=6, init_gain=0.7, target="xylo-audio3", quantize="channel",
                           hardware_aware=True, hardware_epochs=2, hardware_lr=0.004),
        runtime=Runtime(device="cpu", backend="torch", progress=False),
    )


def test_every_lif_backend_is_a_cli_choice() -> None:
    """The command line offers what the op resolves (numba included) and nothing else."""
    from synnet_triton.ops.lif.op import LIF_BACKENDS

    assert "numba" in LIF_BACKENDS
    for backend in LIF_BACKENDS:
        args = build_parser().parse_args(["train", "--out", "run", "--backend", backend])
        assert _train_run(args).runtime.backend == backend
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--out", "run", "--backend", "cuda"])


def test_the_cli_defaults_are_the_settings_defaults() -> None:
    run = _train_run(build_parser().parse_args(["train", "--out", "run"]))
    assert run == TrainRun(out=Path("run"))


def test_detect_defaults_are_stated_once_and_the_cli_uses_them() -> None:
    """The detector's library defaults, the request's and the CLI's are one set: a window
    is a detection when the top keyword holds at least half of at least 20 readout spikes
    (docs/kws.md); the two disagreed (0.6 in the library, 0.5 on the command line)."""
    from synnet_triton.kws.detect import DetectorConfig as FromDetect
    from synnet_triton.kws.options import DetectorConfig, DetectRequest

    assert FromDetect is DetectorConfig
    library = DetectorConfig()
    assert (library.min_share, library.min_spikes) == (0.5, 20.0)
    args = build_parser().parse_args(["detect", "run/checkpoint.pt", "long.wav"])
    request = DetectRequest(checkpoint=Path("c"), recording=Path("r"))
    for field in ("min_share", "min_spikes", "chunk_seconds"):
        assert getattr(args, field) == getattr(request, field) == getattr(library, field)


def test_resume_and_force_reach_the_settings() -> None:
    resumed = _train_run(build_parser().parse_args(["train", "--resume", "old"]))
    assert resumed.out == Path("old") and resumed.resume and not resumed.force
    forced = _train_run(build_parser().parse_args(["train", "--out", "new", "--force"]))
    assert forced.out == Path("new") and forced.force and not forced.resume
