"""A real-speech keyword folder from text-to-speech: ``root/<word>/<k>.wav``.

Each clip is one utterance of its word by espeak-ng (``apt-get install espeak-ng``) in a
voice drawn from English accents × voice variants, at a random speed and pitch, placed at
a random offset in a clip of ``--seconds``, in white noise at a random SNR; 16 kHz mono
16-bit WAV. ``--long`` also writes a long recording of words separated by noise and a CSV of
each word's start and end (s) for checking ``synnet-triton detect``. A ``_noise`` class of
noise alone teaches the network what "no keyword" sounds like (the detector never reports
classes whose name starts with ``_``).

    python tools/make_speech_set.py OUT [--words yes no up down stop] [--clips 50]
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

from synnet_triton.kws.audio_folder import resample

RATE = 16_000
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "f1", "f2", "f3", "f4", "f5", "klatt", "croak")


def speak(word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng's utterance of ``word`` as float64 samples at 16 kHz."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                          "--stdout", word], check=True, capture_output=True).stdout
    data, rate = soundfile.read(io.BytesIO(wav), dtype="float64")
    data = resample(data, rate, RATE)
    nonzero = np.flatnonzero(np.abs(data) > 1e-3)
    return data[nonzero[0]:nonzero[-1] + 1] if len(nonzero) else data


def utterance(word: str, rng: np.random.Generator) -> np.ndarray:
    voice = f"{rng.choice(ACCENTS)}+{rng.choice(VARIANTS)}"
    return speak(word, voice, int(rng.integers(130, 200)), int(rng.integers(30, 70)))


def noisy(speech: np.ndarray, length: int, rng: np.random.Generator, snr_db: float,
          offset: int | None = None) -> np.ndarray:
    """``speech`` at ``offset`` (random when None) in a clip of ``length`` samples of white
    noise at ``snr_db`` relative to the speech's power."""
    speech = speech[:length]
    start = int(rng.integers(0, length - len(speech) + 1)) if offset is None else offset
    clip = np.zeros(length)
    clip[start:start + len(speech)] = speech
    power = np.mean(speech**2)
    clip += rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), length)
    return clip / max(1.0, np.abs(clip).max() / 0.99)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--words", nargs="+", default=["yes", "no", "up", "down", "stop"])
    parser.add_argument("--clips", type=int, default=50, help="clips per word")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--snr", type=float, nargs=2, default=(5.0, 30.0), help="dB range")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise-clips", type=int, default=50,
                        help="clips of noise alone in a '_noise' class (0: none)")
    parser.add_argument("--long", type=float, default=0.0,
                        help="also write OUT/long.wav of this many seconds and OUT/long.csv")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    length = round(args.seconds * RATE)
    for word in args.words:
        folder = args.out / "words" / word
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(args.clips):
            clip = noisy(utterance(word, rng), length, rng, rng.uniform(*args.snr))
            soundfile.write(str(folder / f"{k:03d}.wav"), clip, RATE, subtype="PCM_16")
    if args.noise_clips:
        folder = args.out / "words" / "_noise"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(args.noise_clips):
            level = 10 ** rng.uniform(-3, -1.3)  # the noise levels the words sit in
            clip = rng.normal(0.0, level, length)
            soundfile.write(str(folder / f"{k:03d}.wav"), clip, RATE, subtype="PCM_16")
    print(f"wrote {len(args.words)} × {args.clips} clips and {args.noise_clips} of noise "
          f"under {args.out / 'words'}")
    if args.long > 0:
        total = round(args.long * RATE)
        recording = np.zeros(total)
        rows = []
        position = RATE // 2
        while position + 2 * RATE < total:
            word = str(rng.choice(args.words))
            speech = utterance(word, rng)
            recording[position:position + len(speech)] = speech
            rows.append((word, position / RATE, (position + len(speech)) / RATE))
            position += len(speech) + int(rng.integers(RATE, 3 * RATE))
        power = np.mean([np.mean(recording[round(s * RATE):round(e * RATE)] ** 2)
                         for _, s, e in rows])
        recording += rng.normal(0.0, np.sqrt(power / 10 ** (np.mean(args.snr) / 10)), total)
        recording /= max(1.0, np.abs(recording).max() / 0.99)
        soundfile.write(str(args.out / "long.wav"), recording, RATE, subtype="PCM_16")
        with open(args.out / "long.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("word", "start_s", "end_s"))
            writer.writerows(rows)
        print(f"wrote {args.out / 'long.wav'} ({args.long:g} s, {len(rows)} words) and long.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
