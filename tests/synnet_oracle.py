"""Configurations and Rockpool-side helpers shared by the SynNet tests (``test_synnet*.py``).

Each configuration is a set of constructor arguments valid for both ``synnet_triton.SynNet``
and Rockpool 3.1's ``SynNet``; Rockpool's network is the oracle.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from bits import bitwise_equal

from synnet_triton.nn.synnet import SynNet

with warnings.catch_warnings():
    # rockpool.nn.networks warns about modules it has not ported; SynNet is not one of them.
    warnings.simplefilter("ignore")
    from rockpool.nn.modules.torch.lif_torch import StepPWL
    from rockpool.nn.networks import SynNet as RockpoolSynNet

CONFIGS: dict[str, dict[str, Any]] = {
    "one_layer_7_of_3": dict(n_classes=2, n_channels=3, size_hidden_layers=[7],
                             time_constants_per_layer=[3]),
    "two_layers_thresholds": dict(n_classes=3, n_channels=4, size_hidden_layers=[11, 6],
                                  time_constants_per_layer=[4, 5], threshold=0.8,
                                  threshold_out=1.5, train_threshold=True, max_spikes_per_dt=5),
    "three_layers_trained_taus": dict(n_classes=2, n_channels=5, size_hidden_layers=[8, 7, 5],
                                      time_constants_per_layer=[2, 3, 4], dt=5e-4,
                                      tau_syn_base=1.5e-3, tau_mem=4e-3, tau_syn_out=3e-3,
                                      threshold_out=0.3, train_time_constants=True),
    "unquantized_taus": dict(n_classes=2, n_channels=3, size_hidden_layers=[10],
                             time_constants_per_layer=[3], tau_syn_base=3e-3, tau_mem=6e-3,
                             quantize_time_constants=False, train_time_constants=True,
                             train_threshold=True, threshold=1.2),
    "vmem_output": dict(n_classes=3, n_channels=4, size_hidden_layers=[8],
                        time_constants_per_layer=[3], output="vmem", train_time_constants=True,
                        train_threshold=True, threshold=1.3),
    "dropout_eval_per_class_threshold": dict(n_classes=3, n_channels=4,
                                             size_hidden_layers=[10, 4],
                                             time_constants_per_layer=[5, 2], p_dropout=0.3,
                                             max_spikes_per_dt_out=3,
                                             threshold_out=[0.5, 2.0, 1.0]),
    "step_pwl_window": dict(n_classes=2, n_channels=3, size_hidden_layers=[6],
                            time_constants_per_layer=[2], train_threshold=True,
                            neuron_kwargs={"spike_generation_fn": StepPWL,
                                           "learning_window": 0.3}),
    "recurrent": dict(n_classes=2, n_channels=3, size_hidden_layers=[6],
                      time_constants_per_layer=[2], threshold=0.9,
                      neuron_kwargs={"has_rec": True}),
}


def build_pair(config: dict[str, Any], seed: int = 0) -> tuple[SynNet, RockpoolSynNet]:
    """Both networks built from the same seed, in evaluation mode (``backend`` is ours only)."""
    rockpool_config = {key: value for key, value in config.items() if key != "backend"}
    torch.manual_seed(seed)
    ours = SynNet(**config)
    torch.manual_seed(seed)
    theirs = RockpoolSynNet(**rockpool_config)
    ours.eval()
    theirs.eval()
    return ours, theirs


def spike_input(n_channels: int, batch: int = 2, steps: int = 40, seed: int = 1) -> torch.Tensor:
    """(batch, steps, n_channels) random event counts 0..4, dense enough to drive every layer."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 5, (batch, steps, n_channels), generator=generator).float()


def rockpool_forward(net: RockpoolSynNet, x: torch.Tensor, record: bool = False) -> Any:
    net.reset_state()
    output, _, record_dict = net(x, record=record)
    return (output, record_dict) if record else output


def assert_relative_close(ours: torch.Tensor, theirs: torch.Tensor, rtol: float, what: str):
    scale = theirs.abs().max().clamp_min(1e-12)
    error = (ours - theirs).abs().max() / scale
    assert error <= rtol, f"{what}: relative error {error:.3g} > {rtol}"


def assert_forward_and_gradients_match_rockpool(config: dict[str, Any], backend: str) -> None:
    """Same output (spikes exactly, vmem within 1e-5) and parameter gradients (1e-4 relative) as
    Rockpool's SynNet, for networks built from the same seed."""
    ours, theirs = build_pair(dict(config, backend=backend))
    x = spike_input(config["n_channels"])

    our_output = ours(x)
    their_output = rockpool_forward(theirs, x)
    assert our_output.shape == their_output.shape == (2, 40, config["n_classes"])
    if config.get("output") == "vmem":
        assert our_output.abs().max() > 0.1
        torch.testing.assert_close(our_output, their_output, rtol=0, atol=1e-5)
    else:
        assert their_output.sum() > 0, "the test input must make the readout spike"
        assert bitwise_equal(our_output, their_output)

    their_parameters = assert_gradients_match(ours, theirs, our_output, their_output)
    for key, parameter in ours.named_parameters():
        assert parameter.grad is not None, key
        assert their_parameters[key].grad.abs().max() > 0, f"{key}: Rockpool gradient is zero"


def assert_gradients_match(ours: torch.nn.Module, theirs: torch.nn.Module,
                           our_output: torch.Tensor, their_output: torch.Tensor
                           ) -> dict[str, torch.Tensor]:
    """Backpropagate the same random weighting of both outputs; every parameter gradient of
    ours within 1e-4 (relative to the largest) of Rockpool's. Returns Rockpool's parameters."""
    weights = torch.randn(our_output.shape, generator=torch.Generator().manual_seed(2))
    (our_output * weights).sum().backward()
    (their_output * weights).sum().backward()
    their_parameters = dict(theirs.named_parameters())
    for key, parameter in ours.named_parameters():
        assert_relative_close(parameter.grad, their_parameters[key].grad, 1e-4, key)
    return their_parameters
