"""The ``--data`` / ``--test-data`` rule: with ``--data`` alone every fifth clip of the
folder (in class, then file-name order: positions 4, 9, 14, …) is held out; with
``--test-data`` too, nothing is held out of ``--data`` and the second folder is the test set."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from synnet_triton.kws.data import EventSet
from synnet_triton.kws.data_sources import held_out_set, load_sets, split_every_fifth
from synnet_triton.kws.options import DataOptions, HeldOutOverrides

RATE = 16_000


def test_every_fifth_clip_is_held_out() -> None:
    events = torch.arange(12, dtype=torch.uint8).reshape(12, 1, 1).expand(12, 3, 2).clone()
    everything = EventSet(events, torch.arange(12) % 3, ["a", "b", "c"])
    train, test = split_every_fifth(everything)
    assert test.events[:, 0, 0].tolist() == [4, 9]
    assert train.events[:, 0, 0].tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 10, 11]
    assert test.labels.tolist() == [1, 0] and train.class_names == ["a", "b", "c"]


def _folder(root: Path, per_class: int, frequencies: dict[str, float]) -> Path:
    """Clip k of each class is a tone whose loudness encodes k (to identify it later)."""
    for name, hz in frequencies.items():
        (root / name).mkdir(parents=True)
        for k in range(per_class):
            tone = (0.05 + 0.05 * k) * np.sin(2 * np.pi * hz * np.arange(RATE // 10) / RATE)
            soundfile.write(str(root / name / f"clip{k}.wav"), tone, RATE, subtype="FLOAT")
    return root


def _args(data: Path, test_data: Path | None) -> DataOptions:
    return DataOptions(data=data, test_data=test_data, seconds=0.1)


def _load(options: DataOptions) -> tuple:
    return load_sets(options, progress=False)


SYNTHETIC = DataOptions(classes=3, train_clips=6, test_clips=4, data_seed=2)


def test_data_alone_is_split_four_to_one_in_folder_order(tmp_path: Path) -> None:
    data = _folder(tmp_path / "words", 5, {"a": 400.0, "b": 3000.0})
    train, test, source = _load(_args(data, None))
    assert len(train) == 8 and len(test) == 2
    # positions 4 and 9 of [a/clip0..4, b/clip0..4]: the last clip of each class
    assert test.labels.tolist() == [0, 1]
    loudest = [int(e.double().sum()) for e in train.events]
    assert max(loudest) < min(int(e.double().sum()) for e in test.events)
    assert source["test_data"] is None


def test_a_test_folder_leaves_the_data_whole(tmp_path: Path) -> None:
    data = _folder(tmp_path / "words", 5, {"a": 400.0, "b": 3000.0})
    other = _folder(tmp_path / "held", 2, {"a": 400.0, "b": 3000.0})
    train, test, source = _load(_args(data, other))
    assert len(train) == 10 and len(test) == 4
    assert source["test_data"] == str(other)


def test_test_folder_classes_must_match(tmp_path: Path) -> None:
    data = _folder(tmp_path / "words", 2, {"a": 400.0, "b": 3000.0})
    other = _folder(tmp_path / "held", 2, {"a": 400.0, "c": 3000.0})
    with pytest.raises(ValueError, match="classes"):
        _load(_args(data, other))


def _eval_args() -> HeldOutOverrides:
    return HeldOutOverrides()


def test_eval_remakes_the_held_out_set_from_the_recorded_source(tmp_path: Path) -> None:
    data = _folder(tmp_path / "words", 5, {"a": 400.0, "b": 3000.0})
    _, test, source = _load(_args(data, None))
    again = held_out_set(source, _eval_args(), ["a", "b"])
    assert torch.equal(again.events, test.events) and torch.equal(again.labels, test.labels)
    _, test, source = _load(SYNTHETIC)
    assert source["kind"] == "synthetic" and source["seconds"] == 0.5
    again = held_out_set(source, _eval_args(), test.class_names)
    assert torch.equal(again.events, test.events) and torch.equal(again.labels, test.labels)


def test_eval_overrides_replace_what_the_source_recorded(tmp_path: Path) -> None:
    data = _folder(tmp_path / "words", 5, {"a": 400.0, "b": 3000.0})
    other = _folder(tmp_path / "other", 3, {"a": 400.0, "b": 3000.0})
    _, _, source = _load(_args(data, other))
    assert len(held_out_set(source, _eval_args(), ["a", "b"])) == 6  # the recorded --test-data
    override = HeldOutOverrides(data=data, seconds=0.05)
    replaced = held_out_set(source, override, ["a", "b"])
    assert len(replaced) == 10 and replaced.events.shape[1] == 50
    _, test, source = _load(SYNTHETIC)
    reseeded = held_out_set(source, HeldOutOverrides(data_seed=5), test.class_names)
    assert not torch.equal(reseeded.events, test.events)


def test_eval_cuts_a_test_folder_of_longer_clips_to_the_training_length(tmp_path: Path) -> None:
    data = _folder(tmp_path / "words", 5, {"a": 400.0, "b": 3000.0})  # 0.1 s clips
    held = tmp_path / "held"
    for name, hz in (("a", 400.0), ("b", 3000.0)):
        (held / name).mkdir(parents=True)
        tone = 0.1 * np.sin(2 * np.pi * hz * np.arange(RATE // 4) / RATE)  # 0.25 s
        soundfile.write(str(held / name / "long.wav"), tone, RATE, subtype="FLOAT")
    train, test, source = _load(DataOptions(data=data, test_data=held))
    assert test.events.shape[1] == train.events.shape[1] == 100
    again = held_out_set(source, _eval_args(), ["a", "b"])
    assert torch.equal(again.events, test.events)


def test_both_parts_of_the_split_keep_the_class_names_and_the_source(tmp_path: Path) -> None:
    data = _folder(tmp_path / "words", 5, {"a": 400.0, "b": 3000.0})
    train, test, _ = _load(_args(data, None))
    for part in (train, test):
        assert part.class_names == ["a", "b"]
        assert part.source is not None and part.source.seconds == pytest.approx(0.1)


def test_load_sets_crops_to_seconds_and_prints_what_it_found(tmp_path: Path, capsys) -> None:
    data = _folder(tmp_path / "words", 5, {"a": 400.0, "b": 3000.0})  # 0.1 s clips
    other = _folder(tmp_path / "held", 2, {"a": 400.0, "b": 3000.0})
    train, test, source = _load(replace(_args(data, other), seconds=0.05))
    assert train.events.shape[1] == test.events.shape[1] == 50
    assert source["seconds"] == pytest.approx(0.05)
    printed = capsys.readouterr().out
    assert printed.count("2 classes") == 2 and str(data) in printed and str(other) in printed


def test_unreadable_files_stop_the_load_unless_skipped(tmp_path: Path) -> None:
    data = _folder(tmp_path / "words", 5, {"a": 400.0, "b": 3000.0})
    other = _folder(tmp_path / "held", 2, {"a": 400.0, "b": 3000.0})
    for folder in (data, other):
        (folder / "a" / "broken.wav").write_bytes(b"not audio")
    for test_data in (None, other):
        with pytest.raises(ValueError, match="broken.wav"):
            _load(_args(data, test_data))
    skipping = replace(_args(data, other), skip_unreadable=True)
    with pytest.warns(UserWarning, match="skipped .*broken.wav"):
        train, test, _ = _load(skipping)
    assert len(train) == 10 and len(test) == 4


@pytest.mark.parametrize("no_progress", [True, False])
def test_the_synthetic_sets_are_drawn_from_seeds_2s_and_2s_plus_1(no_progress) -> None:
    from synnet_triton.kws.data import KeywordSetConfig, synthetic_event_set

    options = replace(SYNTHETIC, data_seed=3)
    train, test, source = load_sets(options, progress=not no_progress)
    words = KeywordSetConfig(n_classes=3, seconds=0.5)
    assert torch.equal(train.events, synthetic_event_set(6, 6, words).events)
    assert torch.equal(test.events, synthetic_event_set(4, 7, words).events)
    assert source == {"kind": "synthetic", "classes": 3, "seconds": 0.5, "train_clips": 6,
                      "test_clips": 4, "data_seed": 3}


def test_eval_crops_the_recorded_split_and_overrides_the_clip_count(tmp_path: Path) -> None:
    data = _folder(tmp_path / "words", 5, {"a": 400.0, "b": 3000.0})
    _, _, source = _load(_args(data, None))
    cropped = held_out_set(source, HeldOutOverrides(seconds=0.05), ["a", "b"])
    assert len(cropped) == 2 and cropped.events.shape[1] == 50
    _, _, source = _load(SYNTHETIC)
    fewer = held_out_set(source, HeldOutOverrides(test_clips=2),
                         [f"word{k}" for k in range(SYNTHETIC.classes)])
    assert len(fewer) == 2


def test_data_that_is_not_a_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ValueError, match=rf"^--data {missing}: not a directory \(nor an "
                                         r"\.h5 spike file\)$"):
        _load(_args(missing, None))
