"""Google Speech Commands trees as keyword-spotting sets.

The layout (Warden 2018, "Speech Commands: A Dataset for Limited-Vocabulary Speech
Recognition", arXiv:1804.03209): one folder of 1 s WAV clips per word, ``_background_noise_/``
holding long noise recordings, and ``validation_list.txt`` / ``testing_list.txt`` naming the
clips (``word/file.wav``) of the official validation and test splits. A tree is recognised by
either the noise folder or the test list.

- **Split**: with ``testing_list.txt`` its clips are the held-out set and the validation
  list's clips are in neither set (they are the official validation split, kept apart);
  without the lists every fifth clip of each word is held out, as for any folder.
- **Classes**: every word folder; or, with ``words``, those words, ``_unknown_`` (clips of
  the other words, as many as the chosen words average per split, drawn with ``seed``) and
  ``_silence_`` (1 s crops of the background recordings at a random gain in [0.1, 1], as
  many again; training crops from the first 80 % of each recording, held-out crops from the
  rest, so no noise is shared). ``words=("yes", "no", "up", "down", "left", "right", "on",
  "off", "stop", "go")`` is the 12-class task of the paper. The detector never reports a
  class whose name starts with ``_``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from synnet_triton.kws.audio_folder import AUDIO_EXTENSIONS, AudioFolder, FolderSummary, read_audio

__all__ = ["BACKGROUND", "SILENCE", "SPLITS", "UNKNOWN", "is_speech_commands",
           "load_speech_commands"]

BACKGROUND = "_background_noise_"
SILENCE = "_silence_"
UNKNOWN = "_unknown_"
TEST_LIST = "testing_list.txt"
VALIDATION_LIST = "validation_list.txt"
TRAINING_SHARE_OF_NOISE = 0.8


def is_speech_commands(root: Path) -> bool:
    """Whether ``root`` is laid out as Speech Commands (a background folder or a test list)."""
    return (root / BACKGROUND).is_dir() or (root / TEST_LIST).is_file()


def _listed(root: Path, name: str) -> set[str]:
    path = root / name
    if not path.is_file():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def _splits(root: Path, words: list[str]) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """(training, held-out) files per word folder."""
    testing, validation = _listed(root, TEST_LIST), _listed(root, VALIDATION_LIST)
    train: dict[str, list[Path]] = {}
    test: dict[str, list[Path]] = {}
    for word in words:
        files = sorted(p for p in (root / word).iterdir()
                       if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
        if testing:
            test[word] = [p for p in files if f"{word}/{p.name}" in testing]
            train[word] = [p for p in files if f"{word}/{p.name}" not in testing | validation]
        else:
            test[word] = files[4::5]
            train[word] = [p for k, p in enumerate(files) if k % 5 != 4]
    return train, test


def _silence(root: Path, count: int, part: tuple[float, float], length: int,
             sample_rate: int, generator: np.random.Generator) -> list[np.ndarray]:
    """``count`` crops of ``length`` samples from the background recordings' ``part``
    (fractions of each recording), each at a random gain in [0.1, 1]."""
    recordings = [read_audio(path, sample_rate) for path in sorted((root / BACKGROUND).iterdir())
                  if path.suffix.lower() in AUDIO_EXTENSIONS]
    spans = [(round(part[0] * len(r)), round(part[1] * len(r)) - length) for r in recordings]
    usable = [(r, a, b) for r, (a, b) in zip(recordings, spans, strict=True) if b >= a]
    if not usable:
        raise ValueError(f"{root / BACKGROUND}: no recording is long enough for "
                         f"{length / sample_rate:g} s crops in each split")
    crops = []
    for k in range(count):
        recording, first, last = usable[k % len(usable)]
        start = int(generator.integers(first, last + 1))
        crops.append(recording[start:start + length] * generator.uniform(0.1, 1.0))
    return crops


def _folder(root: Path, clips: dict[str, list[np.ndarray]], length: int,
            sample_rate: int) -> AudioFolder:
    names = sorted(clips)
    audio = np.zeros((sum(len(c) for c in clips.values()), length), dtype=np.float32)
    labels: list[int] = []
    cropped = padded = row = 0
    for label, name in enumerate(names):
        for clip in clips[name]:
            audio[row, : min(len(clip), length)] = clip[:length]
            cropped += len(clip) > length
            padded += len(clip) < length
            labels.append(label)
            row += 1
    summary = FolderSummary(root=str(root), class_names=names,
                            files_per_class={n: len(clips[n]) for n in names},
                            seconds=length / sample_rate, sample_rate=sample_rate,
                            cropped=cropped, padded=padded)
    return AudioFolder(torch.from_numpy(audio), torch.tensor(labels, dtype=torch.int64), names,
                       summary)


SPLITS = ("train", "test")


def load_speech_commands(
    root: str | Path, split: str, words: list[str] | None = None, seconds: float = 1.0,
    sample_rate: int = 16_000, seed: int = 0,
) -> AudioFolder:
    """The ``split`` ("train" or "test", held out) of the Speech Commands tree ``root`` (see
    the module docstring for the split and the classes), clips ``seconds`` long (padded or
    cropped); ``_unknown_`` and ``_silence_`` drawn with ``seed`` (each split its own draw).

    Raises:
        ValueError: ``root`` is not such a tree, a word of ``words`` has no folder (naming
            it and the words there), or the split has no clips of a word.
    """
    root = Path(root)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not root.is_dir() or not is_speech_commands(root):
        raise ValueError(f"{root}: not a Speech Commands tree (no {BACKGROUND}/ or {TEST_LIST})")
    available = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))
    if words is not None:
        missing = [w for w in words if w not in available]
        if missing or not words:
            raise ValueError(f"--words: {missing or 'none given'} not among the words of {root}: "
                             f"{available}")
    chosen = available if words is None else sorted(set(words))
    length = round(seconds * sample_rate)
    index = SPLITS.index(split)
    generator = np.random.default_rng([seed, index])
    files = _splits(root, available)[index]
    clips = {word: [read_audio(p, sample_rate) for p in files[word]] for word in chosen}
    empty = [word for word in chosen if not clips[word]]
    if empty:
        raise ValueError(f"{root}: no {split} clips of {empty}")
    per_class = round(np.mean([len(clips[word]) for word in chosen]))
    others = [p for word in available if word not in chosen for p in files[word]]
    if words is not None and others:
        picked = generator.choice(len(others), size=min(per_class, len(others)), replace=False)
        clips[UNKNOWN] = [read_audio(others[k], sample_rate) for k in sorted(picked)]
    if (root / BACKGROUND).is_dir():
        part = (0.0, TRAINING_SHARE_OF_NOISE) if split == "train" else (
            TRAINING_SHARE_OF_NOISE, 1.0)
        clips[SILENCE] = _silence(root, per_class, part, length, sample_rate, generator)
    return _folder(root, clips, length, sample_rate)
