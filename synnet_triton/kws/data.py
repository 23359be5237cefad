"""Keyword-spotting data: a deterministic synthetic set, and event sets of audio folders.

The synthetic set needs no download. Each class is a "word": a fixed sequence of syllables,
each syllable two formant-like tones that glide (chirp) between a start and an end frequency.
Every utterance jitters the word's pitch, tempo, syllable timing and loudness, and sits in
white background noise of random level. A clip of ``seconds`` holds one utterance per
``seconds_per_word`` (at least one), each placed at a random offset inside its own slot, so
long clips (10 s = 10 000 steps at 1 ms) stay labelled by a single class.

Clip ``k`` of a set is generated from ``numpy.random.default_rng([seed, k])`` alone: the same
seed gives the same clips whatever the batch size or order of generation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import signal
from torch import Tensor
from tqdm import tqdm

from synnet_triton.kws.audio import FrontEndConfig, audio_to_events
from synnet_triton.kws.audio_folder import AudioFolder, FolderSummary, load_wav_folder

__all__ = [
    "KeywordSetConfig",
    "keyword_templates",
    "synthesize_clip",
    "synthetic_audio",
    "EventSet",
    "synthetic_event_set",
    "load_wav_folder",
    "wav_event_set",
    "audio_event_set",
]

# The vocabulary is drawn from its own fixed generator, so every seed and every split of the
# data set shares the same words; only the utterances differ.
_VOCABULARY_SEED = 61201


@dataclass(frozen=True)
class KeywordSetConfig:
    """Parameters of the synthetic keyword set.

    n_classes:        number of distinct words (Xylo has at most 8 outputs).
    seconds:          clip length in seconds.
    sample_rate:      samples per second.
    seconds_per_word: one utterance of the clip's word per this many seconds (at least one).
    syllables:        syllables per word.
    pitch_jitter:     standard deviation of the log pitch factor of an utterance.
    tempo_jitter:     utterance durations are scaled by a factor in [1 - j, 1 + j].
    level_range:      peak amplitude of an utterance, drawn uniformly (log) in this range.
    noise_range:      standard deviation of the white background noise, drawn uniformly.
    """

    n_classes: int = 4
    seconds: float = 1.0
    sample_rate: int = 16_000
    seconds_per_word: float = 1.0
    syllables: int = 3
    pitch_jitter: float = 0.06
    tempo_jitter: float = 0.15
    level_range: tuple[float, float] = (0.05, 0.2)
    noise_range: tuple[float, float] = (0.002, 0.01)

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if not 2 <= self.n_classes <= 16:
            raise ValueError(f"n_classes must be in [2, 16], got {self.n_classes}")
        if self.seconds <= 0:
            raise ValueError(f"seconds must be positive, got {self.seconds}")
        if self.seconds_per_word <= 0:
            raise ValueError(f"seconds_per_word must be positive, got {self.seconds_per_word}")
        if self.syllables < 1:
            raise ValueError(f"syllables must be at least 1, got {self.syllables}")
        if not 0 <= self.tempo_jitter < 0.5:
            raise ValueError(f"tempo_jitter must be in [0, 0.5), got {self.tempo_jitter}")
        if not 0 < self.level_range[0] <= self.level_range[1]:
            raise ValueError(f"level_range must be 0 < low <= high, got {self.level_range}")
        if not 0 <= self.noise_range[0] <= self.noise_range[1]:
            raise ValueError(f"noise_range must be 0 <= low <= high, got {self.noise_range}")
        longest_word = self.syllables * (_SYLLABLE_SECONDS[1] + _GAP_SECONDS[1])
        if longest_word * (1 + self.tempo_jitter) > min(self.seconds, self.seconds_per_word):
            raise ValueError(
                f"a word lasts up to {longest_word * (1 + self.tempo_jitter):.2f} s: seconds "
                f"({self.seconds}) and seconds_per_word ({self.seconds_per_word}) must be longer"
            )

    @property
    def n_samples(self) -> int:
        return round(self.seconds * self.sample_rate)

    @property
    def words_per_clip(self) -> int:
        return max(1, int(self.seconds / self.seconds_per_word))


_SYLLABLE_SECONDS = (0.06, 0.10)
_GAP_SECONDS = (0.01, 0.03)
_FORMANT_HZ = ((250.0, 1_000.0), (900.0, 4_500.0))


@dataclass(frozen=True)
class Syllable:
    """One syllable of a word template: two formants gliding from start to end frequency (Hz)."""

    duration: float
    gap_after: float
    start_hz: tuple[float, float]
    end_hz: tuple[float, float]


def keyword_templates(n_classes: int, syllables: int) -> list[list[Syllable]]:
    """The vocabulary: ``n_classes`` words of ``syllables`` syllables each, fixed for all seeds."""
    rng = np.random.default_rng([_VOCABULARY_SEED, n_classes, syllables])
    words = []
    for _ in range(n_classes):
        word = []
        for _ in range(syllables):
            start = tuple(
                float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) for lo, hi in _FORMANT_HZ
            )
            end = tuple(
                float(np.exp(rng.uniform(np.log(lo), np.log(hi)))) for lo, hi in _FORMANT_HZ
            )
            word.append(
                Syllable(
                    duration=float(rng.uniform(*_SYLLABLE_SECONDS)),
                    gap_after=float(rng.uniform(*_GAP_SECONDS)),
                    start_hz=start,  # type: ignore[arg-type]
                    end_hz=end,  # type: ignore[arg-type]
                )
            )
        words.append(word)
    return words


def _utterance(
    word: list[Syllable], config: KeywordSetConfig, rng: np.random.Generator
) -> np.ndarray:
    """One jittered utterance of ``word``, float64 samples of shape (L_word,)."""
    pitch = float(np.exp(rng.normal(0.0, config.pitch_jitter)))
    tempo = float(rng.uniform(1 - config.tempo_jitter, 1 + config.tempo_jitter))
    level = float(np.exp(rng.uniform(*np.log(config.level_range))))
    pieces = []
    for syllable in word:
        n = max(2, round(syllable.duration * tempo * rng.uniform(0.9, 1.1) * config.sample_rate))
        ramp = np.linspace(0.0, 1.0, n)
        tone = np.zeros(n)
        for formant, (f0, f1) in enumerate(zip(syllable.start_hz, syllable.end_hz, strict=True)):
            # A geometric glide, integrated to a phase so the chirp is continuous.
            frequency = pitch * f0 * (f1 / f0) ** ramp
            phase = 2 * np.pi * np.cumsum(frequency) / config.sample_rate + rng.uniform(
                0, 2 * np.pi
            )
            weight = 1.0 if formant == 0 else 0.6
            tone += weight * np.sin(phase)
        # Raised-cosine attack and release avoid clicks that would excite every band.
        pieces.append(tone * signal.windows.tukey(n, alpha=0.3))
        gap = round(syllable.gap_after * tempo * rng.uniform(0.7, 1.3) * config.sample_rate)
        pieces.append(np.zeros(gap))
    audio = np.concatenate(pieces)
    return level * audio / max(np.abs(audio).max(), 1e-12)


def synthesize_clip(index: int, seed: int, config: KeywordSetConfig) -> tuple[np.ndarray, int]:
    """Clip ``index`` of the set with ``seed``: (float32 samples (L,), class label).

    Labels cycle through the classes (index % n_classes), so any n_classes consecutive clips
    are balanced.
    """
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    rng = np.random.default_rng([seed, index])
    label = index % config.n_classes
    word = keyword_templates(config.n_classes, config.syllables)[label]
    noise_std = rng.uniform(*config.noise_range)
    clip = rng.normal(0.0, noise_std, config.n_samples)
    slot = config.n_samples // config.words_per_clip
    for k in range(config.words_per_clip):
        utterance = _utterance(word, config, rng)
        offset = k * slot + int(rng.integers(0, max(1, slot - len(utterance))))
        end = min(offset + len(utterance), config.n_samples)
        clip[offset:end] += utterance[: end - offset]
    return clip.astype(np.float32), label


def synthetic_audio(
    n_clips: int, seed: int, config: KeywordSetConfig, progress: bool = False
) -> tuple[Tensor, Tensor]:
    """Clips 0 … n_clips − 1 of the set with ``seed`` (a tqdm bar with ``progress``).

    Returns audio float32 (n_clips, L) and labels int64 (n_clips,).
    """
    if n_clips < 1:
        raise ValueError(f"n_clips must be at least 1, got {n_clips}")
    indices = tqdm(range(n_clips), desc="synthesise", disable=not progress, leave=False)
    clips, labels = zip(*(synthesize_clip(k, seed, config) for k in indices), strict=True)
    return torch.from_numpy(np.stack(clips)), torch.tensor(labels, dtype=torch.int64)


@dataclass
class EventSet:
    """Front-end output of a labelled audio set.

    events:      uint8 (N, T, C) event counts per step (≤ 15), stored compactly.
    labels:      int64 (N,) class indices.
    class_names: name of each class index.
    source:      for an audio folder, what was loaded (None for the synthetic set).
    """

    events: Tensor
    labels: Tensor
    class_names: list[str]
    source: FolderSummary | None = None

    def __post_init__(self) -> None:
        if self.events.dim() != 3 or self.labels.shape != (self.events.shape[0],):
            raise ValueError(
                f"events must be (N, T, C) and labels (N,), got {tuple(self.events.shape)} "
                f"and {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return self.events.shape[0]

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Float32 event batches (b, T, C) with labels (b,); shuffled when a generator is given."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        order = (
            torch.randperm(len(self), generator=generator)
            if generator is not None
            else torch.arange(len(self))
        )
        for start in range(0, len(self), batch_size):
            index = order[start : start + batch_size]
            yield self.events[index].to(torch.float32), self.labels[index]


def _events_in_chunks(audio: Tensor, front_end: FrontEndConfig, chunk: int = 32) -> Tensor:
    """Front-end over (N, L) audio, ``chunk`` clips at a time to bound memory; (N, T, C) uint8."""
    return torch.cat(
        [
            audio_to_events(audio[k : k + chunk], front_end).to(torch.uint8)
            for k in range(0, audio.shape[0], chunk)
        ]
    )


def synthetic_event_set(
    n_clips: int,
    seed: int,
    config: KeywordSetConfig,
    front_end: FrontEndConfig | None = None,
    progress: bool = False,
) -> EventSet:
    """The synthetic set passed through the audio front-end (events (N, T, C), labels (N,))."""
    front_end = front_end or FrontEndConfig(sample_rate=config.sample_rate)
    if front_end.sample_rate != config.sample_rate:
        raise ValueError(
            f"front_end.sample_rate ({front_end.sample_rate}) must equal the data set's "
            f"sample_rate ({config.sample_rate})"
        )
    audio, labels = synthetic_audio(n_clips, seed, config, progress)
    names = [f"word{k}" for k in range(config.n_classes)]
    return EventSet(_events_in_chunks(audio, front_end), labels, names)


def wav_event_set(
    root: str | Path,
    seconds: float | None = None,
    front_end: FrontEndConfig | None = None,
    *,
    skip_unreadable: bool = False,
    progress: bool = False,
) -> EventSet:
    """An audio folder (see :func:`~synnet_triton.kws.audio_folder.load_wav_folder`: its
    file formats and clip-length rule) passed through the audio front-end."""
    front_end = front_end or FrontEndConfig()
    folder = load_wav_folder(root, seconds, front_end.sample_rate,
                             skip_unreadable=skip_unreadable, progress=progress)
    return audio_event_set(folder, front_end)


def audio_event_set(folder: AudioFolder, front_end: FrontEndConfig | None = None) -> EventSet:
    """Loaded clips (any :class:`~synnet_triton.kws.audio_folder.AudioFolder`) through the
    audio front-end."""
    front_end = front_end or FrontEndConfig()
    return EventSet(_events_in_chunks(folder.audio, front_end), folder.labels,
                    folder.class_names, folder.summary)
