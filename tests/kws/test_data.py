"""The synthetic keyword set (determinism, layout of long clips) and the WAV-folder loader."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from synnet_triton.kws.data import (
    KeywordSetConfig,
    load_wav_folder,
    synthesize_clip,
    synthetic_audio,
    synthetic_event_set,
    wav_event_set,
)

SHORT = KeywordSetConfig(n_classes=4, seconds=0.5)


def test_same_seed_gives_same_clips() -> None:
    audio_a, labels_a = synthetic_audio(6, seed=3, config=SHORT)
    audio_b, labels_b = synthetic_audio(6, seed=3, config=SHORT)
    assert torch.equal(audio_a, audio_b)
    assert torch.equal(labels_a, labels_b)


def test_different_seed_gives_different_clips() -> None:
    audio_a, _ = synthetic_audio(4, seed=3, config=SHORT)
    audio_b, _ = synthetic_audio(4, seed=4, config=SHORT)
    assert not torch.equal(audio_a, audio_b)


def test_a_clip_does_not_depend_on_how_many_are_generated() -> None:
    many, _ = synthetic_audio(8, seed=5, config=SHORT)
    clip, label = synthesize_clip(6, seed=5, config=SHORT)
    assert np.array_equal(many[6].numpy(), clip)
    assert label == 6 % SHORT.n_classes


def test_labels_cycle_through_classes() -> None:
    _, labels = synthetic_audio(8, seed=0, config=SHORT)
    assert labels.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]


def test_same_seed_gives_same_events() -> None:
    a = synthetic_event_set(4, seed=9, config=SHORT)
    b = synthetic_event_set(4, seed=9, config=SHORT)
    assert a.events.shape == (4, 500, 16)
    assert torch.equal(a.events, b.events)


def test_long_clip_has_one_word_per_second() -> None:
    config = KeywordSetConfig(n_classes=2, seconds=10.0, noise_range=(0.0, 0.0))
    clip, _ = synthesize_clip(0, seed=1, config=config)
    assert clip.shape == (160_000,)
    # Without background noise a one-second slot is silent exactly when it holds no word.
    slots = np.abs(clip).reshape(10, 16_000).max(axis=1)
    assert np.all(slots > 0.0)
    assert config.words_per_clip == 10


def test_words_of_different_classes_differ_in_spectrum() -> None:
    # A nearest-class-mean classifier on per-channel event totals separates the classes of
    # held-out clips: the words carry class-specific frequency content.
    train = synthetic_event_set(32, seed=1, config=SHORT)
    test = synthetic_event_set(16, seed=2, config=SHORT)
    totals = train.events.double().sum(dim=1)
    means = torch.stack([totals[train.labels == c].mean(0) for c in range(SHORT.n_classes)])
    test_totals = test.events.double().sum(dim=1)
    predicted = torch.cdist(test_totals, means).argmin(dim=1)
    assert (predicted == test.labels).double().mean().item() >= 0.75


def test_rejects_clips_shorter_than_a_word() -> None:
    with pytest.raises(ValueError, match="seconds"):
        KeywordSetConfig(seconds=0.1)


def _write_wav(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> None:
    pcm = np.round(np.repeat(samples[:, None], channels, axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())


def test_wav_folder_loader(tmp_path: Path) -> None:
    rate = 16_000
    t = np.arange(rate // 4) / rate
    low = 0.5 * np.sin(2 * np.pi * 300 * t)
    high = 0.25 * np.sin(2 * np.pi * 3_000 * t)
    (tmp_path / "yes").mkdir()
    (tmp_path / "no").mkdir()
    _write_wav(tmp_path / "yes" / "a.wav", low, rate)
    _write_wav(tmp_path / "yes" / "b.wav", low[: rate // 8], rate, channels=2)
    _write_wav(tmp_path / "no" / "c.wav", high, rate)
    audio, labels, names, _ = load_wav_folder(tmp_path, seconds=0.25)
    assert names == ["no", "yes"]
    assert labels.tolist() == [0, 1, 1]
    assert audio.shape == (3, rate // 4)
    assert np.allclose(audio[0].numpy(), high, atol=1 / 32767)
    assert np.allclose(audio[1].numpy(), low, atol=1 / 32767)
    # The short stereo file is mixed to mono and zero-padded to the requested length.
    assert np.allclose(audio[2, : rate // 8].numpy(), low[: rate // 8], atol=1 / 32767)
    assert torch.count_nonzero(audio[2, rate // 8 :]) == 0


def test_wav_loader_resamples_to_the_front_end_rate(tmp_path: Path) -> None:
    rate = 8_000
    t = np.arange(rate // 2) / rate
    (tmp_path / "tone").mkdir()
    _write_wav(tmp_path / "tone" / "a.wav", 0.5 * np.sin(2 * np.pi * 440 * t), rate)
    audio, _, _, _ = load_wav_folder(tmp_path, seconds=0.5, sample_rate=16_000)
    assert audio.shape == (1, 8_000)
    spectrum = np.abs(np.fft.rfft(audio[0].numpy()))
    peak_hz = np.argmax(spectrum) * 16_000 / 8_000
    assert math.isclose(peak_hz, 440, abs_tol=2)


def test_wav_event_set_labels_tones_by_band(tmp_path: Path) -> None:
    rate = 16_000
    t = np.arange(rate // 4) / rate
    for name, frequency in (("a_low", 300.0), ("b_high", 3_000.0)):
        (tmp_path / name).mkdir()
        _write_wav(tmp_path / name / "x.wav", 0.3 * np.sin(2 * np.pi * frequency * t), rate)
    events = wav_event_set(tmp_path, seconds=0.25)
    assert events.class_names == ["a_low", "b_high"]
    busiest = events.events.double().sum(dim=1).argmax(dim=1)
    assert busiest[0] < busiest[1]
