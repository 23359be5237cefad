"""SynNet → Xylo spec against Rockpool's `mapper` + `global_quantize` / `channel_quantize`,
and the resulting integer networks simulated by both simulators."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from xylo_oracle import (
    TARGET_SIMULATORS,
    RockpoolXyloSim,
    rockpool_channel_quantize,
    rockpool_global_quantize,
    rockpool_mapper,
)

from synnet_triton.xylo import XyloSim
from synnet_triton.xylo.mapping import (
    channel_quantize,
    evaluate_on_xylo,
    synnet_float_specification,
    synnet_specification,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch
    from rockpool.nn.networks import SynNet as RockpoolSynNet

SPEC_KEYS = (
    "weights_in", "weights_rec", "weights_out", "dash_mem", "dash_mem_out", "dash_syn",
    "dash_syn_2", "dash_syn_out", "threshold", "threshold_out", "bias", "bias_out",
    "weight_shift_in", "weight_shift_rec", "weight_shift_out", "aliases", "dt",
)  # fmt: skip


def plain_layers(seq: Any) -> dict[str, list]:
    """Per LIF layer: the preceding linear weights (in, out) and the neuron parameters expanded to
    (N,) / (N, S), read from a Rockpool sequential network of alternating linear and LIF modules."""
    layers: dict[str, list] = {
        k: [] for k in ("weights", "tau_mem", "tau_syn", "threshold", "bias")
    }
    modules = [m for _, m in seq.named_children()] if hasattr(seq, "named_children") else []
    for linear, neurons in zip(modules[0::2], modules[1::2]):
        n_out, n_syn = neurons.size_out, neurons.n_synapses
        layers["weights"].append(linear.weight.detach())
        layers["tau_mem"].append(neurons.tau_mem.expand((n_out,)).detach())
        layers["tau_syn"].append(neurons.tau_syn.expand((n_out, n_syn)).detach())
        layers["threshold"].append(neurons.threshold.expand((n_out,)).detach())
        layers["bias"].append(neurons.bias.expand((n_out,)).detach())
    return layers


def rockpool_float_spec(net: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = rockpool_mapper(net.as_graph())
    spec.pop("mapped_graph")
    return spec


def assert_specs_equal(ours: dict[str, Any], reference: dict[str, Any]) -> None:
    for key in SPEC_KEYS:
        if key in ("aliases", "dt") or key.startswith("weight_shift"):
            assert ours[key] == reference[key], key
        else:
            assert np.shape(ours[key]) == np.shape(reference[key]), key
            assert np.array_equal(ours[key], reference[key]), key


def synnet(output: str, seed: int) -> Any:
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RockpoolSynNet(
            n_classes=3,
            n_channels=5,
            size_hidden_layers=[7, 6],
            time_constants_per_layer=[2, 3],
            output=output,
        )


def two_synapse_network(seed: int) -> Any:
    """16 → 12 hidden neurons with 2 synapses each → 4 readout neurons, non-zero biases."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    hidden = LIFTorch(
        (24, 12),
        tau_mem=torch.tensor(rng.uniform(2e-3, 3e-2, 12), dtype=torch.float32),
        tau_syn=torch.tensor(rng.uniform(2e-3, 6e-2, (12, 2)), dtype=torch.float32),
        threshold=torch.tensor(rng.uniform(0.5, 2.0, 12), dtype=torch.float32),
        bias=torch.tensor(rng.uniform(-0.1, 0.1, 12), dtype=torch.float32),
        dt=1e-3,
    )
    readout = LIFTorch(
        (4, 4),
        tau_mem=torch.tensor(rng.uniform(2e-3, 3e-2, 4), dtype=torch.float32),
        tau_syn=torch.tensor(rng.uniform(2e-3, 3e-2, 4), dtype=torch.float32),
        bias=torch.tensor(rng.uniform(-0.1, 0.1, 4), dtype=torch.float32),
        dt=1e-3,
    )
    return Sequential(LinearTorch((16, 24)), hidden, LinearTorch((12, 4)), readout)


NETWORKS = {
    "synnet-spikes": lambda: synnet("spikes", 0),
    "synnet-vmem": lambda: synnet("vmem", 1),
    "two-synapses-bias": lambda: two_synapse_network(2),
}


