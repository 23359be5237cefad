"""The small keyword task of the learning tests (tests/kws/test_learning.py, float;
tests/hardware/test_hardware_training.py, through the chip): 4 synthetic words (chance 0.25),
96 training and 48 held-out 0.5 s clips from disjoint seeds, a 24-neuron SynNet, 5 epochs."""

from __future__ import annotations

from synnet_triton.kws.data import EventSet, KeywordSetConfig, synthetic_event_set
from synnet_triton.kws.training import NetworkConfig, TrainConfig

LEARNED = 0.9  # held-out accuracy a run must reach
CHANCE_MARGIN = 0.5  # a defective run must stay below this (chance is 0.25)
NETWORK = NetworkConfig(n_classes=4, hidden=(24,), time_constants=(2,))
TRAINING = TrainConfig(epochs=5, batch_size=16, lr=1e-2, seed=0)


def keyword_task() -> tuple[EventSet, EventSet]:
    """(training set, held-out set)."""
    words = KeywordSetConfig(n_classes=4, seconds=0.5)
    return synthetic_event_set(96, 1, words), synthetic_event_set(48, 2, words)
