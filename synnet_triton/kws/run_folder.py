"""The folder a training run writes: one run at a time, a finished run's files replaced all at
once, and the unfinished run's state kept for ``--resume``.

A finished run is several files (checkpoint, summary, plots). Replacing them one by one, a
kill between two renames leaves a new checkpoint beside an old summary, so each finished run
is written into a generation folder of its own and one rename of the ``current`` link makes
it the run in force (POSIX ``rename`` replaces a link atomically)::

    OUT/.lock                    held (flock) while a command writes into OUT
    OUT/progress.pt              the unfinished run's state after its last finished epoch
    OUT/outputs/<n>/             the files of one finished run
    OUT/current -> outputs/<n>   the finished run in force
    OUT/checkpoint.pt -> current/checkpoint.pt   (and summary.json, the plots)

Every file is written to a temporary name in its folder, flushed, fsynced and renamed into
place, so a kill or a full disk leaves the previous file whole.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Any

import torch
from filelock import FileLock, Timeout

__all__ = ["CHECKPOINT_NAME", "SUMMARY_NAME", "RunFolder", "RunFolderError", "atomic_write_bytes",
           "atomic_write_text"]

CHECKPOINT_NAME = "checkpoint.pt"
SUMMARY_NAME = "summary.json"
LOCK_NAME = ".lock"
PROGRESS_NAME = "progress.pt"
CURRENT_NAME = "current"
OUTPUTS_NAME = "outputs"
TEMPORARY_SUFFIX = ".partial"


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked: a file, not writable, full, in use by
    another run, holding a run that was not to be replaced, or nothing to resume."""


def _fsync_folder(folder: Path) -> None:
    """Make the folder's entries (a rename, a new file) durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``: all of it or, after a kill or a failed write, the file that
    was there before (a ``.partial`` temporary in the same folder is renamed over it)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}{TEMPORARY_SUFFIX}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _replace_link(link: Path, target: str) -> None:
    """Point the symbolic link ``link`` at ``target`` in one rename."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}{TEMPORARY_SUFFIX}")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, link)


def _no_space(error: OSError) -> bool:
    return error.errno in (errno.ENOSPC, errno.EDQUOT)


