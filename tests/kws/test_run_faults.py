"""Runs that never lose work, tried as a user's machine would try them: ``train`` killed
(SIGKILL) before and after every rename it makes, and failing with ENOSPC at every fsync,
while it replaces a finished run with ``--force``. After each fault the folder must hold
either the previous finished run or the new one, whole (the checkpoint loads and the summary
names its SHA-256); ``--resume`` must then end with the checkpoint of the uninterrupted run,
byte for byte. Two runs into one folder: the second exits 2 at once.

The faults are injected in a child process by ``fault_injection.py`` (os.replace and
os.fsync wrapped); the oracle is the same run uninterrupted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from synnet_triton.kws.checkpoint import file_sha256, load_checkpoint

INJECT = Path(__file__).with_name("fault_injection.py")
RUN = ["--classes", "2", "--train-clips", "16", "--test-clips", "8", "--hidden", "8",
       "--epochs", "2", "--seconds", "0.5", "--no-progress", "--device", "cpu",
       "--backend", "torch"]
HARDWARE = ["--hardware-aware", "--hardware-epochs", "2"]
RESUME = ["--no-progress", "--device", "cpu", "--backend", "torch"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synnet_triton.cli", *args],
                          capture_output=True, text=True, env=_env(), timeout=300)


def _inject(mode: str, k: int, *args: str, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(INJECT), mode, str(k), *args],
                          capture_output=True, text=True, env=env or _env(), timeout=300)


def _run_in_force(out: Path) -> str:
    """SHA-256 of the finished run in ``out``, after checking it is whole."""
    summary = json.loads((out / "summary.json").read_text())
    sha = file_sha256(out / "checkpoint.pt")
    assert summary["checkpoint_sha256"] == sha, "the summary describes another checkpoint"
    load_checkpoint(out / "checkpoint.pt")
    for plot in summary["plots"]:
        assert Path(plot).is_file(), plot
    return sha


class Campaign:
    """A folder holding a finished run (seed 1) and the checkpoint the replacing run
    (seed 0, with ``extra`` options) writes when nothing goes wrong."""

    def __init__(self, root: Path, extra: list[str]) -> None:
        self.root, self.extra = root, extra
        self.previous = root / "previous"
        done = _cli("train", "--out", str(self.previous), *RUN, *extra, "--seed", "1")
        assert done.returncode == 0, done.stderr
        self.previous_sha = _run_in_force(self.previous)
        reference = self.copy("reference")
        counted = _inject("count", 0, "train", "--out", str(reference), "--force", *RUN, *extra)
        assert counted.returncode == 0, counted.stderr
        self.final_sha = _run_in_force(reference)
        assert self.final_sha != self.previous_sha
        words = dict(part.split("=") for part in counted.stderr.splitlines()[-1].split()[1:])
        self.calls = {name: int(count) for name, count in words.items()}

    def copy(self, name: str) -> Path:
        out = self.root / name
        shutil.copytree(self.previous, out, symlinks=True)
        return out

    def fault(self, mode: str, k: int) -> str:
        """Inject, check the folder, resume, check the end; '' or what went wrong."""
        out = self.copy(f"{mode}-{k}")
        faulted = _inject(mode, k, "train", "--out", str(out), "--force", *RUN, *self.extra)
        problems = []
        if mode.startswith("kill") and faulted.returncode != -9:
            problems.append(f"not killed (status {faulted.returncode})")
        if mode == "enospc-fsync":
            lines = faulted.stderr.strip().splitlines()
            full = ("No space left" in lines[-1] or "the disk is full" in lines[-1])
            if faulted.returncode != 2 or not full or len(lines) != 1 or any(
                    "Traceback" in line for line in lines):
                problems.append(f"ENOSPC not one line and exit 2: {faulted.stderr[-300:]}")
        try:
            in_force = _run_in_force(out)
        except Exception as error:  # noqa: BLE001 - any failure here is the finding
            return f"{mode} {k}: the folder holds no whole run ({error})"
        if in_force not in (self.previous_sha, self.final_sha):
            problems.append("the run in force is neither the previous nor the new one")
        resumed = _cli("train", "--resume", str(out), *RESUME)
        if resumed.returncode == 0:
            if _run_in_force(out) != self.final_sha:
                problems.append("the resumed run's checkpoint differs from the uninterrupted")
        elif "no unfinished run" not in resumed.stderr or _run_in_force(out) != in_force:
            problems.append(f"resume failed: {resumed.stderr[-300:]}")
        elif in_force == self.previous_sha and (out / "progress.pt").exists():
            problems.append("progress left but not resumed")
        return "; ".join(f"{mode} {k}: {p}" for p in problems)

    def sweep(self, modes: list[str]) -> list[str]:
        faults = [(mode, k) for mode in modes
                  for k in range(1, self.calls["fsync" if "fsync" in mode else "replace"] + 1)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            found = list(pool.map(lambda fault: self.fault(*fault), faults))
        return [problem for problem in found if problem]


def test_float_training_survives_a_kill_at_every_rename_and_a_full_disk_at_every_fsync(
        tmp_path: Path) -> None:
    campaign = Campaign(tmp_path, [])
    assert campaign.calls["replace"] >= 7  # 3 progress saves, 3 files, the switch
    problems = campaign.sweep(["kill-before-replace", "kill-after-replace", "enospc-fsync"])
    assert not problems, "\n".join(problems)


def test_hardware_aware_training_survives_a_kill_after_every_rename(tmp_path: Path) -> None:
    campaign = Campaign(tmp_path, HARDWARE)
    problems = campaign.sweep(["kill-after-replace"])
    assert not problems, "\n".join(problems)


def test_a_second_run_into_the_same_folder_exits_2_at_once(tmp_path: Path) -> None:
    """The first run is held just after its first save (the folder locked, training not
    done); the second must refuse before reading any data, then the first finishes."""
    out, release = tmp_path / "out", tmp_path / "release"
    env = {**_env(), "RELEASE": str(release)}
    first = subprocess.Popen([sys.executable, str(INJECT), "hold-after-replace", "1", "train",
                              "--out", str(out), *RUN], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while not (out / "progress.pt").exists():
            assert first.poll() is None, first.communicate()
        for attempt in (["--force"], ["--resume", str(out)], []):
            args = ["train", "--out", str(out), *RUN] if attempt[:1] != ["--resume"] else [
                "train", *attempt, *RESUME]
            second = _cli(*(args + attempt if attempt == ["--force"] else args))
            assert second.returncode == 2, second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and "another run is writing into this folder" in lines[0]
            assert "epoch" not in second.stdout
    finally:
        release.touch()
        stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    _run_in_force(out)


@pytest.mark.parametrize("target", ["file", "below-a-file"])
def test_an_unusable_out_is_refused_before_any_data_is_read(tmp_path: Path,
                                                           target: str) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep")
    out = afile if target == "file" else afile / "run"
    result = _cli("train", "--out", str(out), *RUN)
    assert result.returncode == 2 and "epoch" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--out {out}" in lines[0]
    assert afile.read_text() == "keep"


def test_a_folder_holding_a_run_is_refused_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _cli("train", "--out", str(out), *RUN).returncode == 0
    before = _run_in_force(out)
    refused = _cli("train", "--out", str(out), *RUN, "--seed", "3")
    assert refused.returncode == 2 and "holds a run already" in refused.stderr
    assert _run_in_force(out) == before
    finished = _cli("train", "--resume", str(out), *RESUME)
    assert finished.returncode == 2 and "no unfinished run" in finished.stderr
    replaced = _cli("train", "--out", str(out), *RUN, "--seed", "3", "--force")
    assert replaced.returncode == 0 and _run_in_force(out) != before


def test_a_diverged_run_exits_3_in_one_line_and_keeps_the_run_in_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _cli("train", "--out", str(out), *RUN).returncode == 0
    before = _run_in_force(out)
    diverged = _cli("train", "--out", str(out), *RUN, "--init-gain", "1e38", "--force")
    assert diverged.returncode == 3, diverged.stderr
    last = diverged.stderr.strip().splitlines()[-1]
    assert last.startswith("synnet-triton train: error: training diverged at epoch 1, "
                           "batch 1: the loss is nan") and "--init-gain" in last
    assert "Traceback" not in diverged.stderr
    assert _run_in_force(out) == before
    scored = _cli("eval", str(out / "checkpoint.pt"), "--no-progress", "--device", "cpu")
    assert scored.returncode == 0, scored.stderr
