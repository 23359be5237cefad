"""Reading audio as users have it: a folder with one subfolder of recordings per class.

Files: WAV (8/16/24/32-bit PCM, 32/64-bit float, and the other encodings libsndfile reads),
FLAC and OGG, read with ``soundfile`` (libsndfile); any sample rate (resampled with a
polyphase filter) and any channel count (mixed to mono by the mean). Extensions are matched
case-insensitively (``.wav``, ``.WAV``, ``.Flac``). A file that cannot be read is an error
naming it, or, with ``skip_unreadable``, skipped with a warning and listed in the summary.

Clip length rule: ``seconds=None`` takes the longest clip in the folder and zero-pads the
others to it (nothing is cut); an explicit ``seconds`` pads shorter clips and crops longer
ones to their first ``seconds``, and the summary says how many were cropped.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from scipy import signal
from torch import Tensor
from tqdm import tqdm

__all__ = ["AUDIO_EXTENSIONS", "FolderSummary", "AudioFolder", "check_readable", "read_audio",
           "resample", "load_wav_folder"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Mono float64 samples of one audio file, resampled to ``sample_rate``.

    PCM is scaled to [-1, 1) (full scale of its width), float files are read as stored.
    Raises ValueError naming the file when libsndfile cannot read it.
    """
    import soundfile

    path = Path(path)
    try:
        data, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    except Exception as error:  # libsndfile's errors differ by version; all mean unreadable
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path}: cannot read audio ({reason})") from error
    return resample(data.mean(axis=1), rate, sample_rate)


def check_readable(path: str | Path) -> None:
    """ValueError naming ``path`` unless libsndfile can open it as audio holding samples
    (an empty, truncated or text file is refused before any work)."""
    import soundfile

    try:
        frames = soundfile.info(str(path)).frames
    except Exception as error:  # libsndfile's errors differ by version; all mean unreadable
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path}: cannot read audio ({reason})") from None
    if frames <= 0:
        raise ValueError(f"{path}: the recording holds no samples")


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``samples`` (L,) at ``rate`` Hz as samples at ``target`` Hz (polyphase filter)."""
    if rate == target:
        return samples
    ratio = np.gcd(rate, target)
    return signal.resample_poly(samples, target // ratio, rate // ratio)


@dataclass(frozen=True)
class FolderSummary:
    """What :func:`load_wav_folder` loaded: per class, clip length, and what it changed."""

    root: str
    class_names: list[str]
    files_per_class: dict[str, int]
    seconds: float
    sample_rate: int
    cropped: int = 0
    padded: int = 0
    skipped: list[str] = field(default_factory=list)

    def format(self) -> str:
        """A few readable lines for a terminal."""
        from synnet_triton.kws.reports import printable

        classes = ", ".join(f"{printable(name)} ({self.files_per_class[name]})"
                            for name in self.class_names)
        lines = [
            f"{printable(self.root)}: {sum(self.files_per_class.values())} clips in "
            f"{len(self.class_names)} classes: {classes}",
            f"clip length {self.seconds:g} s at {self.sample_rate} Hz; {self.padded} padded, "
            f"{self.cropped} cropped",
        ]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} unreadable: " + "; ".join(
                map(printable, self.skipped)))
        return "\n".join(lines)


class AudioFolder(NamedTuple):
    """audio float32 (N, L), labels int64 (N,), class names (sorted subfolders), summary."""

    audio: Tensor
    labels: Tensor
    class_names: list[str]
    summary: FolderSummary


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def load_wav_folder(
    root: str | Path,
    seconds: float | None = None,
    sample_rate: int = 16_000,
    *,
    skip_unreadable: bool = False,
    progress: bool = False,
) -> AudioFolder:
    """Load ``root/<class name>/<clip>.{wav,flac,ogg}``; classes are the sorted subfolders.

    Every file is mixed to mono and resampled to ``sample_rate``; clips are made one length
    by the rule in the module docstring (``seconds=None``: the longest clip's).
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"root must be a directory of class subfolders, got {root}")
    if seconds is not None and seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    if not class_dirs:
        raise ValueError(f"root {root} has no class subfolders")
    files = {d.name: _audio_files(d) for d in class_dirs}
    empty = [name for name, paths in files.items() if not paths]
    if empty:
        from synnet_triton.kws.reports import printable

        raise ValueError(f"class folder(s) {', '.join(map(printable, empty))} under {root} hold no "
                         f"{'/'.join(AUDIO_EXTENSIONS)} files")
    clips: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[str] = []
    total = sum(len(paths) for paths in files.values())
    with tqdm(total=total, desc=f"loading {root.name}", unit="file", disable=not progress,
              leave=False) as bar:
        for label, class_dir in enumerate(class_dirs):
            for path in files[class_dir.name]:
                bar.update(1)
                try:
                    clips.append(read_audio(path, sample_rate))
                except ValueError as error:
                    if not skip_unreadable:
                        raise
                    warnings.warn(f"skipped {error}", stacklevel=2)
                    skipped.append(path.name)
                    continue
                labels.append(label)
    if not clips:
        raise ValueError(f"no readable audio file under the class subfolders of {root}")
    longest = max(len(clip) for clip in clips)
    length = longest if seconds is None else round(seconds * sample_rate)
    audio = np.zeros((len(clips), length), dtype=np.float32)
    for row, clip in enumerate(clips):
        audio[row, : min(len(clip), length)] = clip[:length]
    counts = {d.name: 0 for d in class_dirs}
    for label in labels:
        counts[class_dirs[label].name] += 1
    summary = FolderSummary(
        root=str(root), class_names=[d.name for d in class_dirs], files_per_class=counts,
        seconds=length / sample_rate, sample_rate=sample_rate,
        cropped=sum(len(clip) > length for clip in clips),
        padded=sum(len(clip) < length for clip in clips), skipped=skipped,
    )  # fmt: skip
    return AudioFolder(torch.from_numpy(audio), torch.tensor(labels, dtype=torch.int64),
                       summary.class_names, summary)
