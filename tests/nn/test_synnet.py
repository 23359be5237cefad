"""SynNet vs Rockpool 3.1's SynNet: construction, forward, records, streaming, gradients, errors."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from bits import bitwise_equal
from rockpool.nn.modules import LIFTorch
from synnet_oracle import (
    CONFIGS,
    RockpoolSynNet,
    assert_forward_and_gradients_match_rockpool,
    assert_relative_close,
    build_pair,
    rockpool_forward,
    spike_input,
)

from synnet_triton.nn.synnet import SynNet


@pytest.mark.parametrize("name", CONFIGS)
def test_seeded_initial_parameters_equal_rockpool(name: str):
    ours, theirs = build_pair(CONFIGS[name])
    assert [child for child, _ in ours.seq.named_children()] == [
        child for child, _ in theirs.seq.named_children()
    ]
    assert ours.lif_names == theirs.lif_names
    our_state, their_state = ours.state_dict(), theirs.state_dict()
    assert sorted(our_state) == sorted(their_state)
    for key, value in their_state.items():
        assert bitwise_equal(our_state[key], value), key
    assert sorted(dict(ours.named_parameters())) == sorted(dict(theirs.named_parameters()))
    for layer_name in theirs.lif_names:
        our_layer = ours.seq.get_submodule(layer_name)
        their_layer = theirs.seq.get_submodule(layer_name)
        for attribute in ("tau_mem", "tau_syn", "threshold", "bias"):
            ours_value = getattr(our_layer, attribute).detach()
            theirs_value = getattr(their_layer, attribute).detach()
            assert ours_value.shape == theirs_value.shape, (layer_name, attribute)
            assert bitwise_equal(ours_value, theirs_value), (layer_name, attribute)


@pytest.mark.parametrize("name", CONFIGS)
def test_forward_and_gradients_match_rockpool(name: str):
    assert_forward_and_gradients_match_rockpool(CONFIGS[name], backend="torch")


def test_record_matches_rockpool_records():
    config = CONFIGS["two_layers_thresholds"]
    ours, theirs = build_pair(config)
    x = spike_input(config["n_channels"], steps=30)
    result = ours(x, record=True)
    their_output, their_record = rockpool_forward(theirs, x, record=True)
    assert bitwise_equal(result.output, their_output)
    assert result.record is not None and list(result.record) == theirs.lif_names
    for layer_name in theirs.lif_names:
        ours_layer, theirs_layer = result.record[layer_name], their_record[layer_name]
        assert bitwise_equal(ours_layer.spikes, theirs_layer["spikes"]), layer_name
        torch.testing.assert_close(ours_layer.vmem, theirs_layer["vmem"], rtol=0, atol=1e-5)
        torch.testing.assert_close(ours_layer.isyn, theirs_layer["isyn"], rtol=0, atol=1e-5)


def test_unbatched_input_gives_one_batch_like_rockpool():
    config = CONFIGS["one_layer_7_of_3"]
    ours, theirs = build_pair(config)
    x = spike_input(config["n_channels"], batch=1)[0]
    our_output = ours(x)
    assert our_output.shape == (1, 40, config["n_classes"])
    assert bitwise_equal(our_output, rockpool_forward(theirs, x))


def test_streaming_in_chunks_equals_rockpool_continuing_its_state_and_calls_start_fresh():
    config = CONFIGS["vmem_output"]
    ours, theirs = build_pair(config)
    x = spike_input(config["n_channels"], batch=1, steps=50)
    first = ours(x[:, :20], return_state=True)
    second = ours(x[:, 20:], first.state, return_state=True)
    assert len(second.state) == len(theirs.lif_names)
    theirs.reset_state()
    # A Rockpool module keeps its state between calls (batch element 0), so two calls on one
    # sequence continue it.
    their_first, _, _ = theirs(x[:, :20])
    their_second, _, _ = theirs(x[:, 20:])
    torch.testing.assert_close(first.output, their_first, rtol=0, atol=1e-5)
    torch.testing.assert_close(second.output, their_second, rtol=0, atol=1e-5)

    # Without a state, a call starts from zero: the streamed history is not kept in the module.
    fresh = ours(x[:, 20:])
    torch.testing.assert_close(fresh, rockpool_forward(theirs, x[:, 20:]), rtol=0, atol=1e-5)
    assert not torch.allclose(fresh, second.output, rtol=0, atol=1e-5)


def test_gradients_through_streamed_chunks_equal_rockpool_on_the_whole_sequence():
    config = CONFIGS["three_layers_trained_taus"]
    ours, theirs = build_pair(config)
    x = spike_input(config["n_channels"])
    state = ours.initial_state(x.shape[0])
    outputs = []
    for chunk in (x[:, :15], x[:, 15:]):
        result = ours(chunk, state, return_state=True)
        outputs.append(result.output)
        state = result.state
    our_output = torch.cat(outputs, dim=1)
    their_output = rockpool_forward(theirs, x)
    assert their_output.sum() > 0
    assert bitwise_equal(our_output, their_output)

    weights = torch.randn(our_output.shape, generator=torch.Generator().manual_seed(3))
    (our_output * weights).sum().backward()
    (their_output * weights).sum().backward()
    their_parameters = dict(theirs.named_parameters())
    for key, parameter in ours.named_parameters():
        assert_relative_close(parameter.grad, their_parameters[key].grad, 1e-4, key)


@pytest.mark.parametrize("name", ["two_layers_thresholds", "vmem_output"])
def test_padded_batch_with_lengths_equals_rockpool_on_each_sample_alone(name: str):
    config = CONFIGS[name]
    ours, theirs = build_pair(config)
    x = spike_input(config["n_channels"], batch=3, steps=30)
    lengths = torch.tensor([30, 12, 21])
    result = ours(x, lengths=lengths, return_state=True)
    for sample, length in enumerate(lengths.tolist()):
        alone = rockpool_forward(theirs, x[sample : sample + 1, :length])[0]
        torch.testing.assert_close(result.output[sample, :length], alone, rtol=0, atol=1e-5)
        assert not result.output[sample, length:].any(), "outputs past a length are zero"
        # Rockpool keeps each layer's state after the call: the sample's state at its length.
        for layer_name, layer_state in zip(theirs.lif_names, result.state, strict=True):
            their_layer = theirs.seq.get_submodule(layer_name)
            torch.testing.assert_close(layer_state.vmem[sample], their_layer.vmem, rtol=0,
                                       atol=1e-5)
            torch.testing.assert_close(layer_state.isyn[sample], their_layer.isyn, rtol=0,
                                       atol=1e-5)
    assert result.output[1, :12].abs().sum() > 0


@pytest.mark.parametrize(
    "arguments",
    [
        dict(size_hidden_layers=[8, 4], time_constants_per_layer=[2]),
        dict(tau_syn_base=1e-3, dt=1e-3),
        dict(tau_syn_base=5e-4),
        dict(output="current"),
        dict(output="vmem", threshold_out=2.0),
        dict(p_dropout=1.5),
    ],
)
def test_constructor_errors_match_rockpool(arguments: dict[str, Any]):
    with pytest.raises(ValueError):
        RockpoolSynNet(n_classes=2, n_channels=3, **arguments)
    with pytest.raises(ValueError):
        SynNet(n_classes=2, n_channels=3, **arguments)


def test_wrong_number_of_input_channels_is_a_clear_error():
    net = SynNet(n_classes=2, n_channels=3, size_hidden_layers=[4], time_constants_per_layer=[2])
    with pytest.raises(ValueError, match="n_channels=3"):
        net(torch.zeros(1, 10, 4))


def test_wrong_state_length_is_a_clear_error():
    net = SynNet(n_classes=2, n_channels=3, size_hidden_layers=[4], time_constants_per_layer=[2])
    result = net(torch.zeros(1, 10, 3), return_state=True)
    with pytest.raises(ValueError, match="state"):
        net(torch.zeros(1, 10, 3), result.state[:1])


def test_rockpool_neuron_models_build_the_default_network_and_others_are_refused():
    arguments = dict(n_classes=2, n_channels=3, size_hidden_layers=[5],
                     time_constants_per_layer=[2], train_threshold=True)
    torch.manual_seed(0)
    default = SynNet(**arguments)
    torch.manual_seed(0)
    with_lif_torch = SynNet(**arguments, neuron_model=LIFTorch)
    assert default.state_dict().keys() == with_lif_torch.state_dict().keys()
    for key, value in default.state_dict().items():
        assert bitwise_equal(with_lif_torch.state_dict()[key], value), key
    with pytest.raises(TypeError, match="neuron_model"):
        SynNet(**arguments, neuron_model=torch.nn.Linear)
    with pytest.raises(ValueError, match="tau_mem"):
        SynNet(**arguments, neuron_kwargs={"tau_mem": 0.01})
    with pytest.raises(ValueError, match="spike_generation_fn"):
        SynNet(**arguments, neuron_kwargs={"spike_generation_fn": torch.sigmoid})


def test_dropout_is_active_in_training_mode_only():
    config = dict(CONFIGS["one_layer_7_of_3"], p_dropout=1.0)
    ours, theirs = build_pair(config)
    x = spike_input(config["n_channels"])
    evaluation_output = ours(x)
    assert bitwise_equal(evaluation_output, rockpool_forward(theirs, x))
    assert evaluation_output.sum() > 0
    ours.train()
    theirs.train()
    # Every hidden spike is dropped, so the readout receives nothing (in both libraries).
    training_result = ours(x, record=True)
    assert training_result.record is not None
    assert training_result.record["0_neurons"].spikes.sum() > 0
    assert bitwise_equal(training_result.output, rockpool_forward(theirs, x))
    assert training_result.output.sum() == 0
