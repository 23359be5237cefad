"""The ``synnet-triton`` command line: demo, train, eval, detect, bench, kernels, info.

``demo`` is the whole path in one command: synthesise a keyword-spotting set, turn it into
front-end events, train a Xylo-sized SynNet, measure float accuracy on held-out clips,
convert to Xylo and measure accuracy on the Xylo-parity simulation, and write a JSON summary,
a checkpoint and PNG plots. ``train`` and ``eval`` are its halves, joined by the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

import torch

from synnet_triton.kws.runs import (
    DEMO_DIR,
    SUMMARY_NAME,
    device_name,
    hardware_headline,
    headline,
    held_out_set,
    long_audio_run,
    parse_device,
    plot_first_clip,
    resolved_backend,
    train_run,
    write_summary,
)
from synnet_triton.xylo.design import DesignError
from synnet_triton.xylo.targets import DEFAULT_TARGET, TARGETS

__all__ = ["main", "build_parser", "UsageError"]


class UsageError(Exception):
    """A mistake in what the user asked for: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``prog: error: ...``, exit 2) and defaults in --help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
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
    group.add_argument("--skip-unreadable", action="store_true",
                       help="skip audio files that cannot be read (with a warning) instead of "
                       "stopping at the first")
    group.add_argument("--seconds", type=POSITIVE_FLOAT, default=None,
                       help="clip length in s (1 ms steps); default: the longest clip of "
                       "--data (shorter ones zero-padded, none cut), 0.5 for the synthetic set")
    group.add_argument("--classes", type=POSITIVE_INT, default=4,
                       help="synthetic words (≤ 8 for Xylo)")
    group.add_argument("--train-clips", type=POSITIVE_INT, default=256,
                       help="synthetic training clips")
    group.add_argument("--test-clips", type=POSITIVE_INT, default=128,
                       help="synthetic held-out clips")
    group.add_argument(
        "--data-seed",
        type=int,
        default=0,
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
        default=4,
        help="distinct synaptic time constants in the hidden layer (2, 4, 8, … ms)",
    )
    group.add_argument("--epochs", type=NON_NEGATIVE_INT, default=None,
                       help="passes over the data in float; default: 30 with --data, 6 for "
                       "the synthetic set (0 with --hardware-aware: train through the chip "
                       "from scratch)")
    group.add_argument("--batch-size", type=POSITIVE_INT, default=32,
                       help="clips per optimiser step")
    group.add_argument("--lr", type=POSITIVE_FLOAT, default=None,
                       help="Adam's initial learning rate, decayed to 0 by a half cosine; "
                       "default: 3e-3 with --data, 1e-2 for the synthetic set")
    group.add_argument("--seed", type=int, default=0, help="weight initialisation and batch order")
    group.add_argument("--init-gain", type=POSITIVE_FLOAT, default=0.4,
                       help="factor on the initial weights")
    _add_target_argument(group, DEFAULT_TARGET)
    group.add_argument("--quantize", choices=("global", "channel"), default="global",
                       help="how the weights become Xylo's int8 (Rockpool's global_quantize "
                       "or channel_quantize); eval --xylo and detect --xylo use the same")
    hardware = parser.add_argument_group(
        "hardware-exact training",
        "after the float epochs, train through the chip's integer arithmetic (the forward is "
        "bitwise the Xylo simulation of --target, with surrogate gradients); summary.json then "
        "holds float, post-training-quantised and hardware-exact chip accuracy side by side")
    hardware.add_argument("--hardware-aware", action="store_true",
                          help="fine-tune through the chip after the float epochs")
    hardware.add_argument("--hardware-epochs", type=POSITIVE_INT, default=5,
                          help="epochs of hardware-exact training")
    hardware.add_argument("--hardware-lr", type=POSITIVE_FLOAT, default=1e-3,
                          help="Adam's initial learning rate for them, decayed by a half cosine")


def _add_target_argument(parser: Any, default: str | None) -> None:
    parser.add_argument(
        "--target", choices=sorted(TARGETS), default=default,
        help="the Xylo chip its design is checked against and --xylo simulates"
        + ("" if default else "; default: the one the checkpoint was trained for"),
    )


def _add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("runtime")
    group.add_argument(
        "--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1'"
    )
    group.add_argument(
        "--backend",
        default="auto",
        choices=("auto", "torch", "triton"),
        help="LIF backend; 'auto' is Triton on CUDA, torch on CPU",
    )
    group.add_argument("--no-progress", action="store_true",
                       help="hide progress bars (the per-epoch lines stay)")


