"""The audio front-end: band selectivity, silence, the event cap, rates and batching."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from synnet_triton.kws.audio import FrontEndConfig, audio_to_events, band_centres

CONFIG = FrontEndConfig()


def _tone(frequency: float, amplitude: float, seconds: float = 0.5) -> torch.Tensor:
    t = torch.arange(round(seconds * CONFIG.sample_rate), dtype=torch.float64) / CONFIG.sample_rate
    return (amplitude * torch.sin(2 * math.pi * frequency * t)).to(torch.float32)


def test_pure_tone_excites_its_own_band_most() -> None:
    centres = band_centres(CONFIG)
    tones = torch.stack([_tone(f, 0.1) for f in centres])
    events = audio_to_events(tones)  # (16, T, 16)
    per_channel = events.sum(dim=1)  # (tone, channel)
    assert per_channel.argmax(dim=1).tolist() == list(range(CONFIG.n_channels))


def test_event_rate_at_band_centre_matches_rectified_sine_mean() -> None:
    # At its centre a Butterworth band-pass has unit gain, so the rectified, smoothed envelope
    # is the mean of |A sin|, 2A/pi, and the integrate-and-fire encoder emits
    # 2A / (pi * threshold) events per step.
    amplitude = 0.05
    channel = 9
    events = audio_to_events(_tone(float(band_centres(CONFIG)[channel]), amplitude, seconds=1.0))
    expected_per_step = 2 * amplitude / (math.pi * CONFIG.event_threshold)
    # Skip the first 20 ms: the smoothing filter and the band-pass ring up there.
    measured_per_step = events[20:, channel].double().mean().item()
    assert measured_per_step == pytest.approx(expected_per_step, rel=0.03)


def test_silence_gives_no_events() -> None:
    events = audio_to_events(torch.zeros(3, 10 * CONFIG.sample_rate))
    assert events.shape == (3, 10_000, CONFIG.n_channels)
    assert int(events.abs().sum()) == 0


def test_counts_are_clipped_to_fifteen() -> None:
    generator = torch.Generator().manual_seed(0)
    loud = torch.randn(2, CONFIG.sample_rate // 4, generator=generator)
    events = audio_to_events(loud)
    assert events.dtype == torch.int32
    assert int(events.min()) >= 0
    # Unclipped, full-scale noise would emit far more than 15 events in a step: the cap binds.
    assert int(events.max()) == 15
    uncapped = audio_to_events(loud, FrontEndConfig(max_events=1000))
    assert int(uncapped.max()) > 15


def test_batch_rows_are_processed_independently() -> None:
    generator = torch.Generator().manual_seed(1)
    clips = 0.05 * torch.randn(3, 4_000, generator=generator)
    batched = audio_to_events(clips)
    for row in range(3):
        assert torch.equal(batched[row], audio_to_events(clips[row]))


def test_trailing_partial_step_is_dropped() -> None:
    events = audio_to_events(torch.zeros(1_000))
    assert events.shape == (1_000 // CONFIG.samples_per_step, CONFIG.n_channels)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        audio_to_events(torch.zeros(100, dtype=torch.int16))
    with pytest.raises(ValueError, match="shape"):
        audio_to_events(torch.zeros(1, 1, 100))
    with pytest.raises(ValueError, match="dt"):
        FrontEndConfig(dt=1.5e-5)
    with pytest.raises(ValueError, match="Nyquist"):
        FrontEndConfig(f_max=7_900.0)


@settings(max_examples=25, deadline=None)
@given(frequency=st.floats(150.0, 7_000.0), amplitude=st.floats(0.01, 0.15))
def test_every_channel_responds_to_any_tone_as_its_band_pass_says(
        frequency: float, amplitude: float) -> None:
    """For a tone anywhere in the bank's range, each channel's event rate is the rectified
    mean of the tone through that channel's Butterworth band-pass, 2·A·|H(f)| / (π · event
    threshold) per step, with |H| from scipy's own response of the same filter (the oracle);
    so the loudest channel is the band that holds the tone and far bands stay near silent."""
    from scipy import signal as scipy_signal

    events = audio_to_events(_tone(frequency, amplitude, seconds=1.0))
    measured = events[50:].double().mean(dim=0)  # past the filters' ring-up
    ratio = CONFIG.band_edge_ratio
    gains = []
    for centre in band_centres(CONFIG):
        sos = scipy_signal.butter(CONFIG.filter_order, [centre / ratio, centre * ratio],
                                  btype="band", fs=CONFIG.sample_rate, output="sos")
        gains.append(abs(scipy_signal.sosfreqz(sos, worN=[frequency],
                                                fs=CONFIG.sample_rate)[1][0]))
    expected = torch.tensor(gains) * 2 * amplitude / (math.pi * CONFIG.event_threshold)
    torch.testing.assert_close(measured, expected.double(), rtol=0.05, atol=0.02)
