"""synnet_triton.rockpool.SynNet against Rockpool 3.1's SynNet, the oracle: construction,
call convention, records, state between calls, gradients, accepted configurations, the Xylo
mapper, and conversions with Rockpool's and the torch-native SynNet."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from bits import bitwise_equal
from synnet_oracle import CONFIGS, RockpoolSynNet, assert_gradients_match, spike_input

from synnet_triton.nn.synnet import SynNet as NativeSynNet
from synnet_triton.rockpool import LIFTriton, SynNet, synnet_from_rockpool, synnet_to_rockpool

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from rockpool.nn.modules import LIFTorch

# Configurations only Rockpool's conventions accept: a membrane time constant that rounds to
# a zero bit-shift (decay 0) and a time step of 10 ns.
EXTRA_CONFIGS: dict[str, dict[str, Any]] = {
    "tau_mem_rounds_to_zero": dict(n_classes=2, n_channels=3, size_hidden_layers=[6],
                                   time_constants_per_layer=[2], tau_mem=4e-4),
    "dt_10ns": dict(n_classes=2, n_channels=3, size_hidden_layers=[5],
                    time_constants_per_layer=[2], dt=1e-8, tau_syn_base=2e-8, tau_mem=2e-8,
                    tau_syn_out=2e-8),
}
ALL_CONFIGS = {**CONFIGS, **EXTRA_CONFIGS}


def build(config: dict[str, Any], seed: int = 0, **ours: Any) -> tuple[SynNet, RockpoolSynNet]:
    torch.manual_seed(seed)
    theirs = RockpoolSynNet(**config)
    torch.manual_seed(seed)
    drop_in = SynNet(**config, **ours)
    return drop_in, theirs


def assert_records_bitwise_equal(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        if isinstance(value, dict):
            assert sorted(ours[key]) == sorted(value), key
            for name, tensor in value.items():
                assert bitwise_equal(ours[key][name], tensor), f"{key}/{name}"
        else:
            assert bitwise_equal(ours[key], value), key


@pytest.mark.parametrize("name", sorted(ALL_CONFIGS))
def test_construction_matches_rockpool_seed_for_seed(name: str):
    config = ALL_CONFIGS[name]
    torch.manual_seed(5)
    theirs = RockpoolSynNet(**config)
    their_next = torch.rand(4)
    torch.manual_seed(5)
    ours = SynNet(**config, backend="torch")
    assert bitwise_equal(torch.rand(4), their_next), "construction moved the random stream"

    assert [n for n, _ in ours.seq.named_children()] == [n for n, _ in theirs.seq.named_children()]
    for name_, module in ours.seq.named_children():
        expected = LIFTriton if name_ in theirs.lif_names else type(getattr(theirs.seq, name_))
        assert type(module) is expected, name_
    their_state = theirs.state_dict()
    assert sorted(ours.state_dict()) == sorted(their_state)
    for key, value in ours.state_dict().items():
        assert bitwise_equal(value, their_state[key]), key
    assert sorted(dict(ours.named_parameters())) == sorted(dict(theirs.named_parameters()))
    assert ours.lif_names == theirs.lif_names and ours.output == theirs.output


@pytest.mark.parametrize("name", sorted(ALL_CONFIGS))
def test_outputs_records_and_states_are_rockpools_bits(name: str):
    config = ALL_CONFIGS[name]
    ours, theirs = build(config, backend="torch")
    ours.eval()
    theirs.eval()
    x = spike_input(config["n_channels"], batch=3)
    # two calls in a row: the second starts from the state the first left, as in Rockpool
    for call in range(2):
        our_out, our_state, our_record = ours(x, record=True)
        their_out, their_state, their_record = theirs(x, record=True)
        assert our_out.shape == their_out.shape == (3, 40, config["n_classes"])
        assert bitwise_equal(our_out, their_out), f"call {call}"
        assert_records_bitwise_equal(our_record, their_record)
        assert_records_bitwise_equal(our_state["seq"], their_state["seq"])
    if config.get("output") != "vmem":
        assert their_out.sum() > 0, "the input must drive the readout"
    ours.reset_state()
    theirs.reset_state()
    assert bitwise_equal(ours(x)[0], theirs(x)[0])


def test_a_single_channel_sequence_is_broadcast_like_rockpool():
    config = CONFIGS["two_layers_thresholds"]
    ours, theirs = build(config, backend="torch")
    x = spike_input(1, batch=1)[0]  # (T, 1)
    our_out, _, _ = ours(x)
    their_out, _, _ = theirs(x)
    assert our_out.shape == their_out.shape == (1, 40, config["n_classes"])
    assert bitwise_equal(our_out, their_out)


@pytest.mark.parametrize("name", ["three_layers_trained_taus", "two_layers_thresholds",
                                  "vmem_output", "step_pwl_window", "recurrent"])
def test_gradients_match_rockpool(name: str):
    config = CONFIGS[name]
    ours, theirs = build(config, backend="torch")
    x = spike_input(config["n_channels"])
    our_out = ours(x)[0]
    their_out = theirs(x)[0]
    assert_gradients_match(ours, theirs, our_out, their_out)
    assert any(p.grad is not None and p.grad.abs().max() > 0
               for p in torch.nn.Module.parameters(ours))


def test_a_trainable_time_constant_of_zero_warns_naming_the_argument():
    config = dict(EXTRA_CONFIGS["tau_mem_rounds_to_zero"], train_time_constants=True)
    with pytest.warns(UserWarning, match="tau_mem"):
        ours, theirs = build(config, backend="torch")
    x = spike_input(3)
    assert bitwise_equal(ours(x)[0], theirs(x)[0])


def test_fixed_zero_time_constant_computes_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        ours, _ = build(EXTRA_CONFIGS["tau_mem_rounds_to_zero"], backend="torch")
    assert float(ours.seq.get_submodule("0_neurons").tau_mem) == 0.0


def test_backend_and_checkpoint_every_reach_every_layer():
    ours, theirs = build(CONFIGS["two_layers_thresholds"], backend="torch", checkpoint_every=7)
    for name in ours.lif_names:
        layer = getattr(ours.seq, name)
        assert layer._backend == "torch" and layer._checkpoint_every == 7
    x = spike_input(4)
    assert bitwise_equal(ours(x)[0], theirs(x)[0])


def test_neuron_model_lif_torch_keeps_rockpools_layers_and_others_are_refused():
    ours, _ = build(CONFIGS["one_layer_7_of_3"], neuron_model=LIFTorch)
    assert all(type(getattr(ours.seq, n)) is LIFTorch for n in ours.lif_names)
    with pytest.raises(TypeError, match="neuron_model"):
        SynNet(2, 3, neuron_model=torch.nn.Linear)


def test_rockpools_own_validation_is_kept():
    with pytest.raises(ValueError, match="tau_syn_base"):
        SynNet(2, 3, tau_syn_base=1e-3, dt=1e-3)
    with pytest.raises(ValueError, match="same length"):
        SynNet(2, 3, size_hidden_layers=[4, 4], time_constants_per_layer=[2])


def test_as_graph_maps_to_the_same_xylo_spec_as_rockpools():
    from xylo_oracle import rockpool_mapper

    ours, theirs = build(CONFIGS["two_layers_thresholds"], backend="torch")
    our_spec = rockpool_mapper(ours.as_graph())
    their_spec = rockpool_mapper(theirs.as_graph())
    assert sorted(our_spec) == sorted(their_spec)
    for key, value in their_spec.items():
        if key == "mapped_graph":  # the graph objects themselves, compared through the rest
            continue
        if isinstance(value, torch.Tensor):
            assert bitwise_equal(torch.as_tensor(our_spec[key]), value), key
        elif hasattr(value, "shape"):
            assert (our_spec[key] == value).all(), key
        else:
            assert our_spec[key] == value, key


@pytest.mark.parametrize("name", ["three_layers_trained_taus", "recurrent",
                                  "dropout_eval_per_class_threshold"])
def test_conversions_with_rockpool_and_the_native_synnet_keep_the_bits(name: str):
    config = CONFIGS[name]
    ours, theirs = build(config, seed=2, backend="torch")
    with torch.no_grad():
        for parameter in torch.nn.Module.parameters(theirs):
            parameter.mul_(1.1)  # off the initial values, as training leaves them
    theirs.eval()
    x = spike_input(config["n_channels"])
    expected = theirs(x)[0]

    drop_in = SynNet.from_rockpool(theirs, backend="torch")
    assert isinstance(drop_in, SynNet) and not drop_in.training
    assert sorted(dict(drop_in.named_parameters())) == sorted(dict(theirs.named_parameters()))
    assert bitwise_equal(drop_in(x)[0], expected)

    rockpool_again = drop_in.to_rockpool()
    assert type(rockpool_again) is RockpoolSynNet
    assert all(type(getattr(rockpool_again.seq, n)) is LIFTorch for n in rockpool_again.lif_names)
    assert bitwise_equal(rockpool_again(x)[0], expected)

    native = synnet_from_rockpool(drop_in, backend="torch")
    assert isinstance(native, NativeSynNet)
    assert bitwise_equal(native(x), expected)
    from_native = SynNet.from_rockpool(synnet_to_rockpool(native), backend="torch")
    assert bitwise_equal(from_native(x)[0], expected)


def test_from_rockpool_refuses_what_is_not_a_rockpool_synnet():
    native = NativeSynNet(2, 3, size_hidden_layers=[4], time_constants_per_layer=[2])
    with pytest.raises(TypeError, match="net"):
        SynNet.from_rockpool(native)  # type: ignore[arg-type]


def test_a_ladder_that_overflows_warns_and_gives_rockpools_nan():
    # (tau_syn_base / dt) ** 8 * dt overflows float32: Rockpool's taus and outputs are NaN
    config = dict(n_classes=2, n_channels=3, size_hidden_layers=[8],
                  time_constants_per_layer=[8], tau_syn_base=0.032, dt=1e-8)
    with pytest.warns(UserWarning, match="tau_syn_base"):
        ours, theirs = build(config, backend="torch")
    x = spike_input(3) * 3
    with pytest.warns(UserWarning, match="tau_syn"):
        our_out = ours(x)[0]
    their_out = theirs(x)[0]
    assert their_out.isnan().any()
    assert bitwise_equal(our_out, their_out)


@pytest.mark.parametrize("tau_mem", [float("nan"), -2e-3])
def test_lif_triton_computes_decays_outside_the_unit_interval_as_rockpool(tau_mem: float):
    from rockpool.parameters import Constant

    x = spike_input(4) * 0.7
    torch.manual_seed(0)
    theirs = LIFTorch(4, tau_mem=Constant(tau_mem))
    torch.manual_seed(0)
    ours = LIFTriton(4, tau_mem=Constant(tau_mem), backend="torch")
    with pytest.warns(UserWarning, match="tau_mem"):
        our_out, _, our_record = ours(x, record=True)
    their_out, _, their_record = theirs(x, record=True)
    assert bitwise_equal(our_out, their_out)
    assert bitwise_equal(our_record["vmem"], their_record["vmem"])
