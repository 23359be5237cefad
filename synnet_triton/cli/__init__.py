"""The ``synnet-triton`` command line: demo, train, eval, detect, bench, kernels, info.

This package only parses (``parser``; ``tools`` holds info, kernels and bench), maps each
command's options onto typed settings (:mod:`synnet_triton.kws.options`) and hands them to
the layer that does the work: the keyword-spotting application
(:mod:`synnet_triton.kws.commands`, which needs the ``[kws]`` extra), the benchmark harness,
the compiled-code report.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from synnet_triton.cli.parser import build_parser
from synnet_triton.kws.options import (
    DataOptions,
    DetectRequest,
    EvalRequest,
    HeldOutOverrides,
    LongAudio,
    ModelOptions,
    Runtime,
    TrainRun,
)

__all__ = ["main", "build_parser"]

KWS_EXTRA = frozenset({"soundfile", "scipy", "matplotlib", "tqdm", "h5py", "filelock"})
"""Top-level modules of the ``[kws]`` extra: a command that misses one says which extra."""


DIVERGED = 3
"""Exit status of a run stopped by a non-finite loss, gradient or parameter (2: a mistake)."""


def _runtime(args: argparse.Namespace) -> Runtime:
    return Runtime(device=args.device, backend=args.backend, progress=not args.no_progress)


def _train_run(args: argparse.Namespace) -> TrainRun:
    data = DataOptions(
        data=args.data, words=args.words, test_data=args.test_data,
        skip_unreadable=args.skip_unreadable,
        seconds=args.seconds, classes=args.classes, train_clips=args.train_clips,
        test_clips=args.test_clips, data_seed=args.data_seed)
    model = ModelOptions(
        hidden=args.hidden, time_constants=args.time_constants, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, seed=args.seed, init_gain=args.init_gain,
        target=args.target, quantize=args.quantize, hardware_aware=args.hardware_aware,
        hardware_epochs=args.hardware_epochs, hardware_lr=args.hardware_lr)
    return TrainRun(out=_run_folder(args), data=data, model=model, runtime=_runtime(args),
                    resume=args.resume is not None, force=args.force)


def _run_folder(args: argparse.Namespace) -> Path:
    """``--out``, or the folder ``--resume`` names; ValueError when neither or both differ."""
    if args.resume is None:
        if args.out is None:
            raise ValueError("--out: the output folder is required (or --resume DIR)")
        return Path(args.out)
    if args.command == "train" and args.out is not None and args.out != args.resume:
        raise ValueError(f"--resume {args.resume} continues the run in that folder; --out "
                         f"{args.out} names another")
    if args.force:
        raise ValueError("--resume continues a run and --force replaces it: give one")
    return Path(args.resume)


def _run_kws(args: argparse.Namespace) -> int:
    """The keyword-spotting commands: their options as typed settings, handed to the
    application (which needs the [kws] extra)."""
    from synnet_triton.kws import commands

    if args.command == "train":
        return commands.command_train(_train_run(args))
    if args.command == "demo":
        return commands.command_demo(_train_run(args), LongAudio(
            seconds=args.long_seconds, clips=args.long_clips, xylo=args.long_xylo))
    if args.command == "eval":
        return commands.command_eval(EvalRequest(
            checkpoint=args.checkpoint, xylo=args.xylo, target=args.target, json=args.json,
            held_out=HeldOutOverrides(data=args.data, seconds=args.seconds,
                                      test_clips=args.test_clips, data_seed=args.data_seed),
            runtime=_runtime(args)))
    return commands.command_detect(DetectRequest(
        checkpoint=args.checkpoint, recording=args.recording, out=args.out, xylo=args.xylo,
        min_share=args.min_share, min_spikes=args.min_spikes,
        chunk_seconds=args.chunk_seconds, truth=args.truth, target=args.target,
        runtime=_runtime(args)))


def _dispatch(args: argparse.Namespace) -> int:
    from synnet_triton.cli import tools

    if args.command == "info":
        print(json.dumps(tools.info(), indent=2))
        return 0
    if args.command == "kernels":
        return tools.command_kernels(args.capability, args.predict, args.json)
    return _run_kws(args)


def _one_line(error: Exception) -> str:
    """An error as the user reads it: a design report is one block (every violation on its
    line), anything else its first line."""
    from synnet_triton.xylo.design import DesignError

    text = str(error).strip()
    if isinstance(error, DesignError):
        return text
    return text.splitlines()[0] if text else repr(error)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``synnet-triton`` console script; returns the exit status.

    A user's mistake (a bad option value, a missing file, a device or backend this machine
    does not have, data the loader cannot read, an extra that is not installed) and a
    failed write (a full disk) are one line on stderr and exit status 2; a run that
    diverged is one line and exit status :data:`DIVERGED`; ``--debug`` shows the traceback
    instead.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "bench":
        from synnet_triton.cli.tools import command_bench

        return command_bench(extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return _dispatch(args)
    except ModuleNotFoundError as error:
        if args.debug or (error.name or "").split(".")[0] not in KWS_EXTRA:
            raise
        print(f"synnet-triton {args.command}: error: needs {error.name}, which the [kws] extra "
              "installs: pip install 'synnet-triton[kws]'", file=sys.stderr)
        return 2
    except (ValueError, OSError) as error:
        if args.debug:
            raise
        print(f"synnet-triton {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        from synnet_triton.kws.training import TrainingDiverged

        if args.debug or not isinstance(error, TrainingDiverged):
            raise
        print(f"synnet-triton {args.command}: error: {error}", file=sys.stderr)
        return DIVERGED
