"""TimeStepDropout, alone and inside SynNet, and the optional Rockpool subpackage, vs Rockpool."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch
from rockpool.nn.modules import TimeStepDropout as RockpoolTimeStepDropout
from synnet_oracle import (
    CONFIGS,
    assert_gradients_match,
    build_pair,
    rockpool_forward,
    spike_input,
)

from synnet_triton.nn.dropout import TimeStepDropout


def test_training_mask_equals_rockpool_for_the_same_seed():
    x = torch.rand(3, 50, 7) + 0.5
    ours = TimeStepDropout(7, p=0.3)
    theirs = RockpoolTimeStepDropout(shape=7, p=0.3)
    torch.manual_seed(11)
    our_output = ours(x)
    torch.manual_seed(11)
    their_output, _, _ = theirs(x)
    assert torch.equal(our_output, their_output)
    dropped = (our_output == 0).float().mean()
    assert 0.2 < dropped < 0.4, "about p of the entries are dropped"
    kept = our_output != 0
    assert torch.equal(our_output[kept], x[kept]), "kept entries are not rescaled"


def test_evaluation_mode_is_the_identity_as_in_rockpool():
    x = torch.rand(2, 20, 5) + 0.5
    ours = TimeStepDropout(5, p=0.9).eval()
    theirs = RockpoolTimeStepDropout(shape=5, p=0.9)
    theirs.eval()
    their_output, _, _ = theirs(x)
    assert torch.equal(their_output, x)
    assert torch.equal(ours(x), x)


def test_synnet_in_training_mode_drops_what_rockpool_drops(monkeypatch: pytest.MonkeyPatch):
    config = dict(CONFIGS["two_layers_thresholds"], p_dropout=0.3)
    ours, theirs = build_pair(config)
    ours.train()
    theirs.train()
    x = spike_input(config["n_channels"])

    def zero_noise(size: tuple[int, ...], *args: object, **kwargs: object) -> torch.Tensor:
        return torch.zeros(size, device=kwargs.get("device"))  # type: ignore[arg-type]

    # Every Rockpool LIFTorch call draws its (zero-scaled) membrane noise from the global
    # generator; with those draws removed, both networks draw only the dropout masks, in the
    # same order, so the same seed must drop the same entries.
    with monkeypatch.context() as patched:
        patched.setattr(torch, "randn", zero_noise)
        torch.manual_seed(21)
        their_output = rockpool_forward(theirs, x)
        torch.manual_seed(21)
        our_output = ours(x)
    ours.eval()
    assert not torch.equal(ours(x), our_output), "dropout must change the output"
    assert torch.equal(our_output, their_output)

    assert_gradients_match(ours, theirs, our_output, their_output)


def test_invalid_probability_and_shape_are_errors():
    with pytest.raises(ValueError, match="p"):
        TimeStepDropout(4, p=1.5)
    with pytest.raises(ValueError, match="x"):
        TimeStepDropout(4, p=0.5)(torch.zeros(2, 3, 5))


def test_rockpool_subpackage_names_rockpool_when_it_is_missing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "rockpool", None)
    monkeypatch.delitem(sys.modules, "synnet_triton.rockpool", raising=False)
    with pytest.raises(ImportError, match="rockpool"):
        importlib.import_module("synnet_triton.rockpool")
