"""SynNet and Rockpool 3.1's SynNet: checkpoints both ways, conversion, training trajectory."""

from __future__ import annotations

import pytest
import torch
from bits import bitwise_equal
from synnet_oracle import CONFIGS, RockpoolSynNet, build_pair, rockpool_forward, spike_input

from synnet_triton.rockpool import synnet_from_rockpool, synnet_to_rockpool


@pytest.mark.parametrize("name", ["two_layers_thresholds", "vmem_output",
                                  "dropout_eval_per_class_threshold"])
def test_checkpoints_load_both_ways(name: str):
    config = CONFIGS[name]
    ours, _ = build_pair(config, seed=3)
    _, theirs = build_pair(config, seed=4)
    x = spike_input(config["n_channels"])
    rockpool_forward(theirs, x)  # leaves a non-zero state in Rockpool's checkpoint
    ours.load_state_dict(theirs.state_dict())
    torch.testing.assert_close(ours(x), rockpool_forward(theirs, x), rtol=0, atol=1e-5)

    _, fresh_theirs = build_pair(config, seed=5)
    fresh_theirs.load_state_dict(ours.state_dict())
    torch.testing.assert_close(rockpool_forward(fresh_theirs, x), ours(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["three_layers_trained_taus", "dropout_eval_per_class_threshold",
                                  "step_pwl_window"])
def test_to_rockpool_and_back(name: str):
    config = CONFIGS[name]
    ours, reference = build_pair(config)
    initial_state = {key: value.clone() for key, value in reference.state_dict().items()}
    converted = synnet_to_rockpool(ours)
    assert isinstance(converted, RockpoolSynNet)
    assert [n for n, _ in converted.seq.named_children()] == [
        n for n, _ in reference.seq.named_children()
    ]
    assert sorted(dict(converted.named_parameters())) == sorted(
        dict(reference.named_parameters())
    )
    x = spike_input(config["n_channels"])
    assert bitwise_equal(rockpool_forward(converted, x), rockpool_forward(reference, x))

    back = synnet_from_rockpool(converted)
    back.eval()
    assert sorted(dict(back.named_parameters())) == sorted(dict(ours.named_parameters()))
    for key, value in initial_state.items():
        assert bitwise_equal(back.state_dict()[key], value), key
    assert bitwise_equal(back(x), rockpool_forward(reference, x))


@pytest.mark.parametrize("name", ["recurrent", "vmem_output", "two_layers_thresholds"])
def test_from_rockpool_keeps_parameters_and_trainability(name: str):
    config = CONFIGS[name]
    _, theirs = build_pair(config, seed=6)
    with torch.no_grad():
        # Move every parameter off its initial value, as training would.
        for parameter in torch.nn.Module.parameters(theirs):
            parameter.mul_(1.1)
    converted = synnet_from_rockpool(theirs)
    assert not converted.training
    their_parameters = dict(theirs.named_parameters())
    our_parameters = dict(converted.named_parameters())
    assert sorted(our_parameters) == sorted(their_parameters)
    for key, value in their_parameters.items():
        assert bitwise_equal(our_parameters[key], value), key
    x = spike_input(config["n_channels"])
    torch.testing.assert_close(converted(x), rockpool_forward(theirs, x), rtol=0, atol=1e-5)


def test_from_rockpool_refuses_what_is_not_a_rockpool_synnet():
    ours, _ = build_pair(CONFIGS["one_layer_7_of_3"])
    with pytest.raises(TypeError, match="net"):
        synnet_from_rockpool(ours)  # type: ignore[arg-type]
