"""What ``kws.training`` reports and keeps, checked against values computed outside it: the
per-epoch bookkeeping against the losses and logits the loop itself produced (recorded by
wrapping ``cross_entropy``), the validation choice against parameter snapshots, the network
``build_network`` builds against its config, ``evaluate``'s fields against the network's
own output. (Written for the mutants of training.py
that survived ``make mutation``, 2026-12-07.)"""

from __future__ import annotations

import dataclasses
import math
import time

import pytest
import torch
from keyword_task import NETWORK, TRAINING, keyword_task

import synnet_triton.kws.training as training
from synnet_triton.kws.data import EventSet
from synnet_triton.kws.training import (
    NetworkConfig,
    build_network,
    evaluate,
    train,
)
from synnet_triton.nn.linear import Linear


@pytest.fixture(scope="module")
def task() -> tuple[EventSet, EventSet]:
    return keyword_task()


def test_each_epoch_reports_the_mean_loss_and_the_share_right_of_its_batches(task, monkeypatch):
    calls: list[tuple[float, int, int]] = []  # (loss, clips, right) per optimiser step
    original = torch.nn.functional.cross_entropy

    def recording(logits, labels, *args, **kwargs):  # type: ignore[no-untyped-def]
        loss = original(logits, labels, *args, **kwargs)
        right = int((logits.argmax(dim=1) == labels).sum())
        calls.append((float(loss.detach()), len(labels), right))
        return loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", recording)
    net = build_network(NETWORK, backend="torch", seed=0, init_gain=TRAINING.init_gain)
    config = dataclasses.replace(TRAINING, epochs=2, batch_size=20)  # 96 clips: 4 × 20 + 16
    start = time.perf_counter()
    history = train(net, *task, config, progress=False)
    elapsed = time.perf_counter() - start
    per_epoch = len(calls) // 2
    assert per_epoch == 5
    for epoch, record in enumerate(history):
        batches = calls[epoch * per_epoch:(epoch + 1) * per_epoch]
        clips = sum(n for _, n, _ in batches)
        assert record.epoch == epoch + 1
        assert record.loss == pytest.approx(sum(loss * n for loss, n, _ in batches) / clips)
        assert record.train_accuracy == sum(right for *_, right in batches) / clips
    assert 0 < history[0].seconds < history[1].seconds <= elapsed


def test_with_a_validation_set_the_best_epoch_is_kept_the_last_on_a_tie(task, monkeypatch):
    """Validation scores scripted per epoch (0.5, 0.75, 0.75, 0.25): the parameters kept are
    those after epoch 3 (ties go to the later epoch), never the held-out set's choice."""
    train_set, test_set = task
    validation = EventSet(test_set.events[:8], test_set.labels[:8], test_set.class_names)
    scores = iter([0.5, 0.75, 0.75, 0.25])
    snapshots = []
    real_evaluate = training.evaluate

    def scripted(net, data, **kwargs):  # type: ignore[no-untyped-def]
        result = real_evaluate(net, data, **kwargs)
        if data is validation:
            snapshots.append({k: v.clone() for k, v in net.state_dict().items()})
            return dataclasses.replace(result, accuracy=next(scores))
        return result

    monkeypatch.setattr(training, "evaluate", scripted)
    net = build_network(NETWORK, backend="torch", seed=0, init_gain=TRAINING.init_gain)
    train(net, train_set, test_set, dataclasses.replace(TRAINING, epochs=4), progress=False,
          validation=validation)
    assert len(snapshots) == 4
    assert not all(torch.equal(snapshots[2][k], snapshots[3][k]) for k in snapshots[2])
    for key, value in net.state_dict().items():
        assert torch.equal(value, snapshots[2][key]), key


def test_the_epoch_log_names_the_validation_choice(task, monkeypatch, capsys):
    train_set, test_set = task
    validation = EventSet(test_set.events[:8], test_set.labels[:8], test_set.class_names)
    scores = iter([0.5, 0.25])
    real_evaluate = training.evaluate

    def scripted(net, data, **kwargs):  # type: ignore[no-untyped-def]
        result = real_evaluate(net, data, **kwargs)
        return dataclasses.replace(result, accuracy=next(scores)) if data is validation \
            else result

    monkeypatch.setattr(training, "evaluate", scripted)
    net = build_network(NETWORK, backend="torch", seed=0, init_gain=TRAINING.init_gain)
    train(net, train_set, test_set, dataclasses.replace(TRAINING, epochs=2), progress=False,
          log_epochs=True, validation=validation)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].endswith("  validation 0.500 (best so far)")
    assert lines[1].endswith("  validation 0.250")


@pytest.mark.parametrize("clips, batch_size, epochs", [(16, 16, 1), (96, 20, 2)])
def test_the_cosine_schedule_reaches_zero_after_the_last_batch(task, clips, batch_size, epochs):
    """Half a cosine over epochs × ⌈clips / batch⌉ steps, however the clips divide."""
    train_set, test_set = task
    subset = EventSet(train_set.events[:clips], train_set.labels[:clips],
                      train_set.class_names)
    net = build_network(NETWORK, backend="torch", seed=0, init_gain=TRAINING.init_gain)
    config = dataclasses.replace(TRAINING, epochs=epochs, batch_size=batch_size)
    history = train(net, subset, test_set, config, progress=False)
    per_epoch = math.ceil(clips / batch_size)
    expected = [0.5 * (1 + math.cos(math.pi * (e + 1) / epochs)) for e in range(epochs)]
    assert [r.lr / config.lr for r in history] == pytest.approx(expected, abs=1e-12)
    assert per_epoch * epochs >= 1


