"""Google Speech Commands trees, on miniature trees written here in the official layout
(word folders of 1 s clips, ``_background_noise_/``, ``testing_list.txt`` and
``validation_list.txt``): the official split is honoured, validation clips are in neither
set, ``--words`` makes ``_unknown_`` and ``_silence_`` (from the noise, no crop shared between
the splits), and the CLI trains on such a tree and ``eval`` remakes its held-out set."""

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

from synnet_triton.kws.speech_commands import (
    SILENCE,
    UNKNOWN,
    is_speech_commands,
    load_speech_commands,
)

RATE = 16_000
WORDS = {"yes": 400.0, "no": 900.0, "up": 1500.0, "down": 2500.0}
CLIPS = 10


def _tree(root: Path, lists: bool = True, noise: bool = True) -> Path:
    """Clip k of a word is a tone of the word's pitch whose loudness is 0.01·(k + 1), so a
    clip is recognised by its peak. Clips 8 are in the test list, 9 in the validation list."""
    testing, validation = [], []
    for word, hz in WORDS.items():
        (root / word).mkdir(parents=True)
        for k in range(CLIPS):
            t = np.arange(RATE * 3 // 4) / RATE  # 0.75 s: padded to 1 s
            soundfile.write(str(root / word / f"{k:02d}.wav"),
                            0.01 * (k + 1) * np.sin(2 * np.pi * hz * t), RATE, subtype="FLOAT")
        testing.append(f"{word}/08.wav")
        validation.append(f"{word}/09.wav")
    if lists:
        (root / "testing_list.txt").write_text("\n".join(testing) + "\n")
        (root / "validation_list.txt").write_text("\n".join(validation) + "\n")
    if noise:
        (root / "_background_noise_").mkdir()
        ramp = np.linspace(0.0, 1.0, RATE * 10)  # amplitude says where in the recording
        soundfile.write(str(root / "_background_noise_" / "ramp.wav"), 0.5 * ramp, RATE,
                        subtype="FLOAT")
    return root


def _peaks(folder, name: str) -> list[float]:
    k = folder.class_names.index(name)
    rows = folder.audio[folder.labels == k]
    return sorted(round(float(row.abs().max()), 3) for row in rows)


def test_the_official_split_is_honoured_and_validation_kept_apart(tmp_path: Path) -> None:
    root = _tree(tmp_path / "sc")
    assert is_speech_commands(root)
    train = load_speech_commands(root, "train")
    test = load_speech_commands(root, "test")
    words = sorted(WORDS)
    assert train.class_names == test.class_names == sorted([*words, SILENCE])
    for word in words:
        assert _peaks(test, word) == [0.09]  # clip 08 only
        assert _peaks(train, word) == [round(0.01 * (k + 1), 3) for k in range(8)]
    assert train.audio.shape[1] == test.audio.shape[1] == RATE  # padded to 1 s


def test_words_make_unknown_and_silence_from_the_rest(tmp_path: Path) -> None:
    root = _tree(tmp_path / "sc")
    train = load_speech_commands(root, "train", ["yes", "no"], seed=3)
    test = load_speech_commands(root, "test", ["yes", "no"], seed=3)
    assert train.class_names == ["_silence_", "_unknown_", "no", "yes"]
    counts = torch.bincount(train.labels).tolist()
    assert counts == [8, 8, 8, 8]  # unknown and silence: as many as a word
    # unknown clips are training clips of up/down (peaks 0.01-0.08, never 0.09 or 0.10)
    assert set(_peaks(train, UNKNOWN)) <= {round(0.01 * (k + 1), 3) for k in range(8)}
    assert _peaks(test, UNKNOWN) == [0.09]  # one test clip of up or down: as many as a word
    # silence: crops of the ramp; training from its first 80 %, held out from the rest
    ramp_at_80 = 0.5 * 0.8
    assert max(_peaks(train, SILENCE)) <= ramp_at_80 + 1e-3
    test_silence = test.audio[test.labels == test.class_names.index(SILENCE)]
    starts = test_silence[:, 0].abs() / test_silence.abs().amax(dim=1)
    assert bool((starts > 0.7).all())  # each crop starts far into the ramp (gain cancels)
    again = load_speech_commands(root, "train", ["yes", "no"], seed=3)
    assert torch.equal(again.audio, train.audio)


def test_without_lists_every_fifth_clip_is_held_out(tmp_path: Path) -> None:
    root = _tree(tmp_path / "sc", lists=False)
    test = load_speech_commands(root, "test")
    assert _peaks(test, "yes") == [0.05, 0.1]  # clips 04 and 09


def test_unknown_words_and_other_trees_are_named(tmp_path: Path) -> None:
    root = _tree(tmp_path / "sc")
    with pytest.raises(ValueError, match=r"--words: \['maybe'\] not among.*'down'"):
        load_speech_commands(root, "train", ["yes", "maybe"])
    plain = tmp_path / "plain"
    (plain / "yes").mkdir(parents=True)
    assert not is_speech_commands(plain)
    with pytest.raises(ValueError, match="not a Speech Commands tree"):
        load_speech_commands(plain, "train")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    return subprocess.run([sys.executable, "-m", "synnet_triton.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def test_the_cli_trains_on_a_tree_and_eval_remakes_its_held_out_set(tmp_path: Path) -> None:
    root = _tree(tmp_path / "sc")
    trained = _cli("train", "--out", "run", "--data", str(root), "--words", "yes,no,up",
                   "--hidden", "8", "--epochs", "1", "--no-progress", "--device", "cpu",
                   cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "_background_noise_" not in trained.stdout.split("classes:")[1].splitlines()[0]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["test_clips"] == 3 + 1 + 1  # yes/no/up clip 08, down's as unknown, silence
    scored = _cli("eval", "run/checkpoint.pt", "--no-progress", "--json", "e.json",
                  cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["predictions"] == summary["float_predictions"]
    assert report["class_names"] == ["_silence_", "_unknown_", "no", "up", "yes"]
    plain = _cli("train", "--out", "run2", "--data", str(root / "yes"), "--words", "yes",
                 "--no-progress", cwd=tmp_path)
    assert plain.returncode == 2 and "not a Speech Commands tree" in plain.stderr
