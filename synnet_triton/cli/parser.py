"""The argument parser of ``synnet-triton``: every command, its options and their checks.

Imports nothing of the application: ``synnet-triton --help`` works without the ``[kws]``
extra, and the commands that need it say so in one line.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NoReturn

from synnet_triton.kws.options import (
    DataOptions,
    DetectRequest,
    LongAudio,
    ModelOptions,
    Runtime,
)
from synnet_triton.ops.lif.op import LIF_BACKENDS
from synnet_triton.xylo.targets import TARGETS

DEMO_DIR = "synnet-demo"
"""Where ``synnet-triton demo`` writes unless ``--out`` says otherwise."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``prog: error: ...``, exit 2), defaults in --help, and
    no abbreviated options (``--epoch`` was taken for ``--epochs``; a typo must be an
    error, not a guess)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _non_negative_int() -> Any:
    """An argparse ``type`` that accepts an integer ≥ 0."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer ≥ 0, got {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"expected an integer ≥ 0, got {text}")
        return value

    parse.__name__ = "non-negative integer"
    return parse


def _positive(kind: type[int] | type[float], name: str) -> Any:
    """An argparse ``type`` that accepts a number > 0 of ``kind``."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {name}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a {name} > 0, got {text}")
        return value

    parse.__name__ = name
    return parse


def _word_list(text: str) -> tuple[str, ...]:
    """``--words yes,no,up``: the words, comma-separated, none empty."""
    words = tuple(word.strip() for word in text.split(","))
    if not all(words):
        raise argparse.ArgumentTypeError(f"expected words separated by commas, got {text!r}")
    return words


POSITIVE_INT = _positive(int, "positive integer")
NON_NEGATIVE_INT = _non_negative_int()
POSITIVE_FLOAT = _positive(float, "positive number")



def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        type=Path,
        default=None,
        help="folder with one subfolder of WAV files per class; default: the embedded "
        "synthetic keyword set",
    )
    group.add_argument(
        "--test-data",
        type=Path,
        default=None,
        help="held-out WAV folder (with --data); default: every 5th file of --data",
    )
    group.add_argument("--words", type=_word_list, default=None, metavar="W1,W2,...",
                       help="with a Speech Commands tree as --data: the words to spot (the "
                       "others become _unknown_, the background noise _silence_); default: "
                       "every word folder")
    group.add_argument("--skip-unreadable", action="store_true",
                       help="skip audio files that cannot be read (with a warning) instead of "
                       "stopping at the first")
    group.add_argument("--seconds", type=POSITIVE_FLOAT, default=None,
                       help="clip length in s (1 ms steps); default: the longest clip of "
                       "--data (shorter ones zero-padded, none cut), 0.5 for the synthetic set")
    group.add_argument("--classes", type=POSITIVE_INT, default=DataOptions.classes,
                       help="synthetic words (≤ 8 for Xylo)")
    group.add_argument("--train-clips", type=POSITIVE_INT, default=DataOptions.train_clips,
                       help="synthetic training clips")
    group.add_argument("--test-clips", type=POSITIVE_INT, default=DataOptions.test_clips,
                       help="synthetic held-out clips")
    group.add_argument(
        "--data-seed",
        type=int,
        default=DataOptions.data_seed,
        help="synthetic clips: the training set uses seed 2·s, the held-out set 2·s + 1",
    )


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("network and training")
    group.add_argument("--hidden", type=POSITIVE_INT, default=None,
                       help="hidden neurons (≤ 1000 for Xylo); default: 128 with --data, 64 "
                       "for the synthetic set")
    group.add_argument(
        "--time-constants",
        type=POSITIVE_INT,
        default=ModelOptions.time_constants,
        help="distinct synaptic time constants in the hidden layer (2, 4, 8, … ms)",
    )
    group.add_argument("--epochs", type=NON_NEGATIVE_INT, default=None,
                       help="passes over the data in float; default: 30 with --data, 6 for "
                       "the synthetic set (0 with --hardware-aware: train through the chip "
                       "from scratch)")
    group.add_argument("--batch-size", type=POSITIVE_INT, default=ModelOptions.batch_size,
                       help="clips per optimiser step")
    group.add_argument("--lr", type=POSITIVE_FLOAT, default=None,
                       help="Adam's initial learning rate, decayed to 0 by a half cosine; "
                       "default: 3e-3 with --data, 1e-2 for the synthetic set")
    group.add_argument("--seed", type=int, default=ModelOptions.seed,
                       help="weight initialisation and batch order")
    group.add_argument("--init-gain", type=POSITIVE_FLOAT, default=ModelOptions.init_gain,
                       help="factor on the initial weights")
    _add_target_argument(group, "default: the smallest Xylo Audio chip that holds the network "
                         "(Audio 2 up to 8 classes, Audio 3 up to 32), recorded in the checkpoint")
    group.add_argument("--quantize", choices=("global", "channel"), default=ModelOptions.quantize,
                       help="how the weights become Xylo's int8 (Rockpool's global_quantize "
                       "or channel_quantize); eval --xylo and detect --xylo use the same")
    hardware = parser.add_argument_group(
        "hardware-exact training",
        "after the float epochs, train through the chip's integer arithmetic (the forward is "
        "bitwise the Xylo simulation of --target, with surrogate gradients); summary.json then "
        "holds float, post-training-quantised and hardware-exact chip accuracy side by side")
    hardware.add_argument("--hardware-aware", action="store_true",
                          help="fine-tune through the chip after the float epochs")
    hardware.add_argument("--hardware-epochs", type=POSITIVE_INT,
                          default=ModelOptions.hardware_epochs,
                          help="epochs of hardware-exact training")
    hardware.add_argument("--hardware-lr", type=POSITIVE_FLOAT, default=ModelOptions.hardware_lr,
                          help="Adam's initial learning rate for them, decayed by a half cosine")


