"""Where a run's clips come from, and how ``eval`` remakes the held-out ones: the synthetic
keyword set, a WAV folder (every fifth clip held out, or ``--test-data``), a Google Speech
Commands tree, an SHD/SSC spike file; the held-out set remade from a checkpoint's recorded
source, with every recorded value checked and classes mapped by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from synnet_triton.kws.audio import FrontEndConfig
from synnet_triton.kws.data import (
    EventSet,
    KeywordSetConfig,
    audio_event_set,
    synthetic_event_set,
    wav_event_set,
)
from synnet_triton.kws.options import DataOptions, HeldOutOverrides
from synnet_triton.kws.speech_commands import is_speech_commands
from synnet_triton.kws.spike_files import is_spike_file

__all__ = ["held_out_set", "load_sets", "split_every_fifth"]

SYNTHETIC_SECONDS = 0.5
"""Clip length of the synthetic set unless ``--seconds`` says otherwise."""


def split_every_fifth(everything: EventSet) -> tuple[EventSet, EventSet]:
    """(training, held-out): every fifth clip (4, 9, 14, …) is held out."""
    held_out = torch.arange(len(everything)) % 5 == 4
    names, source = everything.class_names, everything.source
    return (
        EventSet(everything.events[~held_out], everything.labels[~held_out], names, source),
        EventSet(everything.events[held_out], everything.labels[held_out], names, source),
    )


def load_sets(options: DataOptions, progress: bool = True,
              ) -> tuple[EventSet, EventSet, dict[str, Any]]:
    """Training and held-out event sets, and a JSON-able description of how to remake them."""
    front_end = FrontEndConfig()
    if options.data is not None and is_spike_file(options.data):
        return _spike_sets(options)
    if options.data is not None:
        if not options.data.is_dir():
            raise ValueError(f"--data {options.data}: not a directory (nor an .h5 spike file)")
        if is_speech_commands(options.data):
            return _speech_commands_sets(options, front_end)
        if options.words is not None:
            raise ValueError(f"--words: --data {options.data} is not a Speech Commands tree "
                             "(it has no _background_noise_/ or testing_list.txt)")
        skip = options.skip_unreadable
        everything = wav_event_set(options.data, options.seconds, front_end, progress=progress,
                                   skip_unreadable=skip)
        assert everything.source is not None
        print(everything.source.format())
        # the held-out folder takes the training clips' length, whatever the rule gave
        seconds = everything.source.seconds
        if options.test_data is not None:
            test = wav_event_set(options.test_data, seconds, front_end, progress=progress,
                                 skip_unreadable=skip)
            assert test.source is not None
            print(test.source.format())
            if test.class_names != everything.class_names:
                raise ValueError(
                    f"--test-data classes {test.class_names} differ from --data classes "
                    f"{everything.class_names}"
                )
            train = everything
        else:
            train, test = split_every_fifth(everything)
        source = {
            "kind": "wav",
            "data": str(options.data),
            "test_data": None if options.test_data is None else str(options.test_data),
            "seconds": seconds,
        }
        return train, test, source
    config = KeywordSetConfig(n_classes=options.classes,
                              seconds=options.seconds or SYNTHETIC_SECONDS)
    seed = options.data_seed
    train = synthetic_event_set(options.train_clips, 2 * seed, config, front_end, progress)
    test = synthetic_event_set(options.test_clips, 2 * seed + 1, config, front_end, progress)
    source = {
        "kind": "synthetic",
        "classes": options.classes,
        "seconds": config.seconds,
        "train_clips": options.train_clips,
        "test_clips": options.test_clips,
        "data_seed": seed,
    }
    return train, test, source


MAX_HELD_OUT_CLIPS = 100_000
MAX_CLIP_SECONDS = 3600.0
"""Bounds on what a checkpoint may ask ``eval`` to synthesise: a file is data, and a
recorded clip count of 10^9 would run until killed."""


def _refuse_foreign(names: list[str], class_names: list[str], where: str) -> None:
    """ValueError naming both lists (the first five foreign names) when ``names`` has a class
    the readout ``class_names`` lacks."""
    from synnet_triton.kws.reports import printable

    foreign = [name for name in names if name not in class_names]
    if foreign:
        shown = [printable(n) for n in foreign[:5]]
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise ValueError(f"{where}: classes {shown}{more} are not the checkpoint's "
                         f"{[printable(n) for n in class_names]}")


def _by_name(data: EventSet, class_names: list[str], where: str) -> EventSet:
    """``data`` with its labels mapped by class name onto ``class_names`` (the checkpoint's
    readout order); ValueError naming both lists when ``data`` has a class the readout lacks."""
    _refuse_foreign(data.class_names, class_names, where)
    order = torch.tensor([class_names.index(name) for name in data.class_names])
    return EventSet(data.events, order[data.labels], list(class_names), data.source)


def _speech_commands_held_out(source: dict[str, Any], seconds: float,
                              class_names: list[str]) -> EventSet:
    from synnet_triton.kws.speech_commands import load_speech_commands

    folder, words = source.get("data"), source.get("words")
    if not isinstance(folder, str) or not Path(folder).is_dir():
        raise ValueError(f"the checkpoint's data folder {folder!r} no longer exists: give "
                         "the held-out clips with --data")
    if words is not None and not (isinstance(words, list)
                                  and all(isinstance(w, str) for w in words)):
        raise ValueError(f"the checkpoint's data source has words = {words!r}: expected a "
                         "list of words")
    seed = _number(source, "data_seed", int, 0, 2**62)
    held_out = load_speech_commands(folder, "test", words, seconds, seed=seed)
    return _by_name(audio_event_set(held_out), class_names,
                    f"the checkpoint's Speech Commands tree {folder}")


def _spikes_held_out(source: dict[str, Any], seconds: float, class_names: list[str],
                     ) -> EventSet:
    from synnet_triton.kws.spike_files import load_spike_file

    path = source.get("test_data") or source.get("data")
    if not isinstance(path, str) or not Path(path).is_file():
        raise ValueError(f"the checkpoint's spike file {path!r} no longer exists: give the "
                         "held-out samples with --data")
    data = load_spike_file(path, seconds)
    if source.get("test_data") is None:
        data = split_every_fifth(data)[1]
    return _by_name(data, class_names, f"the checkpoint's spike file {path}")


def _check_class_folders(folder: Path, class_names: list[str], where: str) -> None:
    """Refuse a folder with a class the readout lacks before reading any audio (a recorded
    path of /etc would otherwise be read class by class)."""
    if not folder.is_dir():
        raise ValueError(f"{where}: not a directory")
    _refuse_foreign(sorted(p.name for p in folder.iterdir() if p.is_dir()), class_names, where)


def _number(source: dict[str, Any], key: str, kind: type, low: float, high: float) -> Any:
    value: Any = source.get(key)
    number = not isinstance(value, bool) and isinstance(value, (kind, int))
    if not number or not low <= float(value) <= high:
        raise ValueError(f"the checkpoint's data source has {key} = {value!r}; expected a "
                         f"number in [{low:g}, {high:g}]: give --data or the data options")
    return value


def _spike_sets(options: DataOptions) -> tuple[EventSet, EventSet, dict[str, Any]]:
    """An SHD/SSC file (and its held-out file, or every fifth sample)."""
    from synnet_triton.kws.spike_files import load_spike_file

    assert options.data is not None
    everything = load_spike_file(options.data, options.seconds)
    assert everything.source is not None
    print(everything.source.format())
    seconds = everything.source.seconds
    if options.test_data is not None:
        test = load_spike_file(options.test_data, seconds)
        if test.class_names != everything.class_names or (
                test.events.shape[2] != everything.events.shape[2]):
            raise ValueError(f"--test-data {options.test_data}: other classes or channels than "
                             f"--data {options.data}")
        train = everything
    else:
        train, test = split_every_fifth(everything)
    source = {"kind": "spikes", "data": str(options.data),
              "test_data": None if options.test_data is None else str(options.test_data),
              "seconds": seconds}
    return train, test, source


def _speech_commands_sets(options: DataOptions, front_end: FrontEndConfig,
                          ) -> tuple[EventSet, EventSet, dict[str, Any]]:
    from synnet_triton.kws.speech_commands import load_speech_commands

    assert options.data is not None
    if options.test_data is not None:
        raise ValueError(f"--test-data: the Speech Commands tree {options.data} names its own "
                         "held-out clips (testing_list.txt, or every fifth)")
    words = None if options.words is None else list(options.words)
    seconds = options.seconds or 1.0
    source = {"kind": "speech_commands", "data": str(options.data), "words": words,
              "seconds": seconds, "data_seed": options.data_seed}
    sets = []
    for split in ("train", "test"):
        folder = load_speech_commands(options.data, split, words, seconds,
                                      front_end.sample_rate, options.data_seed)
        print(f"{split}: {folder.summary.format()}")
        sets.append(audio_event_set(folder, front_end))
    return sets[0], sets[1], source


def held_out_set(source: Any, overrides: HeldOutOverrides, class_names: list[str],
                 ) -> EventSet:
    """The held-out set of a checkpoint's data ``source``, with the overrides given to eval;
    its labels follow ``class_names`` (a folder's classes mapped by name, never by index).

    Every value read from the checkpoint is checked first: a missing folder, a clip count
    or length out of bounds are ValueErrors naming them.
    """
    seconds = overrides.seconds
    if overrides.data is not None and is_spike_file(overrides.data):
        from synnet_triton.kws.spike_files import load_spike_file

        recorded = source.get("seconds") if isinstance(source, dict) else None
        return _by_name(load_spike_file(overrides.data, seconds or recorded), class_names,
                        f"--data {overrides.data}")
    if overrides.data is not None:
        _check_class_folders(overrides.data, class_names, f"--data {overrides.data}")
        return _by_name(wav_event_set(overrides.data, seconds), class_names,
                        f"--data {overrides.data}")
    if not isinstance(source, dict) or source.get("kind") not in (
            "wav", "synthetic", "speech_commands", "spikes"):
        raise ValueError("the checkpoint records no data source it can remake: give --data")
    if seconds is None:
        seconds = _number(source, "seconds", float, 1e-3, MAX_CLIP_SECONDS)
    if source["kind"] == "speech_commands":
        return _speech_commands_held_out(source, seconds, class_names)
    if source["kind"] == "spikes":
        return _spikes_held_out(source, seconds, class_names)
    if source["kind"] == "wav":
        folder = source.get("test_data") or source.get("data")
        if not isinstance(folder, str) or not Path(folder).is_dir():
            raise ValueError(f"the checkpoint's data folder {folder!r} no longer exists: give "
                             "the held-out clips with --data")
        _check_class_folders(Path(folder), class_names, f"the checkpoint's data folder {folder}")
        data = wav_event_set(folder, seconds)
        if source.get("test_data") is None:
            data = split_every_fifth(data)[1]
        return _by_name(data, class_names, f"the checkpoint's data folder {folder}")
    classes = _number(source, "classes", int, 2, len(class_names))
    clips = overrides.test_clips if overrides.test_clips is not None else _number(
        source, "test_clips", int, 1, MAX_HELD_OUT_CLIPS)
    seed = overrides.data_seed if overrides.data_seed is not None else _number(
        source, "data_seed", int, 0, 2**62)
    config = KeywordSetConfig(n_classes=classes, seconds=seconds)
    return _by_name(synthetic_event_set(clips, 2 * seed + 1, config), class_names,
                    "the synthetic set")
