"""The ``synnet-triton`` command line: demo, train, eval, detect, bench, kernels, info.

This package only parses (:mod:`synnet_triton.cli.parser`) and hands each command to the
layer that does it: the keyword-spotting application (:mod:`synnet_triton.kws.commands`,
which needs the ``[kws]`` extra), the benchmark harness, the compiled-code report.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from synnet_triton.cli.parser import build_parser

__all__ = ["main", "build_parser"]

KWS_EXTRA = frozenset({"soundfile", "scipy", "matplotlib", "tqdm", "h5py"})
"""Top-level modules of the ``[kws]`` extra: a command that misses one says which extra."""


def _kws_command(name: str) -> Callable[[argparse.Namespace], int]:
    from synnet_triton.kws import commands

    return {"demo": commands.command_demo, "train": commands.command_train,
            "eval": commands.command_eval, "detect": commands.command_detect}[name]


def _dispatch(args: argparse.Namespace) -> int:
    from synnet_triton.cli import tools

    if args.command == "info":
        print(json.dumps(tools.info(), indent=2))
        return 0
    if args.command == "kernels":
        return tools.command_kernels(args)
    return _kws_command(args.command)(args)


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
    does not have, data the loader cannot read, an extra that is not installed) is one line
    on stderr and exit status 2; ``--debug`` shows the traceback instead.
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
    except ValueError as error:
        if args.debug:
            raise
        print(f"synnet-triton {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
