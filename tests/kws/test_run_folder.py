"""The run folder on its own: atomic writes leave the old file whole when a write fails, a
folder opens for one run at a time and only as asked, and a commit swaps every file of a
finished run at once. Failures are injected by replacing ``os.fsync``/``os.replace``."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from filelock import FileLock

from synnet_triton.kws import run_folder
from synnet_triton.kws.run_folder import RunFolder, RunFolderError, atomic_write_bytes


def _full_disk(*args: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("fails", ["fsync", "replace"])
def test_a_failed_write_leaves_the_previous_file_and_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: str) -> None:
    path = tmp_path / "summary.json"
    atomic_write_bytes(path, b"old")
    monkeypatch.setattr(os, fails, _full_disk)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(path, b"new and longer")
    monkeypatch.undo()
    assert path.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [path]


def test_a_folder_is_refused_when_it_is_a_file_or_cannot_be_made(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(RunFolderError, match="is a file"):
        RunFolder.open(afile)
    with pytest.raises(RunFolderError, match="cannot write there"):
        RunFolder.open(afile / "below")
    assert afile.read_text() == "x"


def test_a_folder_without_room_for_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="MiB free"):
        RunFolder.open(tmp_path / "out", needs_bytes=1 << 62)


def test_a_second_opener_is_refused_at_once_while_the_first_holds_it(tmp_path: Path) -> None:
    with RunFolder.open(tmp_path / "out"):
        with pytest.raises(RunFolderError, match="another run is writing"):
            RunFolder.open(tmp_path / "out")
    RunFolder.open(tmp_path / "out").close()  # released on exit


def test_the_lock_is_the_one_other_tools_see(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with FileLock(out / run_folder.LOCK_NAME, timeout=0):
        with pytest.raises(RunFolderError, match="another run"):
            RunFolder.open(out)


def _commit(folder: RunFolder, files: dict[str, bytes]) -> Path:
    staged = folder.stage()
    for name, content in files.items():
        (staged / name).write_bytes(content)
    folder.commit(staged)
    return staged


def test_a_commit_swaps_every_file_at_once_and_drops_the_old_generation(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    with RunFolder.open(out) as folder:
        first = _commit(folder, {"checkpoint.pt": b"1", "summary.json": b"1", "clip.png": b"1"})
    assert (out / "clip.png").read_bytes() == b"1"
    with pytest.raises(RunFolderError, match="holds a run already"):
        RunFolder.open(out)
    with RunFolder.open(out, force=True) as folder:
        folder.save_progress({"epoch": 1})
        second = _commit(folder, {"checkpoint.pt": b"2", "summary.json": b"2"})
    assert (out / "checkpoint.pt").read_bytes() == (out / "summary.json").read_bytes() == b"2"
    assert not (out / "clip.png").is_symlink() and not (out / "clip.png").exists()
    assert not first.exists() and second.is_dir()
    assert not (out / run_folder.PROGRESS_NAME).exists()


def test_resume_needs_an_unfinished_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RunFolderError, match="no such folder"):
        RunFolder.open(out, resume=True)
    assert not out.exists()
    out.mkdir()
    with pytest.raises(RunFolderError, match="no unfinished run"):
        RunFolder.open(out, resume=True)
    with RunFolder.open(out, force=True) as folder:
        folder.save_progress({"epoch": 3})
    with pytest.raises(RunFolderError, match="holds a run already"):
        RunFolder.open(out)
    with RunFolder.open(out, resume=True) as folder:
        assert folder.load_progress() == {"epoch": 3}


def test_force_discards_an_unfinished_run_but_keeps_the_finished_one(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with RunFolder.open(out) as folder:
        _commit(folder, {"checkpoint.pt": b"1"})
    with RunFolder.open(out, force=True) as folder:
        folder.save_progress({"epoch": 1})
    with RunFolder.open(out, force=True):
        assert not (out / run_folder.PROGRESS_NAME).exists()
    assert (out / "checkpoint.pt").read_bytes() == b"1"


def test_leftovers_of_a_killed_command_are_cleared_on_open(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with RunFolder.open(out) as folder:
        _commit(folder, {"checkpoint.pt": b"1"})
        orphan = folder.stage()  # a generation never committed
        (orphan / "checkpoint.pt").write_bytes(b"half")
    (out / f".progress.pt.123{run_folder.TEMPORARY_SUFFIX}").write_bytes(b"half")
    with RunFolder.open(out, force=True):
        pass
    assert not orphan.exists()
    assert not list(out.glob(f".*{run_folder.TEMPORARY_SUFFIX}"))
    assert (out / "checkpoint.pt").read_bytes() == b"1"


def test_a_failed_commit_leaves_the_run_in_force(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    with RunFolder.open(out) as folder:
        _commit(folder, {"checkpoint.pt": b"1", "summary.json": b"1"})
    with RunFolder.open(out, force=True) as folder:
        folder.save_progress({"epoch": 2})
        monkeypatch.setattr(os, "fsync", _full_disk)
        with pytest.raises(RunFolderError, match="the disk is full; the run in force"):
            _commit(folder, {"checkpoint.pt": b"2", "summary.json": b"2"})
        monkeypatch.undo()
        assert folder.load_progress() == {"epoch": 2}
    assert (out / "checkpoint.pt").read_bytes() == (out / "summary.json").read_bytes() == b"1"


def test_a_progress_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / run_folder.PROGRESS_NAME).write_bytes(b"garbage")
    with RunFolder.open(out, resume=True) as folder:
        with pytest.raises(RunFolderError, match="cannot be read.*--force"):
            folder.load_progress()