@pytest.mark.parametrize("network", list(NETWORKS))
def test_float_spec_equals_rockpool_mapper(network: str) -> None:
    net = NETWORKS[network]()
    seq = net.seq if hasattr(net, "seq") else net
    ours = synnet_float_specification(**plain_layers(seq), dt=1e-3)
    assert_specs_equal(ours, rockpool_float_spec(net))


@pytest.mark.parametrize("network", list(NETWORKS))
@pytest.mark.parametrize("quantize", ["global", "channel"])
def test_quantised_spec_equals_rockpool_and_simulates_identically(
    network: str, quantize: str
) -> None:
    net = NETWORKS[network]()
    seq = net.seq if hasattr(net, "seq") else net
    reference = rockpool_float_spec(net)
    quantizer = rockpool_global_quantize if quantize == "global" else rockpool_channel_quantize
    reference.update(quantizer(**copy.deepcopy(reference)))
    ours = synnet_specification(**plain_layers(seq), dt=1e-3, quantize=quantize)
    assert_specs_equal(ours, reference)

    rng = np.random.default_rng(4)
    n_in = reference["weights_in"].shape[0]
    events = rng.integers(0, 4, (2, 40, n_in)) * (rng.random((2, 40, n_in)) < 0.5)
    output, _, record = evaluate_on_xylo(ours, torch.from_numpy(events), record=True)
    for sample in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            simulator = RockpoolXyloSim.from_specification(**reference)
        ref_output, _, ref_record = simulator(events[sample], record=True)
        assert np.array_equal(output[sample].numpy(), ref_output)
        for key, trace in ref_record.items():
            assert np.array_equal(record[key][sample].numpy(), trace), key


