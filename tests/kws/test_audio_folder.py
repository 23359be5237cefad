"""Audio folders as users have them: every common encoding loads to the same samples within
its precision, FLAC and OGG too, extensions in any case, one clip length by a stated rule,
and an unreadable file named in a one-line error (or skipped when asked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from synnet_triton.kws.audio_folder import load_wav_folder, read_audio

RATE = 16_000
TONE = 0.6 * np.sin(2 * np.pi * 440 * np.arange(RATE // 4) / RATE)

# (format, subtype, extension, tolerance): half a step of the encoding (PCM rounds), float
# exactly, Vorbis by its (lossy) error. The reference is written here with numpy, the
# reader is libsndfile, so the two share no code.
ENCODINGS = [
    ("WAV", "PCM_U8", ".wav", 1 / 128),
    ("WAV", "PCM_16", ".wav", 1 / 2**15),
    ("WAV", "PCM_24", ".wav", 1 / 2**23),
    ("WAV", "PCM_32", ".wav", 1 / 2**31),
    ("WAV", "FLOAT", ".wav", 1e-7),
    ("WAV", "DOUBLE", ".wav", 0.0),
    ("FLAC", "PCM_16", ".flac", 1 / 2**15),
    ("FLAC", "PCM_24", ".flac", 1 / 2**23),
]


@pytest.mark.parametrize("container,subtype,extension,tolerance", ENCODINGS,
                         ids=[f"{c}-{s}" for c, s, _, _ in ENCODINGS])
def test_every_encoding_loads_the_same_samples(tmp_path: Path, container, subtype, extension,
                                               tolerance) -> None:
    path = tmp_path / f"tone{extension}"
    soundfile.write(str(path), TONE, RATE, subtype=subtype, format=container)
    samples = read_audio(path, RATE)
    assert samples.shape == TONE.shape
    assert np.abs(samples - TONE).max() <= tolerance + 1e-12


def test_ogg_vorbis_loads_within_its_lossy_error(tmp_path: Path) -> None:
    path = tmp_path / "tone.ogg"
    soundfile.write(str(path), TONE, RATE, format="OGG", subtype="VORBIS")
    samples = read_audio(path, RATE)
    assert abs(len(samples) - len(TONE)) <= 1024
    overlap = min(len(samples), len(TONE))
    error = samples[:overlap] - TONE[:overlap]
    assert np.sqrt(np.mean(error**2)) < 0.05 * np.sqrt(np.mean(TONE**2))


def test_stereo_is_mixed_to_mono_and_other_rates_resampled(tmp_path: Path) -> None:
    left, right = TONE, 0.5 * TONE
    soundfile.write(str(tmp_path / "stereo.wav"), np.stack([left, right], 1), RATE,
                    subtype="FLOAT")
    assert np.allclose(read_audio(tmp_path / "stereo.wav", RATE), 0.75 * TONE, atol=1e-7)
    slow = 0.5 * np.sin(2 * np.pi * 440 * np.arange(44_100 // 2) / 44_100)
    soundfile.write(str(tmp_path / "cd.wav"), slow, 44_100, subtype="PCM_24")
    resampled = read_audio(tmp_path / "cd.wav", RATE)
    assert len(resampled) == RATE // 2
    peak_hz = np.argmax(np.abs(np.fft.rfft(resampled))) * RATE / len(resampled)
    assert abs(peak_hz - 440) <= 2


def _folder(tmp_path: Path, clips: dict[str, list[tuple[str, float]]]) -> Path:
    """root/<class>/<name> tones of the given lengths in seconds."""
    for name, files in clips.items():
        (tmp_path / name).mkdir()
        for file_name, seconds in files:
            tone = 0.3 * np.sin(2 * np.pi * 500 * np.arange(round(seconds * RATE)) / RATE)
            soundfile.write(str(tmp_path / name / file_name), tone, RATE, subtype="PCM_16")
    return tmp_path


def test_extensions_match_in_any_case_and_the_longest_clip_sets_the_length(tmp_path) -> None:
    root = _folder(tmp_path, {"_noise": [("a.WAV", 0.2), ("b.Flac", 0.5)],
                              "yes": [("c.wav", 0.3)]})
    (root / "yes" / "notes.txt").write_text("not audio")
    folder = load_wav_folder(root, progress=False)
    assert folder.class_names == ["_noise", "yes"]
    assert folder.labels.tolist() == [0, 0, 1]
    assert folder.audio.shape == (3, RATE // 2)
    assert folder.summary.files_per_class == {"_noise": 2, "yes": 1}
    assert (folder.summary.seconds, folder.summary.padded, folder.summary.cropped) == (0.5, 2, 0)
    text = folder.summary.format()
    assert "_noise (2)" in text and "clip length 0.5 s" in text


def test_an_explicit_length_crops_and_says_so(tmp_path: Path) -> None:
    root = _folder(tmp_path, {"a": [("x.wav", 0.5), ("y.wav", 0.1)]})
    folder = load_wav_folder(root, seconds=0.25)
    assert folder.audio.shape == (2, RATE // 4)
    assert (folder.summary.cropped, folder.summary.padded) == (1, 1)


def test_an_unreadable_file_is_named_in_one_line_or_skipped_when_asked(tmp_path) -> None:
    root = _folder(tmp_path, {"a": [("good.wav", 0.2)]})
    (root / "a" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.raises(ValueError, match=r"broken\.wav: cannot read audio") as raised:
        load_wav_folder(root)
    assert "\n" not in str(raised.value)
    with pytest.warns(UserWarning, match="broken.wav"):
        folder = load_wav_folder(root, skip_unreadable=True)
    assert folder.summary.skipped == ["broken.wav"] and len(folder.labels) == 1


def test_an_empty_class_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    root = _folder(tmp_path, {"a": [("x.wav", 0.2)]})
    (root / "empty").mkdir()
    with pytest.raises(ValueError, match="class folder.*empty"):
        load_wav_folder(root)
