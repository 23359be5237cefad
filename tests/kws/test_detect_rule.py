"""The detection rule as a property, whatever the readout: for random readout spike trains
(hypothesis), class names with and without the background prefix ``_``, thresholds, window,
hop and chunk sizes, ``detect_keywords`` streaming a recording in chunks reports exactly the
detections the rule as documented (docs/kws.md, the module docstring of kws/detect.py) gives
when computed at once over the whole readout by the plain loop below; so no detection is
ever a background class, every confidence is at least ``min_share``, and chunking changes
nothing. The network is replaced by a readout that replays a fixed spike train. (It found
that a silent readout with ``min_spikes=0`` was reported as one keyword over the whole
recording, confidence 0: a window now needs at least one spike.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synnet_triton.kws import detect
from synnet_triton.kws.audio import FrontEndConfig
from synnet_triton.kws.detect import Detection, DetectorConfig, detect_keywords

SECONDS = 2.0


def _rule(spikes: np.ndarray, names: list[str], config: DetectorConfig, dt: float,
          ) -> list[Detection]:
    """Every ``hop`` steps, the last ``window`` steps' counts; active when they hold
    ``min_spikes`` and at least one spike, of which the top class (the first on a tie) has
    ``min_share`` and is not ``_``-named; runs of one class's active windows with gaps up
    to ``merge_gap`` (plus the hop between windows) are one detection from the first
    window's start to the last one's end, its confidence the mean share."""
    window, hop = round(config.window / dt), max(1, round(config.hop / dt))
    gap = round(config.merge_gap / dt) + round(config.hop / dt)
    active = []
    for end in range(window, len(spikes) + 1):
        if end % hop:
            continue
        counts = spikes[end - window:end].sum(axis=0)
        total, top = counts.sum(), int(np.argmax(counts))
        if total >= config.min_spikes and total > 0 and counts[top] >= config.min_share * total \
                and not names[top].startswith("_"):
            active.append((end, top, counts[top] / max(total, 1e-9)))
    runs: list[list[tuple[int, int, float]]] = []
    for entry in active:
        if runs and entry[1] == runs[-1][-1][1] and entry[0] - runs[-1][-1][0] <= gap:
            runs[-1].append(entry)
        else:
            runs.append([entry])
    return [Detection(names[run[0][1]], round((run[0][0] - window) * dt, 6),
                      round(run[-1][0] * dt, 6), round(float(np.mean([s for *_, s in run])), 4))
            for run in runs]


class _Replay:
    """Stands in for the network: the next rows of a fixed readout spike train per call."""

    spikes: torch.Tensor

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.position = 0

    def __call__(self, events: torch.Tensor, dt: float) -> torch.Tensor:
        rows = self.spikes[self.position:self.position + events.shape[0]]
        self.position += events.shape[0]
        return rows


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rule") / "quiet.wav"
    rng = np.random.default_rng(0)
    soundfile.write(str(path), 0.01 * rng.standard_normal(int(SECONDS * 16_000)), 16_000)
    return path


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    background=st.lists(st.booleans(), min_size=2, max_size=5),
    rates=st.lists(st.floats(0.0, 0.4), min_size=5, max_size=5),
    seed=st.integers(0, 2**16),
    window=st.sampled_from([0.2, 0.5]),
    hop=st.sampled_from([0.01, 0.05, 0.1]),
    merge_gap=st.sampled_from([0.0, 0.1]),
    min_share=st.floats(0.05, 1.0),
    min_spikes=st.sampled_from([0.0, 5.0, 30.0]),
    chunk=st.sampled_from([0.3, 0.7, 5.0]),
)
def test_streamed_detections_are_the_rule_applied_at_once(
        recording: Path, monkeypatch: pytest.MonkeyPatch, background: list[bool],
        rates: list[float], seed: int, window: float, hop: float, merge_gap: float,
        min_share: float, min_spikes: float, chunk: float) -> None:
    names = [("_bg" if b else "w") + str(k) for k, b in enumerate(background)]
    front_end = FrontEndConfig()
    steps = int(SECONDS * front_end.sample_rate) // front_end.samples_per_step
    generator = torch.Generator().manual_seed(seed)
    probabilities = torch.tensor(rates[:len(names)]).expand(steps, len(names))
    spikes = torch.bernoulli(probabilities, generator=generator)
    _Replay.spikes = spikes
    monkeypatch.setattr(detect, "_Readout", _Replay)
    config = DetectorConfig(window=window, hop=hop, merge_gap=merge_gap, min_share=min_share,
                            min_spikes=min_spikes, chunk_seconds=chunk)
    run = detect_keywords(torch.nn.Linear(1, 1), recording, names, config)  # type: ignore[arg-type]
    expected = _rule(spikes.numpy(), names, config, front_end.dt)
    assert run.seconds == pytest.approx(steps * front_end.dt)
    assert [(d.word, d.start_s, d.end_s) for d in run.detections] == \
        [(d.word, d.start_s, d.end_s) for d in expected]
    assert run.detections_at(min_share) == run.detections
    for ours, theirs in zip(run.detections, expected, strict=True):
        assert ours.confidence == pytest.approx(theirs.confidence, abs=2e-4)
        assert not ours.word.startswith("_") and ours.confidence >= min_share - 1e-4