def _add_target_argument(parser: Any, default: str) -> None:
    parser.add_argument(
        "--target", choices=sorted(TARGETS), default=None,
        help=f"the Xylo chip its design is checked against and --xylo simulates; {default}",
    )


def _add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("runtime")
    group.add_argument(
        "--device", default=Runtime.device,
        help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1'"
    )
    group.add_argument(
        "--backend",
        default=Runtime.backend,
        choices=LIF_BACKENDS,
        help="LIF backend; 'auto' is Triton on CUDA, on the CPU numba with the [cpu] extra, "
             "else torch",
    )
    group.add_argument("--no-progress", action="store_true",
                       help="hide progress bars (the per-epoch lines stay)")


def _add_run_folder_arguments(parser: argparse.ArgumentParser, out: Path | None) -> None:
    group = parser.add_argument_group("run folder")
    group.add_argument("--out", type=Path, default=out,
                       help="output folder" + (f" (default: {out})" if out else
                                               "; required unless --resume"))
    group.add_argument("--resume", type=Path, default=None, metavar="DIR",
                       help="continue the interrupted run in DIR from its last finished epoch, "
                       "with its own options (they win over those given here)")
    group.add_argument("--force", action="store_true",
                       help="replace the run the output folder holds (it is refused without)")


def _add_training_run_arguments(parser: argparse.ArgumentParser) -> None:
    _add_data_arguments(parser)
    _add_model_arguments(parser)
    _add_runtime_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``synnet-triton`` with all subcommands."""
    parser = Parser(
        prog="synnet-triton",
        description="Train and run SynNet spiking networks fast, in float and Xylo-parity.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error instead of one line")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="train a Xylo-sized SynNet on the embedded keyword set, evaluate float and Xylo",
        description="Train a SynNet on synthetic keyword audio, evaluate it in float and on the "
        "Xylo-parity simulation, write summary.json, a checkpoint and PNG plots.",
    )
    _add_run_folder_arguments(demo, Path(DEMO_DIR))
    _add_training_run_arguments(demo)
    long_audio = demo.add_argument_group("long audio (synthetic data only)")
    long_audio.add_argument(
        "--long-seconds",
        type=float,
        default=LongAudio.seconds,
        help="also score the trained network on clips this long, one word per second; 0: skip",
    )
    long_audio.add_argument("--long-clips", type=int, default=LongAudio.clips,
                            help="number of long clips")
    long_audio.add_argument(
        "--long-xylo",
        action="store_true",
        help="score the long clips on the Xylo-parity simulation too (a sequential loop over "
        "time steps: minutes on a CPU for 10 s clips)",
    )

    train = commands.add_parser(
        "train",
        help="train a SynNet and write a checkpoint",
        description="Train a SynNet on the synthetic set (or --data WAV folders); writes "
        "OUT/checkpoint.pt, OUT/summary.json and OUT/training_curve.png.",
    )
    _add_run_folder_arguments(train, None)
    _add_training_run_arguments(train)

    evaluate = commands.add_parser(
        "eval",
        help="evaluate a checkpoint on held-out clips (float, or --xylo)",
        description="Evaluate a checkpoint written by `train` or `demo` on its held-out set "
        "(the same synthetic clips it was scored on, unless data options are given).",
    )
    evaluate.add_argument("checkpoint", type=Path, help="checkpoint.pt written by train/demo")
    evaluate.add_argument(
        "--xylo", action="store_true", help="convert to Xylo and run the Xylo-parity simulation"
    )
    evaluate.add_argument("--data", type=Path, default=None, help="WAV folder to evaluate on")
    evaluate.add_argument("--seconds", type=POSITIVE_FLOAT, default=None,
                          help="clip length override")
    evaluate.add_argument("--test-clips", type=POSITIVE_INT, default=None,
                          help="synthetic clip count")
    evaluate.add_argument("--data-seed", type=int, default=None, help="synthetic data seed")
    evaluate.add_argument("--json", type=Path, default=None,
                          help="also write the details (predictions, labels, settings) here")
    _add_target_argument(evaluate, "default: the one the checkpoint was trained for")
    _add_runtime_arguments(evaluate)

    detect = commands.add_parser(
        "detect",
        help="find the keywords in a long recording, streamed in chunks",
        description="Run a checkpoint over a recording of any length (constant memory) and "
        "print each detected keyword with its start, end and confidence; writes OUT/"
        "detections.json, detections.csv and readout.png. Classes named '_...' (_noise) are "
        "never reported: train with one to teach the network what no keyword sounds like.",
    )
    detect.add_argument("checkpoint", type=Path, help="checkpoint.pt written by train/demo")
    detect.add_argument("recording", type=Path, help="WAV/FLAC/OGG file, any length")
    detect.add_argument("--out", type=Path, default=DetectRequest.out, help="output folder")
    detect.add_argument("--xylo", action="store_true",
                        help="run the Xylo-parity simulation instead of the float network")
    detect.add_argument("--min-share", type=POSITIVE_FLOAT, default=DetectRequest.min_share,
                        help="share of a window's readout spikes the top class needs")
    detect.add_argument("--min-spikes", type=float, default=DetectRequest.min_spikes,
                        help="readout spikes a window needs to count at all")
    detect.add_argument("--truth", type=Path, default=None, metavar="CSV",
                        help="the recording's words (word,start_s,end_s): also report recall "
                        "and false alarms per hour, and write det.csv and det.png")
    detect.add_argument("--chunk-seconds", type=POSITIVE_FLOAT, default=DetectRequest.chunk_seconds,
                        help="audio read and processed per step of the stream")
    _add_target_argument(detect, "default: the one the checkpoint was trained for")
    _add_runtime_arguments(detect)

    commands.add_parser(
        "bench",
        add_help=False,
        help="side-by-side LIF benchmark against peer libraries (see `bench --help`)",
        description="Forwarded to synnet_triton.bench.",
    )

    kernels = commands.add_parser(
        "kernels",
        help="compile the Triton kernels ahead of time and report what the GPU will execute",
        description="Build TTGIR/PTX/cubin of every kernel build for a CUDA capability without "
        "a GPU and report, read from the compiled code: registers, spills, shared memory, "
        "SASS instructions per time step, steps and bytes in flight per warp, synchronous "
        "loads in the time loop. --predict adds the performance model's fwd+bwd times.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    kernels.add_argument(
        "--capability", type=int, default=90, help="CUDA compute capability, e.g. 80 or 90"
    )
    kernels.add_argument(
        "--predict", action="store_true",
        help="also print the model's predicted fwd+bwd times against the HBM roofline "
        "(sm_90 builds; H100 and H200 constants; a model, not a measurement)",
    )
    kernels.add_argument(
        "--json", type=Path, default=None, help="also write the rows (and predictions) as JSON"
    )

    commands.add_parser(
        "info",
        help="versions, device and available backends",
        description="Print versions, the compute device and the LIF backends available, as JSON.",
    )
    return parser