class RunFolder:
    """``root`` opened for one run: locked, checked, and holding at most one finished run.

    Use :meth:`open`; as a context manager the lock is released on exit (and by the kernel
    if the process dies).
    """

    def __init__(self, root: Path, lock: FileLock) -> None:
        self.root = root
        self._lock = lock

    @classmethod
    def open(cls, root: Path, *, resume: bool = False, force: bool = False,
             needs_bytes: int = 0) -> RunFolder:
        """Create and lock ``root`` before any work is done.

        Raises RunFolderError (naming ``root``) when it is a file, cannot be written, has
        less than ``needs_bytes`` free, is locked by another run, holds a run and neither
        ``resume`` nor ``force`` is given, or ``resume`` finds no unfinished run.
        """
        if root.exists() and not root.is_dir():
            raise RunFolderError(f"--out {root}: is a file, not a folder")
        if resume and not root.is_dir():
            raise RunFolderError(f"--resume {root}: no such folder")
        try:
            root.mkdir(parents=True, exist_ok=True)
            lock = FileLock(root / LOCK_NAME, timeout=0)
            lock.acquire()
        except Timeout:
            raise RunFolderError(f"--out {root}: another run is writing into this folder "
                                 "(it holds the lock); wait for it or choose another "
                                 "folder") from None
        except OSError as error:
            raise RunFolderError(f"--out {root}: cannot write there ({error.strerror})") from None
        folder = cls(root, lock)
        try:
            folder._check(resume, force, needs_bytes)
        except BaseException:
            lock.release()
            raise
        return folder

    def _check(self, resume: bool, force: bool, needs_bytes: int) -> None:
        free = shutil.disk_usage(self.root).free
        if free < needs_bytes:
            raise RunFolderError(f"--out {self.root}: {free / 2**20:.1f} MiB free, a run "
                                 f"needs about {needs_bytes / 2**20:.1f} MiB")
        self._remove_leftovers()
        if resume and not self.progress_path.is_file():
            finished = " (its run finished)" if self.holds_run else ""
            raise RunFolderError(f"--resume {self.root}: no unfinished run to resume"
                                 f"{finished}")
        if self.holds_run and not (resume or force):
            raise RunFolderError(f"--out {self.root}: holds a run already; --resume continues "
                                 "an unfinished one, --force replaces it")
        if force and not resume:
            self.progress_path.unlink(missing_ok=True)

    @property
    def progress_path(self) -> Path:
        return self.root / PROGRESS_NAME

    @property
    def holds_run(self) -> bool:
        """Whether a finished or an unfinished run is in the folder."""
        return ((self.root / CURRENT_NAME).is_symlink() or self.progress_path.is_file()
                or (self.root / CHECKPOINT_NAME).exists() or (self.root / SUMMARY_NAME).exists())

    def _generations(self) -> list[Path]:
        outputs = self.root / OUTPUTS_NAME
        if not outputs.is_dir():
            return []
        return sorted((path for path in outputs.iterdir() if path.name.isdigit()),
                      key=lambda path: int(path.name))

    def _current(self) -> Path | None:
        link = self.root / CURRENT_NAME
        return (self.root / os.readlink(link)) if link.is_symlink() else None

    def _remove_leftovers(self) -> None:
        """Temporaries and generations that a killed command left unfinished or superseded."""
        for stray in self.root.glob(f".*{TEMPORARY_SUFFIX}"):
            stray.unlink(missing_ok=True)
        current = self._current()
        for generation in self._generations():
            if current is None or generation.resolve() != current.resolve():
                shutil.rmtree(generation, ignore_errors=True)

    def stage(self) -> Path:
        """A new, empty generation folder to write a finished run's files into; nothing there
        is in force until :meth:`commit`."""
        generations = self._generations()
        number = int(generations[-1].name) + 1 if generations else 1
        path = self.root / OUTPUTS_NAME / str(number)
        path.mkdir(parents=True)
        return path

    def commit(self, staged: Path) -> None:
        """Make the generation ``staged`` the run in force, in one rename: its files get
        links of the same names in the folder, links to files it lacks go, and the
        unfinished run's progress and the previous generation are removed."""
        try:
            for path in staged.iterdir():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
            _fsync_folder(staged)
            _fsync_folder(staged.parent)
            previous = self._current()
            _replace_link(self.root / CURRENT_NAME, f"{OUTPUTS_NAME}/{staged.name}")
            names = {path.name for path in staged.iterdir()}
            for name in names:
                link = self.root / name
                if not link.is_symlink():
                    _replace_link(link, f"{CURRENT_NAME}/{name}")
            for link in self.root.iterdir():
                target = os.readlink(link) if link.is_symlink() else ""
                if target.startswith(f"{CURRENT_NAME}/") and link.name not in names:
                    link.unlink()
            _fsync_folder(self.root)
        except OSError as error:
            raise self._write_error(error, staged) from None
        self.progress_path.unlink(missing_ok=True)
        if previous is not None and previous.resolve() != staged.resolve():
            shutil.rmtree(previous, ignore_errors=True)

    def _write_error(self, error: OSError, path: Path) -> RunFolderError:
        why = "the disk is full" if _no_space(error) else (error.strerror or str(error))
        return RunFolderError(f"writing {path}: {why}; the run in force in {self.root} and "
                              "its progress are as they were")

    def save_progress(self, state: dict[str, Any]) -> None:
        """Replace the unfinished run's state with ``state`` (a ``torch.save``-able dict of
        tensors, numbers, strings, lists and dicts)."""
        buffer = io.BytesIO()
        torch.save(state, buffer)
        try:
            atomic_write_bytes(self.progress_path, buffer.getvalue())
        except OSError as error:
            raise self._write_error(error, self.progress_path) from None

    def load_progress(self) -> dict[str, Any]:
        """The unfinished run's state; RunFolderError when it cannot be read."""
        try:
            state = torch.load(self.progress_path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises several types for a damaged file
            raise RunFolderError(f"--resume {self.root}: {PROGRESS_NAME} cannot be read "
                                 f"({type(error).__name__}); train again with --force"
                                 ) from None
        if not isinstance(state, dict):
            raise RunFolderError(f"--resume {self.root}: {PROGRESS_NAME} is not a run's "
                                 "state; train again with --force")
        return state

    def close(self) -> None:
        self._lock.release()

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
