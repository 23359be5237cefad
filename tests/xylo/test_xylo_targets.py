"""Xylo Audio 3 and Xylo IMU: the simulator against Rockpool's `syns63300.XyloSim` (which
Rockpool uses for both), sample by sample, on saturating specs with input and output expansion
windows; `SynNet.to_xylo(target=...)` against each target's Rockpool mapper + quantiser."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xylo_oracle import (
    TARGET_MAPPERS,
    TARGET_SIMULATORS,
    rockpool_channel_quantize,
    rockpool_global_quantize,
)

from synnet_triton.nn.synnet import SynNet
from synnet_triton.rockpool import synnet_to_rockpool
from synnet_triton.xylo import XyloSim

V2_TARGETS = ("xylo-audio3", "xylo-imu")


@st.composite
def windowed_specs(draw: st.DrawFn, target: str) -> tuple[dict[str, Any], np.ndarray]:
    """A spec whose inputs reach only the first IEN hidden neurons and whose readout is fed by
    the last OEN, saturating (full int8 weights, large shifts, many events), and a batch."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_hidden = draw(st.integers(2, 12))
    n_ien = draw(st.integers(1, n_hidden))
    n_oen = draw(st.integers(1, n_hidden))
    n_in, n_out = draw(st.integers(1, 16)), draw(st.integers(1, 4))
    synapses = 1 if target == "xylo-imu" else draw(st.sampled_from([1, 2]))
    scale = draw(st.sampled_from([4, 128]))
    shifts = st.integers(0, 15) if scale == 128 else st.integers(0, 4)

    def weights(shape: tuple[int, ...], density: float) -> np.ndarray:
        return rng.integers(-scale, scale, shape) * (rng.random(shape) < density)

    def thresholds(count: int) -> np.ndarray:
        positive = rng.integers(1, 20000, count) // rng.integers(1, 50, count)
        return np.where(rng.random(count) < 0.2, rng.integers(-32768, 1, count), positive)

    spec: dict[str, Any] = {
        "weights_in": weights((n_in, n_ien, synapses), 0.7),
        "weights_rec": weights((n_hidden, n_hidden, synapses), 0.4),
        "weights_out": weights((n_oen, n_out), 0.8),
        "dash_mem": rng.integers(0, 16, n_hidden),
        "dash_syn": rng.integers(0, 16, n_hidden),
        "dash_syn_2": rng.integers(0, 16, n_hidden),
        "dash_mem_out": rng.integers(0, 16, n_out),
        "dash_syn_out": rng.integers(0, 16, n_out),
        "threshold": thresholds(n_hidden),
        "threshold_out": thresholds(n_out),
        "bias": rng.integers(-2000, 2000, n_hidden) * (rng.random(n_hidden) < 0.6),
        "bias_out": rng.integers(-2000, 2000, n_out),
        "weight_shift_in": draw(shifts),
        "weight_shift_rec": draw(shifts),
        "weight_shift_out": draw(shifts),
    }
    if draw(st.booleans()):
        spec["aliases"] = [[int(t) for t in rng.integers(0, n_hidden, rng.integers(1, 3))]
                           if rng.random() < 0.4 else [] for _ in range(n_hidden)]
    steps = draw(st.integers(1, 25))
    events = rng.integers(0, 40, (3, steps, n_in)) * (rng.random((3, steps, n_in)) < 0.4)
    return spec, events


def assert_matches_rockpool(target: str, spec: dict[str, Any], events: np.ndarray) -> None:
    output, _, record = XyloSim.from_specification(**spec, target=target)(
        torch.from_numpy(events), record=True)
    for sample, sample_events in enumerate(events):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = TARGET_SIMULATORS[target].from_specification(**spec)
        ref_output, _, ref_record = reference(sample_events, record=True)
        assert set(record) == set(ref_record), (set(record), set(ref_record))
        assert np.array_equal(output[sample].numpy(), np.asarray(ref_output)), sample
        for key, value in ref_record.items():
            assert np.array_equal(record[key][sample].numpy(), np.asarray(value)), (key, sample)


@pytest.mark.parametrize("target", V2_TARGETS)
def test_windowed_specs_match_rockpool_sample_by_sample(target: str):
    @settings(max_examples=20, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(windowed_specs(target))
    def check(drawn: tuple[dict[str, Any], np.ndarray]) -> None:
        assert_matches_rockpool(target, *drawn)

    check()


def test_audio3_and_imu_records_have_no_second_synaptic_current():
    spec = {"weights_in": np.ones((2, 3, 1), int), "weights_out": np.ones((3, 2), int),
            "weights_rec": np.zeros((3, 3, 1), int), "threshold": np.full(3, 2)}
    for target, keys in (("xylo-audio2", 6), ("xylo-audio3", 5), ("xylo-imu", 5)):
        _, state, record = XyloSim.from_specification(**spec, target=target)(
            np.ones((4, 2), int), record=True)
        assert len(record) == keys and ("Isyn2" in record) == (target == "xylo-audio2")
        assert set(state) == set(record)


def rockpool_spec(target: str, net: SynNet, quantize: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = TARGET_MAPPERS[target](synnet_to_rockpool(net).as_graph())
    spec.pop("mapped_graph")
    quantizer = rockpool_global_quantize if quantize == "global" else rockpool_channel_quantize
    return quantizer(**spec)


@pytest.mark.parametrize("target", ["xylo-audio2", *V2_TARGETS])
@pytest.mark.parametrize("quantize", ["global", "channel"])
@pytest.mark.parametrize("layers", [[7], [9, 6], [5, 8, 4]])
def test_to_xylo_equals_rockpools_mapper_and_quantiser(target: str, quantize: str,
                                                       layers: list[int]):
    torch.manual_seed(len(layers))
    net = SynNet(n_classes=3, n_channels=5, size_hidden_layers=layers,
                 time_constants_per_layer=[2] * len(layers), train_threshold=True)
    with torch.no_grad():
        for layer in net.neuron_layers()[:-1]:
            layer.threshold.mul_(torch.rand(()) + 0.5)
    ours = net.to_xylo(quantize=quantize, target=target)
    # Rockpool 3.1's IMU mapper fails on a single hidden layer (ValueError "7 is not in list",
    # syns63300/xylo_mapper.py:249, its IEN and OEN windows being the same neurons); with one
    # synapse per neuron the Audio 3 mapper lays the IMU network out the same way.
    reference = "xylo-audio3" if (target, len(layers)) == ("xylo-imu", 1) else target
    theirs = rockpool_spec(reference, net, quantize)  # the quantised keys only
    assert set(theirs) <= set(ours) and len(theirs) >= 11
    for key, value in theirs.items():
        if isinstance(value, (list, int, float)):
            assert ours[key] == value, key
        else:
            assert np.shape(ours[key]) == np.shape(value), (key, np.shape(ours[key]),
                                                            np.shape(value))
            assert np.array_equal(ours[key], value), key
    if target != "xylo-audio2":
        assert np.shape(ours["weights_in"])[1] == layers[0]
        assert np.shape(ours["weights_out"])[0] == layers[-1]
