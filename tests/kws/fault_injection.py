"""Run ``synnet-triton`` with a fault injected at a chosen file-system call (the fault-
injection tests start it as a child process; it is not a test module).

    python fault_injection.py MODE K CLI-ARGUMENTS...

MODE (K counts the calls of the patched function, from 1):
    count                 no fault; the last stderr line is "calls replace=R fsync=F"
    kill-before-replace   SIGKILL just before the K-th os.replace (a file fully written
                          under its temporary name, not yet in place)
    kill-after-replace    SIGKILL just after the K-th os.replace
    enospc-fsync          the K-th os.fsync of a file's content fails with ENOSPC, as on a
                          full disk (a folder's fsync writes no data, so none is counted)
    hold-after-replace    after the K-th os.replace, wait until the file named by the
                          environment variable RELEASE exists (a run caught mid-way)
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import sys
import time
from pathlib import Path
from typing import Any

calls = {"replace": 0, "fsync": 0}
real_replace, real_fsync = os.replace, os.fsync


def _replace(mode: str, k: int) -> Any:
    def replace(*args: Any, **kwargs: Any) -> None:
        calls["replace"] += 1
        hit = calls["replace"] == k
        if hit and mode == "kill-before-replace":
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(*args, **kwargs)
        if hit and mode == "kill-after-replace":
            os.kill(os.getpid(), signal.SIGKILL)
        if hit and mode == "hold-after-replace":
            release = Path(os.environ["RELEASE"])
            while not release.exists():
                time.sleep(0.05)
    return replace


def _fsync(mode: str, k: int) -> Any:
    def fsync(descriptor: int) -> None:
        if stat.S_ISREG(os.fstat(descriptor).st_mode):
            calls["fsync"] += 1
        if mode == "enospc-fsync" and calls["fsync"] == k and stat.S_ISREG(
                os.fstat(descriptor).st_mode):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(descriptor)
    return fsync


def main() -> int:
    mode, k, arguments = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    os.replace = _replace(mode, k)  # type: ignore[assignment]
    os.fsync = _fsync(mode, k)  # type: ignore[assignment]
    from synnet_triton.cli import main as cli

    status = cli(arguments)
    if mode == "count":
        print(f"calls replace={calls['replace']} fsync={calls['fsync']}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