def test_build_network_builds_the_configured_spiking_synnet() -> None:
    config = NetworkConfig(n_classes=3, n_channels=5, hidden=(7, 6), time_constants=(2, 1),
                           dt=5e-4)
    net = build_network(config)  # the default backend: torch on this CPU
    assert [layer.n_neurons for layer in net.neuron_layers()] == [7, 6, 3]
    assert net.n_channels == 5 and net.dt == 5e-4 and net.output == "spikes"
    assert {layer.backend for layer in net.neuron_layers()} == {"auto"}
    torch_net = build_network(config, backend="torch")
    assert {layer.backend for layer in torch_net.neuron_layers()} == {"torch"}
    out = net(torch.ones(2, 10, 5))
    assert out.shape == (2, 10, 3)


def test_build_network_scales_every_weight_by_init_gain_and_refuses_zero() -> None:
    one = build_network(NETWORK, backend="torch", seed=4)
    half = build_network(NETWORK, backend="torch", seed=4, init_gain=0.5)
    linears = [m for m in one.modules() if isinstance(m, Linear)]
    halves = [m for m in half.modules() if isinstance(m, Linear)]
    for a, b in zip(linears, halves, strict=True):
        assert torch.equal(b.weight, a.weight * 0.5)
    with pytest.raises(ValueError, match="init_gain"):
        build_network(NETWORK, init_gain=0.0)


def test_evaluate_reports_the_networks_own_counts_and_its_rate(task) -> None:
    _, test_set = task
    net = build_network(NETWORK, backend="torch", seed=1, init_gain=1.0)
    start = time.perf_counter()
    result = evaluate(net, test_set, batch_size=16)
    assert result.seconds <= time.perf_counter() - start
    with torch.no_grad():
        counts = net(test_set.events.float()).sum(dim=1)
    assert torch.allclose(result.counts, counts)
    assert torch.equal(result.predictions, result.counts.argmax(dim=1))
    assert result.accuracy == float((result.predictions == test_set.labels).double().mean())
    assert result.seconds > 0
    assert result.clips_per_second == pytest.approx(len(test_set) / result.seconds)


def test_the_design_report_is_the_named_chips() -> None:
    fits = NetworkConfig(n_classes=4, hidden=(64,)).design_report("xylo-audio2")
    assert fits.fits and not fits.violations
    too_big = NetworkConfig(n_classes=4, hidden=(600, 500), time_constants=(2, 2))
    report = too_big.design_report("xylo-audio2")
    assert not report.fits and "1000" in str(report)
    # 600 hidden neurons fit Audio 2 (1000) but not the IMU (496)
    wide = NetworkConfig(n_classes=4, hidden=(600,))
    assert wide.design_report("xylo-audio2").fits and not wide.design_report("xylo-imu").fits


def test_evaluate_xylo_simulates_the_named_chip_and_quantisation(task) -> None:
    """Against the simulator run by hand on ``to_xylo(quantize, target)``; a network the
    target cannot hold is refused."""
    from synnet_triton.xylo import XyloSim
    from synnet_triton.xylo.design import DesignError

    _, test_set = task
    net = build_network(NETWORK, backend="torch", seed=2, init_gain=1.0)
    for quantize in ("global", "channel"):
        sim = XyloSim.from_specification(**net.to_xylo(quantize, "xylo-audio3"),
                                         target="xylo-audio3")
        counts = sim(test_set.events.long())[0].sum(dim=1).float()
        start = time.perf_counter()
        result = training.evaluate_xylo(net, test_set, batch_size=20, target="xylo-audio3",
                                        quantize=quantize)
        assert 0 < result.seconds <= time.perf_counter() - start
        assert torch.equal(result.counts, counts), quantize
    wide = build_network(NetworkConfig(n_classes=4, hidden=(600,)), backend="torch")
    with pytest.raises(DesignError, match="496"):
        training.evaluate_xylo(wide, test_set, target="xylo-imu")


def test_training_through_the_chip_uses_its_forward_and_measures_its_chip(task, monkeypatch):
    """With ``hardware`` every optimiser step runs the hardware module's forward, and the
    held-out accuracy is measured with its quantisation and target."""
    from synnet_triton.hardware import HardwareSynNet

    train_set, test_set = task
    net = build_network(NETWORK, backend="torch", seed=0, init_gain=TRAINING.init_gain)
    hardware = HardwareSynNet(net, quantize="channel", target="xylo-audio3")
    forwards = []
    original_forward = HardwareSynNet.forward

    def counting(self, x):  # type: ignore[no-untyped-def]
        forwards.append(x.shape[0])
        return original_forward(self, x)

    measured = []
    original_evaluate_xylo = training.evaluate_xylo

    def recording(net, data, **kwargs):  # type: ignore[no-untyped-def]
        measured.append((kwargs["quantize"], kwargs["target"]))
        return original_evaluate_xylo(net, data, **kwargs)

    monkeypatch.setattr(HardwareSynNet, "forward", counting)
    monkeypatch.setattr(training, "evaluate_xylo", recording)
    config = dataclasses.replace(TRAINING, epochs=1, batch_size=32)
    history = train(net, train_set, test_set, config, progress=False, hardware=hardware)
    assert forwards == [32, 32, 32]
    assert measured == [("channel", "xylo-audio3")]
    monkeypatch.setattr(training, "evaluate_xylo", original_evaluate_xylo)
    assert history[0].test_accuracy == training.evaluate_xylo(
        net, test_set, quantize="channel", target="xylo-audio3").accuracy
