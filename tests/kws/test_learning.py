"""Training must learn: a small seeded run on the synthetic keyword task reaches a stated
held-out accuracy, and the same run with a planted defect does not.

Task: 4 synthetic words (chance 0.25), 96 training and 48 held-out 0.5 s clips from disjoint
seeds, a 24-neuron SynNet, 5 epochs of ``kws.training.train`` on the torch backend (about
5 s on 2 cores). Measured when written (2026-12-02): held-out 0.44, 0.75, 1.0, 1.0, 1.0 per
epoch; the untrained network scores 0.25.

The defects are planted from outside through documented torch mechanisms, so the training
code carries no test hooks, and each plant is verified to have taken effect:

- no parameter update: ``torch.optim.Adam.step`` replaced by a no-op (parameters must come
  out unchanged);
- gradients zeroed: ``Tensor.register_hook`` on every parameter returns zeros (Adam's
  update of a zero gradient is zero: parameters unchanged);
- labels shuffled: a fixed permutation of the training labels (the held-out labels stay
  right), so nothing learnable links inputs to labels.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from keyword_task import CHANCE_MARGIN, LEARNED, NETWORK, TRAINING, keyword_task

from synnet_triton.kws.data import EventSet
from synnet_triton.kws.training import (
    NetworkConfig,
    TrainConfig,
    build_network,
    evaluate,
    train,
)
from synnet_triton.nn.synnet import SynNet


@pytest.fixture(scope="module")
def task() -> tuple[EventSet, EventSet]:
    return keyword_task()


def _run(train_set: EventSet, test_set: EventSet) -> tuple[SynNet, dict[str, torch.Tensor], float]:
    """(trained net, its initial parameters, held-out accuracy after training)."""
    net = build_network(NETWORK, backend="torch", seed=0, init_gain=TRAINING.init_gain)
    initial = {name: p.detach().clone() for name, p in net.named_parameters()}
    history = train(net, train_set, test_set, TRAINING, progress=False)
    final = evaluate(net, test_set).accuracy
    assert history[-1].test_accuracy == final
    return net, initial, final


def _unchanged(net: SynNet, initial: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(p, initial[name]) for name, p in net.named_parameters())


def test_training_reaches_the_stated_accuracy(task, capsys) -> None:
    net = build_network(NETWORK, backend="torch", seed=0, init_gain=TRAINING.init_gain)
    initial = {name: p.detach().clone() for name, p in net.named_parameters()}
    history = train(net, *task, TRAINING, progress=False, log_epochs=True)
    accuracy = evaluate(net, task[1]).accuracy
    assert history[-1].test_accuracy == accuracy
    assert history[-1].train_accuracy >= LEARNED  # counted on the fly over the last epoch
    # the mean cross-entropy per clip: positive, below ln 4 (chance) once it has learned
    assert all(record.loss > 0 for record in history)
    assert history[-1].loss < history[0].loss and history[-1].loss < math.log(4)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == (f"epoch {TRAINING.epochs}: loss {history[-1].loss:.3f}  train "
                    f"{history[-1].train_accuracy:.3f}  held-out {accuracy:.3f}")
    assert not _unchanged(net, initial)
    untrained = build_network(NETWORK, backend="torch", seed=0, init_gain=TRAINING.init_gain)
    assert evaluate(untrained, task[1]).accuracy < CHANCE_MARGIN
    assert accuracy >= LEARNED


def test_without_parameter_updates_it_does_not_learn(task, monkeypatch) -> None:
    monkeypatch.setattr(torch.optim.Adam, "step", lambda self, closure=None: None)
    net, initial, accuracy = _run(*task)
    assert _unchanged(net, initial)
    assert accuracy < CHANCE_MARGIN


def test_with_gradients_zeroed_it_does_not_learn(task, monkeypatch) -> None:
    original = build_network

    def zero_gradient_network(*args, **kwargs):  # type: ignore[no-untyped-def]
        net = original(*args, **kwargs)
        for parameter in net.parameters():
            parameter.register_hook(torch.zeros_like)
        return net

    monkeypatch.setattr(f"{__name__}.build_network", zero_gradient_network)
    net, initial, accuracy = _run(*task)
    assert _unchanged(net, initial)
    assert accuracy < CHANCE_MARGIN


def test_with_shuffled_training_labels_it_does_not_learn(task) -> None:
    train_set, test_set = task
    permutation = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(5))
    shuffled = dataclasses.replace(train_set, labels=train_set.labels[permutation])
    assert (shuffled.labels == train_set.labels).double().mean() < 0.5
    net, initial, accuracy = _run(shuffled, test_set)
    assert not _unchanged(net, initial)
    assert accuracy < CHANCE_MARGIN


def test_training_settings_accept_what_they_document() -> None:
    """Each bound exactly: the smallest value allowed passes, the next one out fails."""
    smallest = {"init_gain": 1e-9, "epochs": 0, "batch_size": 1, "lr": 1e-9,
                "logit_scale": 1e-9, "schedule": "constant"}
    for name, value in smallest.items():
        assert getattr(TrainConfig(**{name: value}), name) == value
    for bad in ({"init_gain": 0.0}, {"epochs": -1}, {"batch_size": 0}, {"lr": 0.0},
                {"logit_scale": 0.0}, {"schedule": "linear"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainConfig(**bad)


def test_a_network_needs_one_time_constant_count_per_hidden_layer() -> None:
    assert NetworkConfig(hidden=(8, 4), time_constants=(2, 1)).hidden == (8, 4)
    with pytest.raises(ValueError, match="same length"):
        NetworkConfig(hidden=(8, 4), time_constants=(2,))


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_the_learning_rate_follows_its_schedule(task, schedule) -> None:
    """Half a cosine from lr to 0 over all steps (6 batches of 16 per epoch), or constant."""
    net = build_network(NETWORK, backend="torch", seed=0, init_gain=TRAINING.init_gain)
    config = dataclasses.replace(TRAINING, epochs=2, schedule=schedule)
    history = train(net, *task, config, progress=False)
    expected = [0.5 * (1 + math.cos(math.pi * done / 12)) if schedule == "cosine" else 1.0
                for done in (6, 12)]
    assert [r.lr for r in history] == pytest.approx([config.lr * e for e in expected])


def test_build_network_defaults_are_the_documented_ones() -> None:
    default = build_network(NETWORK, backend="torch")
    explicit = build_network(NETWORK, backend="torch", seed=0, init_gain=1.0)
    for (name, a), (_, b) in zip(default.state_dict().items(), explicit.state_dict().items(),
                                 strict=True):
        assert torch.equal(a, b), name


def test_every_epoch_visits_the_training_clips_in_a_new_seeded_order(task, monkeypatch):
    orders = []
    original = EventSet.batches

    def recording(self, batch_size, generator=None):  # type: ignore[no-untyped-def]
        if generator is not None:  # the order this call will draw, from a copy of its state
            copy = torch.Generator()
            copy.set_state(generator.get_state())
            orders.append(torch.randperm(len(self), generator=copy))
        yield from original(self, batch_size, generator)

    monkeypatch.setattr(EventSet, "batches", recording)
    net = build_network(NETWORK, backend="torch", seed=0, init_gain=TRAINING.init_gain)
    train(net, *task, dataclasses.replace(TRAINING, epochs=2), progress=False)
    assert len(orders) == 2  # the training set, once per epoch, shuffled
    assert not torch.equal(orders[0], orders[1])
    expected = torch.Generator().manual_seed(TRAINING.seed)
    assert torch.equal(orders[0], torch.randperm(len(task[0]), generator=expected))