def _add_training_run_arguments(parser: argparse.ArgumentParser) -> None:
    _add_data_arguments(parser)
    _add_model_arguments(parser)
    _add_runtime_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``synnet-triton`` with all subcommands."""
    parser = _Parser(
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
    demo.add_argument("--out", type=Path, default=Path(DEMO_DIR), help="output folder")
    _add_training_run_arguments(demo)
    demo.set_defaults(xylo=True)
    long_audio = demo.add_argument_group("long audio (synthetic data only)")
    long_audio.add_argument(
        "--long-seconds",
        type=float,
        default=10.0,
        help="also score the trained network on clips this long, one word per second; 0: skip",
    )
    long_audio.add_argument("--long-clips", type=int, default=16, help="number of long clips")
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
    train.add_argument("--out", type=Path, required=True, help="output folder")
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
    _add_target_argument(evaluate, None)
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
    detect.add_argument("--out", type=Path, default=Path("detections"), help="output folder")
    detect.add_argument("--xylo", action="store_true",
                        help="run the Xylo-parity simulation instead of the float network")
    detect.add_argument("--min-share", type=POSITIVE_FLOAT, default=0.5,
                        help="share of a window's readout spikes the top class needs")
    detect.add_argument("--min-spikes", type=float, default=20.0,
                        help="readout spikes a window needs to count at all")
    detect.add_argument("--chunk-seconds", type=POSITIVE_FLOAT, default=60.0,
                        help="audio read and processed per step of the stream")
    _add_target_argument(detect, None)
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


def _command_train(args: argparse.Namespace) -> int:
    run = train_run(args)
    summary = run["summary"]
    write_summary(summary, args.out / SUMMARY_NAME)
    print(headline(summary))
    if hardware_headline(summary):
        print(hardware_headline(summary))
    print("wrote " + ", ".join([str(args.out / SUMMARY_NAME), summary["checkpoint"],
                                *summary["plots"]]))
    return 0


def _command_demo(args: argparse.Namespace) -> int:
    from synnet_triton.kws.training import evaluate_xylo

    start = time.perf_counter()
    args.xylo = True  # the demo ends on the chip: refuse a network it cannot hold up front
    run = train_run(args)
    summary, net, test_set = run["summary"], run["net"], run["test_set"]
    xylo = evaluate_xylo(net, test_set, progress=not args.no_progress, target=args.target,
                         quantize=args.quantize)
    summary["xylo_accuracy"] = xylo.accuracy
    summary["xylo_clips_per_second"] = xylo.clips_per_second
    summary["float_xylo_agreement"] = (
        (xylo.predictions == run["float"].predictions).double().mean().item()
    )
    summary["plots"].append(str(plot_first_clip(net, test_set, args.out / "clip.png")))
    if args.long_seconds > 0 and args.data is None:
        summary["long_audio"] = long_audio_run(net, args)
        summary["plots"].append(summary["long_audio"]["plot"])
    summary["total_seconds"] = time.perf_counter() - start
    write_summary(summary, args.out / SUMMARY_NAME)
    print(headline(summary))
    if hardware_headline(summary):
        print(hardware_headline(summary))
    if "long_audio" in summary:
        long_audio = summary["long_audio"]
        print(
            f"long audio ({long_audio['clips']} clips of {long_audio['seconds']} s): "
            + headline(long_audio)
        )
    print(
        f"wrote {args.out / SUMMARY_NAME}, {summary['checkpoint']}, " + ", ".join(summary["plots"])
    )
    return 0


def _checkpoint_for(args: argparse.Namespace) -> tuple[torch.device, str, Any, Any, dict]:
    """(device, backend, net, its NetworkConfig, extra) of ``args.checkpoint`` on the asked
    device; sets ``args.target`` (the checkpoint's chip unless given). With ``--xylo``, a
    DesignError listing every rule of that chip the network breaks."""
    from synnet_triton.kws.training import load_checkpoint

    device = parse_device(args.device)
    backend = resolved_backend(args.backend, device)
    net, network, extra = load_checkpoint(args.checkpoint, backend=backend, device=device)
    if args.target is None:
        args.target = extra.get("xylo_target", DEFAULT_TARGET)
    if args.xylo:
        network.design_report(args.target).enforce()
    return device, backend, net, network, extra


def _command_eval(args: argparse.Namespace) -> int:
    from synnet_triton.kws.reports import format_evaluation
    from synnet_triton.kws.training import evaluate, evaluate_xylo

    device, backend, net, network, extra = _checkpoint_for(args)
    test_set = held_out_set(extra["source"], args)
    names = extra.get("class_names", test_set.class_names)
    floating = evaluate(net, test_set, progress=not args.no_progress)
    quantize = extra.get("xylo_quantize", "global")
    result = evaluate_xylo(net, test_set, progress=not args.no_progress,
                           target=args.target, quantize=quantize) if args.xylo \
        else floating
    report = {
        "checkpoint": str(args.checkpoint),
        "mode": "xylo" if args.xylo else "float",
        "accuracy": result.accuracy,
        "class_names": names,
        "labels": test_set.labels.tolist(),
        "predictions": result.predictions.tolist(),
        "readout_spikes_per_clip": result.counts.sum(dim=1).mean().item(),
        "clips": len(test_set),
        "clips_per_second": result.clips_per_second,
        "backend": "xylo-sim" if args.xylo else backend,
        "xylo_quantize": quantize,
        "device": device_name(device),
    }
    if args.xylo:
        report["float_accuracy"] = floating.accuracy
        report["float_xylo_agreement"] = (
            (result.predictions == floating.predictions).double().mean().item())
    title = f"{args.checkpoint} on {len(test_set)} held-out clips, " + (
        "Xylo-parity simulation" if args.xylo else f"float ({backend}, {device_name(device)})")
    other = ("float", floating.predictions) if args.xylo else None
    print(format_evaluation(title, names, test_set.labels, result.predictions, other))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _command_detect(args: argparse.Namespace) -> int:
    from synnet_triton.kws.detect import DetectorConfig, detect_keywords

    _, _, net, network, extra = _checkpoint_for(args)
    if not args.recording.is_file():
        raise UsageError(f"{args.recording}: no such file")
    if args.min_share > 1:
        raise UsageError(f"--min-share {args.min_share}: expected a share in (0, 1]")
    window = float(extra.get("source", {}).get("seconds") or 1.0)
    config = DetectorConfig(window=window, min_share=args.min_share,
                            min_spikes=args.min_spikes, chunk_seconds=args.chunk_seconds)
    names = list(extra.get("class_names") or [f"class{k}" for k in range(network.n_classes)])
    run = detect_keywords(net, args.recording, names, config, xylo=args.xylo,
                          target=args.target, quantize=extra.get("xylo_quantize", "global"))
    for found in run.detections:
        print(f"{found.start_s:10.2f} s  {found.end_s:10.2f} s  {found.word:12s}  "
              f"confidence {found.confidence:.2f}")
    print(f"{len(run.detections)} detections in {run.seconds:.1f} s of audio "
          f"({run.mode}); {run.compute_seconds:.1f} s of compute, "
          f"{run.real_time_factor:.0f}x real time")
    print("wrote " + ", ".join(str(p) for p in run.write(args.out)))
    return 0


def _command_bench(argv: Sequence[str]) -> int:
    from synnet_triton.bench import main as bench_main

    return int(bench_main(list(argv)) or 0)


def _command_kernels(args: argparse.Namespace) -> int:
    from synnet_triton.compiled.compile_report import compile_report, format_compile_report
    from synnet_triton.compiled.performance_model import DEVICES, format_prediction, predict

    if args.capability < 80:
        raise UsageError(f"--capability {args.capability}: the kernels need sm_80 or newer "
                         "(Ampere, e.g. 80, 86, 89, 90)")
    if args.predict and args.capability != 90:
        raise UsageError("--predict models H100/H200: use it with --capability 90")
    rows = compile_report(args.capability)
    print(format_compile_report(rows))
    report: dict[str, Any] = {"builds": [{k: v for k, v in row.items() if k != "cubin"}
                                         for row in rows]}
    if args.predict:
        report["predictions"] = {}
        for device in DEVICES:
            table = predict(rows, device)
            report["predictions"][device] = table
            print()
            print(format_prediction(table))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def info() -> dict[str, Any]:
    """Versions, compute device and LIF backends available, as a JSON-able dict."""
    from synnet_triton.ops.lif import triton_available

    cuda = torch.cuda.is_available()
    devices = [
        {
            "index": k,
            "name": torch.cuda.get_device_name(k),
            "capability": ".".join(map(str, torch.cuda.get_device_capability(k))),
        }
        for k in range(torch.cuda.device_count())
    ]
    backends = ["torch"] + (["triton"] if triton_available() and cuda else [])
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {
            # the imported torch build (e.g. 2.11.0+cu130); its distribution metadata says 2.11.0
            "torch": torch.__version__,
        } | {
            name: _version(name)
            for name in (
                "synnet-triton",
                "triton",
                "numpy",
                "scipy",
                "rockpool",
                "xylosim",
            )
        },
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "devices": devices,
        "default_device": "cuda" if cuda else "cpu",
        "backends_available": backends,
        "backend_auto": resolved_backend("auto", parse_device("auto")),
        "triton_importable": triton_available(),
        "cpu_threads": torch.get_num_threads(),
    }


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "info":
        print(json.dumps(info(), indent=2))
        return 0
    if args.command == "kernels":
        return _command_kernels(args)
    if args.command == "eval":
        return _command_eval(args)
    if args.command == "detect":
        return _command_detect(args)
    if args.command == "train":
        return _command_train(args)
    return _command_demo(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``synnet-triton`` console script; returns the exit status.

    A user's mistake (a bad option value, a missing file, a device or backend this machine
    does not have, data the loader cannot read) is one line on stderr and exit status 2;
    ``--debug`` shows the traceback instead.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "bench":
        return _command_bench(extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return _dispatch(args)
    except (UsageError, ValueError) as error:
        if args.debug:
            raise
        # A design report is one block, every violation on its line; other errors one line.
        text = str(error).strip() if isinstance(error, DesignError) else \
            (str(error).strip().splitlines()[0] if str(error).strip() else repr(error))
        print(f"synnet-triton {args.command}: error: {text}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
