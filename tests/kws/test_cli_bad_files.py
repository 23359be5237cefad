"""Every bad file and path a user can hand the CLI is answered in one line on stderr with
exit status 2, never a traceback and never advice to load with ``weights_only=False``:
files that are not checkpoints, checkpoints that are damaged, newer or carry values that
would mislead ``eval``, recordings that cannot be read, held-out folders with other classes
(mapped by name, never by index), one-class folders; class names are printed escaped.

One WAV run (tones, three classes, one named with an ANSI escape) serves the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

ESCAPED = "\x1b[31mzero"
"""A class folder whose name would turn a terminal red if printed raw."""
TONES = {"one": 400.0, "two": 1500.0, ESCAPED: 3500.0}
RUN = ["--hidden", "8", "--epochs", "1", "--no-progress", "--device", "cpu"]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    return subprocess.run([sys.executable, "-m", "synnet_triton.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def _tones(root: Path, names: list[str], clips: int = 5) -> Path:
    for name in names:
        (root / name).mkdir(parents=True)
        for k in range(clips):
            t = np.arange(1600) / 16_000
            tone = (0.1 + 0.05 * k) * np.sin(2 * np.pi * TONES[name] * t)
            soundfile.write(str(root / name / f"{k}.wav"), tone, 16_000)
    return root


def _one_line(result: subprocess.CompletedProcess[str], command: str, *words: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith(f"synnet-triton {command}: error: "), line
    assert "Traceback" not in result.stderr and "weights_only=False" not in result.stderr
    for word in words:
        assert word in line, (word, line)
    return line


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wav")
    data = _tones(root / "words", list(TONES))
    result = _cli("train", "--out", "run", "--data", str(data), *RUN, cwd=root)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout + result.stderr  # the folder summary, escaped
    assert "\\x1b[31mzero" in result.stdout
    return root


def _variant(trained: Path, name: str, change: object) -> Path:
    payload = torch.load(trained / "run" / "checkpoint.pt", weights_only=True)
    change(payload)  # type: ignore[operator]
    path = trained / f"{name}.pt"
    torch.save(payload, path)
    return path


def test_eval_prints_class_names_escaped(trained: Path) -> None:
    result = _cli("eval", "run/checkpoint.pt", "--no-progress", cwd=trained)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\\x1b[31mzero" in result.stdout


@pytest.mark.parametrize("content, words", [
    (b"", "empty"),
    (b"hello, I am text\n", "not a torch file"),
])
def test_eval_of_a_file_that_is_not_a_checkpoint(trained: Path, content: bytes,
                                                 words: str) -> None:
    (trained / "bad.pt").write_bytes(content)
    _one_line(_cli("eval", "bad.pt", cwd=trained), "eval", "bad.pt", words)


def test_eval_of_a_truncated_checkpoint(trained: Path) -> None:
    whole = (trained / "run" / "checkpoint.pt").read_bytes()
    (trained / "cut.pt").write_bytes(whole[: len(whole) * 2 // 3])
    _one_line(_cli("eval", "cut.pt", cwd=trained), "eval", "cut.pt", "truncated")


def test_eval_of_another_torch_file_names_the_missing_key(trained: Path) -> None:
    torch.save({"a": 1}, trained / "other.pt")
    _one_line(_cli("eval", "other.pt", cwd=trained), "eval", "lacks 'network'")


def test_eval_of_pickled_code_refuses_without_running_it(trained: Path) -> None:
    torch.save({"network": {}, "state_dict": {}, "extra": {}, "hook": os.getcwd},
               trained / "evil.pt")
    _one_line(_cli("eval", "evil.pt", cwd=trained), "eval", "is not loaded")


def test_eval_of_a_newer_format_asks_for_an_upgrade(trained: Path) -> None:
    path = _variant(trained, "newer", lambda p: p.update(format=99))
    _one_line(_cli("eval", path.name, cwd=trained), "eval", "format 99", "upgrade")


def test_eval_of_a_diverged_network_is_refused(trained: Path) -> None:
    def poison(payload: dict) -> None:
        name = next(k for k, v in payload["state_dict"].items() if v.is_floating_point())
        payload["state_dict"][name] = torch.full_like(payload["state_dict"][name], np.nan)

    path = _variant(trained, "nan", poison)
    _one_line(_cli("eval", path.name, cwd=trained), "eval", "NaN or infinite")


@pytest.mark.parametrize("source, words", [
    ({"kind": "wav", "data": "/no/such/folder", "test_data": None, "seconds": 0.1},
     "no longer exists"),
    ({"kind": "synthetic", "classes": 3, "seconds": 0.5, "test_clips": 10**9,
      "data_seed": 0}, "test_clips = 1000000000"),
    ({"kind": "synthetic", "classes": 3, "seconds": 1e9, "test_clips": 4, "data_seed": 0},
     "seconds = 1000000000.0"),
    ({"kind": "hdf5"}, "no data source"),
])
def test_eval_checks_what_the_checkpoint_asks_it_to_remake(trained: Path, source: dict,
                                                            words: str) -> None:
    path = _variant(trained, "source", lambda p: p["extra"].update(source=source))
    _one_line(_cli("eval", path.name, "--no-progress", cwd=trained), "eval", words)


def test_a_recorded_folder_of_other_classes_is_refused_before_reading_it(trained: Path,
                                                                         ) -> None:
    """A checkpoint whose recorded data folder is /etc: refused naming a few of its folders,
    not read class by class."""
    source = {"kind": "wav", "data": "/etc", "test_data": None, "seconds": 0.1}
    path = _variant(trained, "etc", lambda p: p["extra"].update(source=source))
    line = _one_line(_cli("eval", path.name, "--no-progress", cwd=trained), "eval",
                     "the checkpoint's data folder /etc: classes", "are not the checkpoint's")
    assert "more" in line or line.count("'") <= 2 * (5 + 3)


def test_eval_data_with_another_class_is_refused_naming_both_lists(trained: Path) -> None:
    other = _tones(trained / "other", ["one", "two"])
    (other / "two").rename(other / "three")
    line = _one_line(_cli("eval", "run/checkpoint.pt", "--data", str(other), "--no-progress",
                          cwd=trained), "eval", "['three']", "'one', 'two'")
    assert "\x1b" not in line


def test_eval_data_with_fewer_classes_is_mapped_by_name(trained: Path) -> None:
    """A folder of only the escaped class and ``two/``: their clips carry the checkpoint's
    indices of those names (0 and 2 of [ESC zero, one, two]; by index they would be 0, 1)."""
    fewer = _tones(trained / "fewer", ["two", ESCAPED], clips=3)
    result = _cli("eval", "run/checkpoint.pt", "--data", str(fewer), "--no-progress",
                  "--json", "fewer.json", cwd=trained)
    assert result.returncode == 0, result.stderr
    report = json.loads((trained / "fewer.json").read_text())
    assert report["class_names"] == sorted(TONES)
    names = sorted(TONES)
    assert names.index(ESCAPED) == 0 and names.index("two") == 2
    assert report["labels"] == [0] * 3 + [2] * 3


def test_a_one_class_folder_is_refused(trained: Path) -> None:
    single = _tones(trained / "single", ["one"])
    _one_line(_cli("train", "--out", "single-run", "--data", str(single), *RUN, cwd=trained),
              "train", "one class", "at least two")


@pytest.mark.parametrize("content", [b"", b"not audio at all\n"])
def test_detect_of_a_recording_that_cannot_be_read(trained: Path, content: bytes) -> None:
    (trained / "broken.wav").write_bytes(content)
    _one_line(_cli("detect", "run/checkpoint.pt", "broken.wav", cwd=trained), "detect",
              "broken.wav: cannot read audio")


def test_eval_says_when_the_summary_describes_another_checkpoint(trained: Path) -> None:
    """The finished run's files swapped by hand: the summary's SHA-256 no longer matches."""
    generation = (trained / "run" / "checkpoint.pt").resolve().parent
    copy = trained / "copied"
    copy.mkdir()
    (copy / "summary.json").write_bytes((generation / "summary.json").read_bytes())
    path = _variant(trained, "changed", lambda p: p["extra"].update(float_accuracy=0.0))
    (copy / "checkpoint.pt").write_bytes(path.read_bytes())
    result = _cli("eval", "copied/checkpoint.pt", "--no-progress", cwd=trained)
    assert result.returncode == 0, result.stderr
    assert "describes another checkpoint" in result.stderr
    clean = _cli("eval", "run/checkpoint.pt", "--no-progress", cwd=trained)
    assert "describes another" not in clean.stderr


@pytest.mark.parametrize("args, words", [
    (["train", "--resume", "nowhere", "--force"], "give one"),
    (["train", "--out", "a", "--resume", "b"], "names another"),
    (["train"], "--out"),
    (["train", "--out", "x", "--lr", "nan"], "lr must be finite"),
])
def test_run_folder_options_that_contradict_are_refused(tmp_path: Path, args: list[str],
                                                       words: str) -> None:
    _one_line(_cli(*args, "--no-progress", cwd=tmp_path), "train", words)
