"""Audio front-end: 16 kHz mono audio to integer event counts per channel per time step.

The pipeline follows the Xylo Audio front-end in spirit (not bit-exact to its analogue chip):

1. band-pass filterbank: ``n_channels`` Butterworth band-pass filters with log-spaced centre
   frequencies, applied as zero-phase magnitude responses in the frequency domain (one FFT of
   the zero-padded clip, one inverse FFT per channel);
2. full-wave rectification;
3. smoothing: the rectified signal is averaged over each time step ``dt`` (a boxcar low-pass
   that also down-samples to the network's time grid), then optionally passed through a causal
   one-pole low-pass with time constant ``smoothing_tau``;
4. spike encoding: an integrate-and-fire encoder with subtractive reset per channel, so the
   number of events in a step is the number of times the running integral of the envelope
   crossed a multiple of ``event_threshold``; counts are clipped to ``max_events`` (15 on Xylo).

All of it is vectorised over the batch and over time; only the channel loop is in Python, so
a long clip never materialises all ``n_channels`` filtered copies of itself at once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from scipy import signal
from torch import Tensor

from synnet_triton.xylo.chip import MAX_INPUT_EVENTS

__all__ = ["FrontEndConfig", "band_centres", "filterbank_response", "audio_to_events"]



@dataclass(frozen=True)
class FrontEndConfig:
    """Parameters of :func:`audio_to_events`.

    sample_rate:     audio sample rate in Hz (16 kHz on Xylo Audio).
    dt:              network time step in seconds; must be a whole number of samples.
    n_channels:      number of band-pass channels (16 inputs on Xylo).
    f_min, f_max:    lowest and highest centre frequency in Hz; centres are log-spaced between.
    filter_order:    Butterworth order of each band-pass (scipy's ``butter(..., btype="band")``).
    bandwidth:       band edges are ``centre / r`` and ``centre * r`` with
                     ``r = (f_max / f_min) ** (bandwidth / (2 * (n_channels - 1)))``; 1.0 makes
                     neighbouring bands meet at their edges.
    smoothing_tau:   time constant in seconds of the one-pole low-pass applied to the per-step
                     envelope; 0 disables it.
    event_threshold: envelope integral (amplitude · steps) that produces one event.
    max_events:      largest event count per channel per step.
    """

    sample_rate: int = 16_000
    dt: float = 1e-3
    n_channels: int = 16
    f_min: float = 200.0
    f_max: float = 6_000.0
    filter_order: int = 2
    bandwidth: float = 1.0
    smoothing_tau: float = 2e-3
    event_threshold: float = 0.01
    max_events: int = MAX_INPUT_EVENTS

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        samples = self.dt * self.sample_rate
        if self.dt <= 0 or abs(samples - round(samples)) > 1e-6 or round(samples) < 1:
            raise ValueError(
                f"dt must be a positive whole number of samples at {self.sample_rate} Hz, "
                f"got dt={self.dt}"
            )
        if self.n_channels < 2:
            raise ValueError(f"n_channels must be at least 2, got {self.n_channels}")
        if not 0 < self.f_min < self.f_max:
            raise ValueError(f"need 0 < f_min < f_max, got f_min={self.f_min}, f_max={self.f_max}")
        if self.bandwidth <= 0:
            raise ValueError(f"bandwidth must be positive, got {self.bandwidth}")
        if self.band_edge_ratio * self.f_max >= self.sample_rate / 2:
            raise ValueError(
                f"the top band's upper edge {self.band_edge_ratio * self.f_max:.0f} Hz must stay "
                f"below the Nyquist frequency {self.sample_rate / 2:.0f} Hz; lower f_max"
            )
        if self.filter_order < 1:
            raise ValueError(f"filter_order must be at least 1, got {self.filter_order}")
        if self.smoothing_tau < 0:
            raise ValueError(f"smoothing_tau must be >= 0, got {self.smoothing_tau}")
        if self.event_threshold <= 0:
            raise ValueError(f"event_threshold must be positive, got {self.event_threshold}")
        if self.max_events < 1:
            raise ValueError(f"max_events must be at least 1, got {self.max_events}")

    @property
    def samples_per_step(self) -> int:
        return round(self.dt * self.sample_rate)

    @property
    def band_edge_ratio(self) -> float:
        return (self.f_max / self.f_min) ** (self.bandwidth / (2 * (self.n_channels - 1)))


def band_centres(config: FrontEndConfig) -> np.ndarray:
    """Centre frequencies in Hz, shape (n_channels,), log-spaced from f_min to f_max."""
    return np.geomspace(config.f_min, config.f_max, config.n_channels)


@functools.lru_cache(maxsize=8)
def filterbank_response(config: FrontEndConfig, n_fft: int) -> Tensor:
    """Magnitude responses of the band-pass filters at the rfft bins of an ``n_fft`` FFT.

    Returns a float32 tensor of shape (n_channels, n_fft // 2 + 1); cached per (config,
    n_fft), since a stream of equal chunks asks for the same one each time (do not modify
    it in place).
    """
    frequencies = np.fft.rfftfreq(n_fft, d=1.0 / config.sample_rate)
    ratio = config.band_edge_ratio
    responses = []
    for centre in band_centres(config):
        sos = signal.butter(
            config.filter_order,
            [centre / ratio, centre * ratio],
            btype="bandpass",
            fs=config.sample_rate,
            output="sos",
        )
        _, h = signal.sosfreqz(sos, worN=frequencies, fs=config.sample_rate)
        responses.append(np.abs(h))
    return torch.from_numpy(np.stack(responses).astype(np.float32))


def _smooth(envelope: Tensor, config: FrontEndConfig) -> Tensor:
    """Causal one-pole low-pass along the last axis of ``envelope`` (..., T), as a convolution.

    y[t] = (1 - a) * sum_k a^k x[t - k] with a = exp(-dt / tau); the kernel is truncated where
    a^k drops below 1e-4 of its first tap, so the DC gain is 1 to within that.
    """
    if config.smoothing_tau == 0:
        return envelope
    decay = float(np.exp(-config.dt / config.smoothing_tau))
    taps = max(1, int(np.ceil(np.log(1e-4) / np.log(decay))))
    kernel = (1 - decay) * decay ** torch.arange(taps, dtype=envelope.dtype)
    kernel = kernel / kernel.sum()
    # conv1d is a correlation: flip the causal kernel and pad only on the left.
    weight = kernel.flip(0).view(1, 1, taps)
    shape = envelope.shape
    flat = torch.nn.functional.pad(envelope.reshape(-1, 1, shape[-1]), (taps - 1, 0))
    return torch.nn.functional.conv1d(flat, weight).reshape(shape)


def _encode(envelope: Tensor, config: FrontEndConfig) -> Tensor:
    """Integrate-and-fire encoding with subtractive reset, (..., T) float -> (..., T) int32.

    The count at step t is floor(C_t / θ) - floor(C_{t-1} / θ) with C the running sum of the
    envelope: exactly the events an integrate-and-fire neuron with threshold θ and subtractive
    reset emits. The sum runs in float64 so long clips keep their resolution.
    """
    integral = torch.cumsum(envelope.to(torch.float64), dim=-1) / config.event_threshold
    crossings = torch.floor(integral)
    counts = torch.diff(crossings, dim=-1, prepend=torch.zeros_like(crossings[..., :1]))
    return counts.clamp(0, config.max_events).to(torch.int32)


def audio_to_events(audio: Tensor, config: FrontEndConfig | None = None) -> Tensor:
    """Turn mono audio into event counts per channel per time step.

    Args:
        audio:  (B, L) or (L,) float samples at ``config.sample_rate``, nominally in [-1, 1].
                L need not be a multiple of the step; the trailing partial step is dropped.
        config: front-end parameters; :class:`FrontEndConfig` defaults if None.

    Returns:
        int32 tensor (B, T, n_channels), or (T, n_channels) for 1-D input, with
        T = L // samples_per_step and every entry in [0, config.max_events].
    """
    config = config or FrontEndConfig()
    if not isinstance(config, FrontEndConfig):
        raise TypeError(f"config must be a FrontEndConfig or None, got {type(config).__name__}")
    if not isinstance(audio, Tensor):
        raise TypeError(f"audio must be a torch.Tensor, got {type(audio).__name__}")
    if audio.dim() not in (1, 2):
        raise ValueError(f"audio must have shape (L,) or (B, L), got {tuple(audio.shape)}")
    if not audio.is_floating_point():
        raise TypeError(f"audio must be a floating-point tensor, got {audio.dtype}")
    if not bool(torch.isfinite(audio).all()):
        raise ValueError("audio must be finite: it holds NaN or ±Inf samples")
    squeeze = audio.dim() == 1
    batch = audio.reshape(1, -1) if squeeze else audio
    step = config.samples_per_step
    n_steps = batch.shape[1] // step
    if n_steps == 0:
        raise ValueError(
            f"audio must hold at least one time step ({step} samples), got {batch.shape[1]}"
        )
    samples = batch[:, : n_steps * step].to(torch.float32)
    # Zero padding keeps the circular convolution of the FFT from wrapping one end of the
    # clip onto the other: the filters' impulse responses decay well within 50 ms.
    padding = config.sample_rate // 20
    n_fft = samples.shape[1] + 2 * padding
    spectrum = torch.fft.rfft(torch.nn.functional.pad(samples, (padding, padding)), n=n_fft)
    responses = filterbank_response(config, n_fft).to(samples.device)
    envelopes = []
    for response in responses:
        band = torch.fft.irfft(spectrum * response, n=n_fft)[
            :, padding : padding + samples.shape[1]
        ]
        envelopes.append(band.abs().reshape(batch.shape[0], n_steps, step).mean(dim=-1))
    envelope = _smooth(torch.stack(envelopes, dim=1), config)  # (B, C, T)
    events = _encode(envelope, config).transpose(1, 2).contiguous()  # (B, T, C)
    return events[0] if squeeze else events
