"""What the keyword-spotting commands are asked to do, as typed settings.

The ``synnet-triton`` CLI (:mod:`synnet_triton.cli`) maps its options onto these and calls
:mod:`synnet_triton.kws.commands`; a script can build them directly. Defaults are the CLI's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

TRAINING_DEFAULTS = {
    # measured on 5 espeak-ng words × 50 noisy 1 s clips (docs/kws.md, "Train on your own WAV
    # folder"): at lr 1e-2 the readout falls silent there; 3e-3, 128 neurons, 30 epochs learn
    "wav": {"hidden": 128, "epochs": 30, "lr": 3e-3},
    # the synthetic words learn in a few epochs at a higher rate (make demo)
    "synthetic": {"hidden": 64, "epochs": 6, "lr": 1e-2},
}
"""Training defaults per kind of data, for the settings left at None."""


@dataclass(frozen=True)
class DataOptions:
    """Where the clips come from.

    data:            a folder with one subfolder of audio files per class, or a Google Speech
                     Commands tree (:mod:`synnet_triton.kws.speech_commands`); None: the
                     synthetic keyword set
    words:           (Speech Commands) the words to spot; the others become ``_unknown_``
    test_data:       a held-out folder (with ``data``); None: every fifth file of ``data``
    skip_unreadable: skip audio files that cannot be read (with a warning) instead of stopping
    seconds:         clip length in s; None: the longest clip of ``data``, 0.5 s synthetic
    classes, train_clips, test_clips, data_seed: the synthetic set (training seed 2·s,
                     held-out seed 2·s + 1)
    """

    data: Path | None = None
    words: tuple[str, ...] | None = None
    test_data: Path | None = None
    skip_unreadable: bool = False
    seconds: float | None = None
    classes: int = 4
    train_clips: int = 256
    test_clips: int = 128
    data_seed: int = 0


@dataclass(frozen=True)
class ModelOptions:
    """The network, its training, and the chip it is meant for.

    hidden, epochs, lr: None takes :data:`TRAINING_DEFAULTS` for the kind of data
    (`for_data`); epochs 0 with ``hardware_aware`` trains through the chip from scratch.
    target: the Xylo chip; None: the smallest of the audio family that holds the network
    (:func:`synnet_triton.xylo.design.smallest_target`), chosen once the classes are known.
    """

    hidden: int | None = None
    time_constants: int = 4
    epochs: int | None = None
    batch_size: int = 32
    lr: float | None = None
    seed: int = 0
    init_gain: float = 0.4
    target: str | None = None
    quantize: str = "global"
    hardware_aware: bool = False
    hardware_epochs: int = 5
    hardware_lr: float = 1e-3

    def for_data(self, data: DataOptions) -> ModelOptions:
        """These options with every None filled from the defaults for ``data``'s kind."""
        defaults = TRAINING_DEFAULTS["wav" if data.data is not None else "synthetic"]
        return replace(
            self,
            hidden=int(defaults["hidden"]) if self.hidden is None else self.hidden,
            epochs=int(defaults["epochs"]) if self.epochs is None else self.epochs,
            lr=float(defaults["lr"]) if self.lr is None else self.lr,
        )


@dataclass(frozen=True)
class Runtime:
    """Where and how it runs: ``device`` 'auto', 'cpu', 'cuda' or 'cuda:K'; ``backend``
    'auto', 'torch' or 'triton' (the LIF op's); ``progress`` bars on stderr."""

    device: str = "auto"
    backend: str = "auto"
    progress: bool = True


@dataclass(frozen=True)
class LongAudio:
    """The demo's long synthetic clips (one word per second): ``seconds`` 0 skips them;
    ``xylo`` scores them on the chip's simulation too."""

    seconds: float = 10.0
    clips: int = 16
    xylo: bool = False


@dataclass(frozen=True)
class TrainRun:
    """A training run into the folder ``out``; ``must_fit_chip`` refuses, before training, a
    network the target cannot hold (the demo ends on the chip).

    resume: continue the unfinished run in ``out`` with its recorded data and model options
            (those given here are not used)
    force:  replace the run ``out`` holds (without it such a folder is refused)
    """

    out: Path
    data: DataOptions = field(default_factory=DataOptions)
    model: ModelOptions = field(default_factory=ModelOptions)
    runtime: Runtime = field(default_factory=Runtime)
    must_fit_chip: bool = False
    resume: bool = False
    force: bool = False


@dataclass(frozen=True)
class HeldOutOverrides:
    """What ``eval`` changes about the held-out set a checkpoint records (None: keep it)."""

    data: Path | None = None
    seconds: float | None = None
    test_clips: int | None = None
    data_seed: int | None = None


@dataclass(frozen=True)
class EvalRequest:
    """Evaluate ``checkpoint`` on its held-out set, in float or on the chip (``xylo``);
    ``target`` None: the checkpoint's chip; ``json``: also write the details there."""

    checkpoint: Path
    xylo: bool = False
    target: str | None = None
    json: Path | None = None
    held_out: HeldOutOverrides = field(default_factory=HeldOutOverrides)
    runtime: Runtime = field(default_factory=Runtime)


@dataclass(frozen=True)
class DetectorConfig:
    """How windows become detections (:mod:`synnet_triton.kws.detect`'s docstring): windows
    of ``window`` s every ``hop`` s; active when they hold ``min_spikes`` readout spikes of
    which the top keyword has at least ``min_share``; active windows of one class closer than
    ``merge_gap`` s are one detection; audio read ``chunk_seconds`` at a time. The CLI's
    ``detect`` defaults are these."""

    window: float = 1.0
    hop: float = 0.05
    min_spikes: float = 20.0
    min_share: float = 0.5
    merge_gap: float = 0.1
    chunk_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name in ("window", "hop", "chunk_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 < self.min_share <= 1:
            raise ValueError(f"min_share must be in (0, 1], got {self.min_share}")
        if self.min_spikes < 0 or self.merge_gap < 0:
            raise ValueError("min_spikes and merge_gap must be >= 0")


@dataclass(frozen=True)
class DetectRequest:
    """Find the keywords in ``recording`` with ``checkpoint``, writing into ``out``.

    min_share:     share of a window's readout spikes the top class needs, in (0, 1]
    min_spikes:    readout spikes a window needs to count at all
    chunk_seconds: audio read and processed per step of the stream
    truth:         a CSV of the recording's words (word,start_s,end_s): also score recall,
                   false alarms per hour and the DET curve
    """

    checkpoint: Path
    recording: Path
    out: Path = Path("detections")
    xylo: bool = False
    min_share: float = DetectorConfig.min_share
    min_spikes: float = DetectorConfig.min_spikes
    chunk_seconds: float = DetectorConfig.chunk_seconds
    truth: Path | None = None
    target: str | None = None
    runtime: Runtime = field(default_factory=Runtime)
