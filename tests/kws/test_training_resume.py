"""``train`` interrupted and resumed ends bitwise where the uninterrupted run ends, and a run
that meets a non-finite loss, gradient or parameter stops naming the epoch and batch.

The oracle is the same training run once more, uninterrupted; the progress goes through
``torch.save``/``torch.load(weights_only=True)`` as it does on disk."""

from __future__ import annotations

import dataclasses
import io

import pytest
import torch
from bits import bitwise_equal
from keyword_task import NETWORK, TRAINING, keyword_task

from synnet_triton.kws.data import EventSet
from synnet_triton.kws.training import (
    TrainConfig,
    TrainingDiverged,
    TrainingProgress,
    build_network,
    train,
)
from synnet_triton.nn.synnet import SynNet

CONFIG = dataclasses.replace(TRAINING, epochs=3, batch_size=32)


@pytest.fixture(scope="module")
def task() -> tuple[EventSet, EventSet]:
    return keyword_task()


def _through_disk(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _net(p_dropout: float = 0.0) -> SynNet:
    """The task's network; with ``p_dropout`` training draws from the global generator."""
    if not p_dropout:
        return build_network(NETWORK, backend="torch", seed=0, init_gain=CONFIG.init_gain)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return SynNet(n_classes=NETWORK.n_classes, n_channels=NETWORK.n_channels,
                      size_hidden_layers=list(NETWORK.hidden),
                      time_constants_per_layer=list(NETWORK.time_constants), dt=NETWORK.dt,
                      output="spikes", backend="torch", p_dropout=p_dropout)


@pytest.mark.parametrize("stop_after", [1, 2])
@pytest.mark.parametrize("with_validation, p_dropout", [(False, 0.0), (True, 0.0),
                                                        (False, 0.3)])
def test_a_resumed_run_ends_bitwise_where_the_uninterrupted_one_ends(
        task, stop_after: int, with_validation: bool, p_dropout: float) -> None:
    """With validation the best epoch's snapshot travels in the progress too; with dropout
    the global generator's state does."""
    train_set, test_set = task
    validation = test_set if with_validation else None
    torch.manual_seed(5)
    reference = _net(p_dropout)
    whole = train(reference, train_set, test_set, CONFIG, progress=False, validation=validation)

    saved: dict = {}

    def keep(progress: TrainingProgress) -> None:
        if progress.epochs == stop_after:
            saved["net"] = _through_disk(dict(first.state_dict()))
            saved["progress"] = _through_disk(progress.to_dict())

    torch.manual_seed(5)
    first = _net(p_dropout)
    train(first, train_set, test_set, CONFIG, progress=False, validation=validation,
          on_epoch=keep)
    torch.manual_seed(1234)  # the resumed process's generators start elsewhere
    resumed = _net(p_dropout)
    resumed.load_state_dict(saved["net"])
    history = train(resumed, train_set, test_set, CONFIG, progress=False,
                    validation=validation,
                    resume=TrainingProgress.from_dict(saved["progress"]))
    for (name, a), (_, b) in zip(reference.state_dict().items(),
                                 resumed.state_dict().items(), strict=True):
        assert bitwise_equal(b, a), name
    assert [r.loss for r in history] == [r.loss for r in whole]
    assert [r.test_accuracy for r in history] == [r.test_accuracy for r in whole]
    assert len(history) == CONFIG.epochs


def test_progress_is_reported_after_every_epoch(task) -> None:
    seen: list[int] = []
    train(_net(), *task, dataclasses.replace(CONFIG, epochs=2), progress=False,
          on_epoch=lambda progress: seen.append(progress.epochs))
    assert seen == [1, 2]


def test_a_non_finite_loss_stops_naming_the_epoch_and_batch(task) -> None:
    """NaN put into a weight after epoch 1: the first batch of epoch 2 has a NaN loss; the
    state of epoch 1 was the last one handed out."""
    net = _net()
    seen: list[int] = []

    def break_after_first(progress: TrainingProgress) -> None:
        seen.append(progress.epochs)
        with torch.no_grad():
            next(net.parameters()).fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match="epoch 2, batch 1: the loss is nan") as caught:
        train(net, *task, CONFIG, progress=False, on_epoch=break_after_first)
    assert (caught.value.epoch, caught.value.batch) == (2, 1)
    assert seen == [1]


def test_a_step_past_float32_stops_the_run(task) -> None:
    """lr 1e38: Adam's step size overflows float32 on the first step."""
    with pytest.raises(TrainingDiverged, match="epoch 1, batch 1: the optimiser step"):
        train(_net(), *task, dataclasses.replace(CONFIG, lr=1e38), progress=False)


def test_a_gradient_that_overflows_stops_before_the_step(task, monkeypatch) -> None:
    """A gradient made infinite in the backward of the second batch: stopped there, the
    parameters untouched by it."""
    net = _net()
    calls = []
    original = torch.Tensor.backward

    def backward(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            next(net.parameters()).grad.view(-1)[0] = float("inf")  # type: ignore[union-attr]

    monkeypatch.setattr(torch.Tensor, "backward", backward)
    with pytest.raises(TrainingDiverged, match="epoch 1, batch 2: a gradient"):
        train(net, *task, CONFIG, progress=False)
    assert all(bool(torch.isfinite(p).all()) for p in net.parameters())


@pytest.mark.parametrize("field", ["lr", "init_gain", "logit_scale"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_settings_are_refused_by_name(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{field} must be finite"):
        TrainConfig(**{field: value})