@pytest.mark.parametrize("target", ["xylo-audio2", "xylo-audio3"])
def test_evaluate_on_xylo_takes_numpy_records_when_asked_and_simulates_its_target(
        target: str) -> None:
    """numpy events run on the CPU like the same tensor; the record is empty unless asked
    for, and holds the keys Rockpool's simulator of ``target`` records."""
    spec = synnet_specification(**plain_layers(synnet("spikes", 3).seq), dt=1e-3)
    events = np.random.default_rng(7).integers(0, 4, (2, 30, spec["weights_in"].shape[0]))
    output, _, record = evaluate_on_xylo(spec, events, target=target)
    expected, _, _ = evaluate_on_xylo(spec, torch.from_numpy(events), target=target)
    assert record == {} and torch.equal(output, expected)
    _, _, record = evaluate_on_xylo(spec, events, record=True, target=target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chip = TARGET_SIMULATORS[target].from_specification(**spec)
    _, _, reference = chip(events[0], record=True)
    assert set(record) == set(reference)


def test_channel_quantisation_without_hidden_neurons_rounds_the_readout_thresholds() -> None:
    """Rockpool's channel_quantize cannot reduce an empty weight array; ours quantises a
    network without hidden neurons as one whose neurons have no weights (hand-derived: the
    readout thresholds rounded, every array empty)."""
    spec = {
        "weights_in": np.zeros((3, 0, 2)), "weights_rec": np.zeros((0, 0, 2)),
        "weights_out": np.zeros((0, 2)), "threshold": np.zeros(0),
        "threshold_out": np.array([0.7, 2.4]), "bias": np.zeros(0), "bias_out": np.zeros(2),
        "dash_mem": np.ones(0, int), "dash_syn": np.ones(0, int), "dash_syn_2": np.ones(0, int),
        "dash_mem_out": np.ones(2, int), "dash_syn_out": np.ones(2, int),
        "weight_shift_in": 0, "weight_shift_rec": 0, "weight_shift_out": 0, "aliases": None,
        "dt": 1e-3,
    }  # fmt: skip
    quantised = channel_quantize(spec)
    assert quantised["threshold_out"].tolist() == [1, 2]
    assert quantised["weights_rec"].shape == (0, 0, 2) and quantised["threshold"].shape == (0,)


def test_vmem_readout_crushes_weights_under_global_quantisation() -> None:
    """The documented pitfall: θ_out = 32767 forces the readout and recurrent weights down."""
    spec = synnet_specification(**plain_layers(synnet("vmem", 1).seq), dt=1e-3)
    spiking = synnet_specification(**plain_layers(synnet("spikes", 1).seq), dt=1e-3)
    assert np.abs(spec["weights_out"]).max() <= 1 < np.abs(spiking["weights_out"]).max()


def test_inconsistent_layers_are_rejected() -> None:
    layers = plain_layers(synnet("spikes", 0).seq)
    with pytest.raises(ValueError, match="at least two layers"):
        synnet_float_specification(**{k: v[:1] for k, v in layers.items()}, dt=1e-3)
    with pytest.raises(ValueError, match="must exceed dt"):
        synnet_float_specification(**layers, dt=0.5)
    for dt in (0.0, -1e-3):
        with pytest.raises(ValueError, match="dt"):
            synnet_float_specification(**layers, dt=dt)
    with pytest.raises(ValueError, match=r"weights\[1\] has 5 inputs"):
        broken = {
            **layers,
            "weights": [layers["weights"][0], torch.ones(5, 6), layers["weights"][2]],
        }
        synnet_float_specification(**broken, dt=1e-3)
    with pytest.raises(ValueError, match="quantize must be one of"):
        synnet_specification(**layers, dt=1e-3, quantize="none")


def test_simulator_runs_the_spec_from_plain_tensors() -> None:
    spec = synnet_specification(**plain_layers(synnet("spikes", 3).seq), dt=1e-3)
    simulator = XyloSim.from_specification(**spec)
    assert simulator.spec.n_hidden == 13 and simulator.spec.n_outputs == 3


@pytest.mark.parametrize("output", ["spikes", "vmem"])
@pytest.mark.parametrize("quantize", ["global", "channel"])
def test_synnet_to_xylo_equals_rockpool_flow(output: str, quantize: str) -> None:
    from synnet_triton.rockpool import synnet_from_rockpool

    rockpool_net = synnet(output, 5)
    reference = rockpool_float_spec(rockpool_net)
    quantizer = rockpool_global_quantize if quantize == "global" else rockpool_channel_quantize
    reference.update(quantizer(**copy.deepcopy(reference)))
    ours = synnet_from_rockpool(rockpool_net).to_xylo(quantize=quantize)
    assert_specs_equal(ours, reference)


def _float_spec(rng: np.random.Generator, *, synapses: int, zero_neuron: bool,
                huge_threshold: bool, with_bias_out: bool) -> dict[str, Any]:
    """A float spec that reaches the quantisers' rarer branches: readout biases, a hidden
    neuron without any weight, a threshold that overflows int16 once scaled."""
    n_in, n_hidden, n_out = 5, 7, 3
    spec: dict[str, Any] = {
        "weights_in": rng.normal(0, 0.5, (n_in, n_hidden, synapses)),
        "weights_rec": rng.normal(0, 0.3, (n_hidden, n_hidden, synapses))
        * (rng.random((n_hidden, n_hidden, synapses)) < 0.5),
        "weights_out": rng.normal(0, 0.5, (n_hidden, n_out)),
        "threshold": rng.uniform(0.5, 2.0, n_hidden),
        "threshold_out": rng.uniform(0.5, 2.0, n_out),
        "bias": rng.normal(0, 0.1, n_hidden),
        "bias_out": rng.normal(0, 0.1, n_out) if with_bias_out else None,
        "dash_mem": rng.integers(1, 6, n_hidden), "dash_mem_out": rng.integers(1, 6, n_out),
        "dash_syn": rng.integers(1, 6, n_hidden), "dash_syn_2": rng.integers(1, 6, n_hidden),
        "dash_syn_out": rng.integers(1, 6, n_out),
        "weight_shift_in": 0, "weight_shift_rec": 0, "weight_shift_out": 0,
        "aliases": None, "dt": 1e-3,
    }  # fmt: skip
    if zero_neuron:
        spec["weights_in"][:, 2] = 0.0
        spec["weights_rec"][:, 2] = 0.0
        spec["weights_out"][2] = 0.0  # zeros the fuzzy scale must leave out
    if huge_threshold:
        spec["threshold"][4] = 1e4
        spec["threshold_out"][1] = 1e4
    return spec


@pytest.mark.parametrize("synapses", [1, 2])
@pytest.mark.parametrize("quantize", ["global", "global fuzzy", "channel"])
def test_quantisers_equal_rockpool_on_their_rare_branches(quantize: str, synapses: int):
    from synnet_triton.xylo.mapping import channel_quantize, global_quantize

    for seed in range(4):
        spec = _float_spec(np.random.default_rng(seed), synapses=synapses,
                           zero_neuron=seed % 2 == 0, huge_threshold=seed >= 2,
                           with_bias_out=seed != 1)
        if spec["bias_out"] is None:
            spec.pop("bias_out")
        if quantize == "channel":
            ours, reference = channel_quantize(copy.deepcopy(spec)), \
                rockpool_channel_quantize(**copy.deepcopy(spec))
        else:
            fuzzy = quantize == "global fuzzy"
            ours = global_quantize(copy.deepcopy(spec), fuzzy_scaling=fuzzy)
            reference = rockpool_global_quantize(**copy.deepcopy(spec), fuzzy_scaling=fuzzy)
        for key, value in reference.items():
            assert np.array_equal(np.asarray(ours[key]), np.asarray(value)), (seed, key)


@pytest.mark.parametrize("quantize", ["global", "channel"])
def test_quantisers_other_widths_equal_rockpool(quantize: str) -> None:
    """6-bit weights and 12-bit thresholds (the huge thresholds overflow 12 bits)."""
    from synnet_triton.xylo.mapping import channel_quantize, global_quantize

    for seed in range(4):
        spec = _float_spec(np.random.default_rng(seed), synapses=2, zero_neuron=False,
                           huge_threshold=seed % 2 == 0, with_bias_out=True)
        widths = {"bits_per_weight": 6, "bits_per_threshold": 12}
        if quantize == "channel":
            ours = channel_quantize(copy.deepcopy(spec), **widths)
            reference = rockpool_channel_quantize(**copy.deepcopy(spec), **widths)
        else:
            ours = global_quantize(copy.deepcopy(spec), **widths)
            reference = rockpool_global_quantize(**copy.deepcopy(spec), **widths)
        for key, value in reference.items():
            assert np.array_equal(np.asarray(ours[key]), np.asarray(value)), (seed, key)
        if seed % 2:  # no overflow: the largest hidden weight takes the whole 6-bit range
            assert max(np.abs(ours["weights_in"]).max(), np.abs(ours["weights_rec"]).max()) == 31


def test_channel_quantisation_of_a_threshold_that_rounds_onto_the_int16_limit() -> None:
    """θ·scale = 32767.4 rounds to 32767, which fits: the weights keep the scale 127/max|w|
    (a weight of half the largest becomes 63.5 → 64), where rescaling by 32767/θ would make it
    63.499 → 63. Rockpool's channel_quantize decides."""
    from synnet_triton.xylo.mapping import channel_quantize

    spec = _float_spec(np.random.default_rng(0), synapses=1, zero_neuron=False,
                       huge_threshold=False, with_bias_out=True)
    for weights, column in ((spec["weights_rec"], (slice(None), 0)),
                            (spec["weights_out"], (slice(None), 0))):
        weights[column] = 0.0
        weights[(0, *column[1:])] = 1.0
        weights[(1, *column[1:])] = 0.5
    spec["weights_in"][:, 0] = 0.0
    spec["threshold"][0] = spec["threshold_out"][0] = 32767.4 / 127
    ours = channel_quantize(copy.deepcopy(spec))
    reference = rockpool_channel_quantize(**copy.deepcopy(spec))
    for key, value in reference.items():
        assert np.array_equal(np.asarray(ours[key]), np.asarray(value)), key
    assert ours["threshold"][0] == ours["threshold_out"][0] == 32767
    assert ours["weights_rec"][1, 0].tolist() == [64] and ours["weights_out"][1, 0] == 64


def small_layers(seed: int = 0) -> dict[str, list]:
    """4 inputs → 3 neurons with 2 synapses → 2 neurons → 2 readout neurons (float64 numpy)."""
    rng = np.random.default_rng(seed)
    layers: dict[str, list] = {k: [] for k in ("weights", "tau_mem", "tau_syn", "threshold",
                                               "bias")}
    n_in = 4
    for n, syn in ((3, 2), (2, 1), (2, 1)):
        layers["weights"].append(rng.normal(0, 1, (n_in, n * syn)))
        layers["tau_mem"].append(rng.uniform(0.01, 0.05, n))
        layers["tau_syn"].append(rng.uniform(0.002, 0.05, (n, syn)))
        layers["threshold"].append(rng.uniform(0.5, 2, n))
        layers["bias"].append(rng.normal(0, 0.1, n))
        n_in = n
    return layers


@pytest.mark.parametrize("name", ["weights", "tau_mem", "tau_syn", "threshold", "bias"])
def test_a_layer_argument_that_is_not_real_is_named(name: str) -> None:
    layers = small_layers()
    layers[name][1] = layers[name][1].astype(np.complex64)
    with pytest.raises(TypeError, match=rf"^{name}\[1\] must be a real array; got dtype "
                                        "complex64"):
        synnet_float_specification(**layers, dt=1e-3)
    if name in ("weights", "threshold", "bias"):  # kept as tensors for hardware training
        layers[name][1] = torch.ones(layers[name][1].shape, dtype=torch.bool)
        with pytest.raises(TypeError, match=rf"^{name}\[1\] must be a real array; got dtype "
                                            "torch.bool"):
            synnet_float_specification(**layers, dt=1e-3, keep_graph=True)


@pytest.mark.parametrize("name", ["tau_mem", "tau_syn", "threshold", "bias"])
def test_a_layer_list_of_another_length_is_named(name: str) -> None:
    layers = small_layers()
    layers[name] = layers[name][:2]
    with pytest.raises(ValueError, match=rf"^{name} must hold 3 layers like weights; got 2$"):
        synnet_float_specification(**layers, dt=1e-3)


@pytest.mark.parametrize("name", ["tau_mem", "tau_syn"])
def test_a_time_constant_equal_to_dt_is_refused_and_named(name: str) -> None:
    layers = small_layers()
    layers[name][1] = np.full_like(layers[name][1], 1e-3)
    with pytest.raises(ValueError, match=rf"^{name}\[1\] must exceed dt = 0.001"):
        synnet_float_specification(**layers, dt=1e-3)


def test_shapes_and_synapse_counts_xylo_cannot_take_are_refused_with_the_expected_shape():
    layers = small_layers()
    bad = {**layers, "weights": [layers["weights"][0][..., None], *layers["weights"][1:]]}
    with pytest.raises(ValueError, match=r"^weights\[0\] must have shape \(inputs, 6\) for 3 "
                                         r"neurons with 2 synapses; got \(4, 6, 1\)"):
        synnet_float_specification(**bad, dt=1e-3)
    bad = {**layers, "weights": [layers["weights"][0], np.ones((2, 2)), layers["weights"][2]]}
    with pytest.raises(ValueError, match=r"^weights\[1\] has 2 inputs but layer 0 has 3 neurons"):
        synnet_float_specification(**bad, dt=1e-3)
    readout = {**layers, "weights": [*layers["weights"][:2], np.ones((2, 4))],
               "tau_syn": [*layers["tau_syn"][:2], np.full((2, 2), 0.01)]}
    with pytest.raises(ValueError, match=r"^layer 2 has 2 synapses per neuron; Xylo supports"):
        synnet_float_specification(**readout, dt=1e-3)
    hidden = {**layers, "weights": [np.ones((4, 9)), *layers["weights"][1:]],
              "tau_syn": [np.full((3, 3), 0.01), *layers["tau_syn"][1:]]}
    with pytest.raises(ValueError, match=r"^layer 0 has 3 synapses per neuron"):
        synnet_float_specification(**hidden, dt=1e-3)
    two = {**layers, "weights": [np.ones((4, 6)), np.ones((3, 4)), np.ones((2, 2))],
           "tau_syn": [np.full((3, 2), 0.01), np.full((2, 2), 0.01), layers["tau_syn"][2]]}
    assert synnet_float_specification(**two, dt=1e-3)["weights_rec"].shape == (5, 5, 2)


def test_keep_graph_gives_the_same_values_as_tensors_that_carry_the_graph():
    layers = small_layers()
    plain = synnet_float_specification(**layers, dt=1e-3)
    leaves = {name: [torch.tensor(value, requires_grad=True) for value in layers[name]]
              for name in ("weights", "threshold", "bias")}
    kept = synnet_float_specification(**{**layers, **leaves}, dt=1e-3, keep_graph=True)
    for key, value in plain.items():
        if isinstance(kept[key], torch.Tensor):
            assert kept[key].dtype == torch.float64
            assert np.array_equal(kept[key].detach().numpy(), value), key
        else:
            assert np.array_equal(np.asarray(kept[key]), np.asarray(value)), key
    total = sum(kept[key].sum() for key in ("weights_in", "weights_rec", "weights_out",
                                            "threshold", "threshold_out", "bias", "bias_out"))
    total.backward()
    for name, tensors in leaves.items():
        for tensor in tensors:  # every entry lands in the spec exactly once
            assert torch.equal(tensor.grad, torch.ones_like(tensor)), name
    numpy_kept = synnet_float_specification(**layers, dt=1e-3, keep_graph=True)
    assert all(isinstance(numpy_kept[key], torch.Tensor) for key in ("weights_in", "threshold"))


def _global_edge_spec(case: str) -> dict[str, Any]:
    spec = _float_spec(np.random.default_rng(1), synapses=2, zero_neuron=False,
                       huge_threshold=False, with_bias_out=True)
    if case == "a bias is the largest value":
        spec["bias"][0], spec["bias_out"][0] = 5.0, -4.0
    elif case == "no hidden weights or biases":
        for key in ("weights_in", "weights_rec", "bias"):
            spec[key] = np.zeros_like(spec[key])
    elif case == "no readout weights or biases":
        for key in ("weights_out", "bias_out"):
            spec[key] = np.zeros_like(spec[key])
    elif case in ("the largest weight is 1", "a threshold rounds onto 32767"):
        for key in ("weights_in", "weights_rec", "weights_out"):
            spec[key] = np.clip(spec[key], -0.9, 0.9)
        spec["weights_in"][0, 0, 0] = spec["weights_out"][0, 0] = 1.0
        spec["weights_in"][1, 0, 0] = spec["weights_out"][1, 0] = 0.5
        spec["bias"], spec["bias_out"] = spec["bias"] * 0, spec["bias_out"] * 0
        if case == "a threshold rounds onto 32767":
            # θ · 127 = 32767.4 rounds to 32767, the largest threshold that fits
            spec["threshold"][0] = spec["threshold_out"][0] = 32767.4 / 127
    return spec


@pytest.mark.parametrize("case", ["a bias is the largest value", "no hidden weights or biases",
                                  "no readout weights or biases", "the largest weight is 1",
                                  "a threshold rounds onto 32767"])
def test_global_quantisation_of_edge_specs_equals_rockpool(case: str) -> None:
    from synnet_triton.xylo.mapping import global_quantize

    spec = _global_edge_spec(case)
    ours = global_quantize(copy.deepcopy(spec))
    reference = rockpool_global_quantize(**copy.deepcopy(spec))
    for key, value in reference.items():
        assert np.array_equal(np.asarray(ours[key]), np.asarray(value)), key
    if case == "a threshold rounds onto 32767":
        assert ours["threshold"][0] == ours["threshold_out"][0] == 32767
        assert ours["weights_in"][1, 0, 0] == ours["weights_out"][1, 0] == 64


def test_a_spec_without_a_required_key_is_named() -> None:
    from synnet_triton.xylo.mapping import global_quantize

    spec = _float_spec(np.random.default_rng(1), synapses=1, zero_neuron=False,
                       huge_threshold=False, with_bias_out=True)
    del spec["threshold_out"]
    with pytest.raises(ValueError, match="^the spec must hold 'threshold_out'$"):
        global_quantize(spec)
