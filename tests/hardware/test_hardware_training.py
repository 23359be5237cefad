"""Hardware-exact training (``kws.training.train(..., hardware=)``) must learn on the chip:
from scratch, a seeded run on the synthetic keyword task reaches a stated accuracy measured
on the bit-exact Xylo simulation of the trained network's ``to_xylo()``, the accuracy the
last epoch reported is that simulation's, and with its gradients zeroed it learns nothing.

Task as tests/kws/test_learning.py (4 synthetic words, chance 0.25, 96 training and 48
held-out 0.5 s clips, a 24-neuron SynNet), trained only through the chip's arithmetic.
Measured when written (2026-12-07, this 2-core CPU): the untrained network scores 0.25 on
the chip, then 0.42, 0.79, 0.98, 1.0, 1.0 per epoch at lr 1e-2, about 3 s in all.
"""

from __future__ import annotations

import pytest
import torch
from keyword_task import CHANCE_MARGIN, LEARNED, NETWORK, TRAINING, keyword_task

from synnet_triton.hardware import HardwareSynNet
from synnet_triton.kws.data import EventSet
from synnet_triton.kws.training import (
    TrainConfig,
    build_network,
    evaluate_xylo,
    train,
)
from synnet_triton.nn.synnet import SynNet


@pytest.fixture(scope="module")
def task() -> tuple[EventSet, EventSet]:
    return keyword_task()


def _network() -> tuple[SynNet, dict[str, torch.Tensor]]:
    net = build_network(NETWORK, backend="torch", seed=0, init_gain=TRAINING.init_gain)
    return net, {name: p.detach().clone() for name, p in net.named_parameters()}


def test_training_through_the_chip_from_scratch_learns_on_the_chip(task, capsys) -> None:
    train_set, test_set = task
    net, initial = _network()
    assert evaluate_xylo(net, test_set).accuracy < CHANCE_MARGIN
    history = train(net, train_set, test_set, TRAINING, progress=False, log_epochs=True,
                    hardware=HardwareSynNet(net))
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.endswith(f"held-out on the chip {history[-1].test_accuracy:.3f}")
    chip = evaluate_xylo(net, test_set)
    assert history[-1].test_accuracy == chip.accuracy  # what training reported is the chip's
    assert chip.accuracy >= LEARNED
    assert history[-1].loss < history[0].loss
    assert any(not torch.equal(p, initial[name]) for name, p in net.named_parameters())


def test_with_gradients_zeroed_training_through_the_chip_learns_nothing(task) -> None:
    net, initial = _network()
    for parameter in net.parameters():
        parameter.register_hook(torch.zeros_like)
    train(net, *task, TRAINING, progress=False, hardware=HardwareSynNet(net))
    assert all(torch.equal(p, initial[name]) for name, p in net.named_parameters())
    assert evaluate_xylo(net, task[1]).accuracy < CHANCE_MARGIN


def test_the_hardware_module_must_wrap_the_trained_network(task) -> None:
    net, _ = _network()
    other, _ = _network()
    with pytest.raises(ValueError, match=r"^hardware must wrap net itself \(HardwareSynNet\("):
        train(net, *task, TRAINING, progress=False, hardware=HardwareSynNet(other))


def test_zero_epochs_train_nothing(task) -> None:
    net, initial = _network()
    config = TrainConfig(epochs=0)
    assert train(net, *task, config, progress=False) == []
    assert all(torch.equal(p, initial[name]) for name, p in net.named_parameters())
