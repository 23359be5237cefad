"""Convert between :class:`synnet_triton.SynNet` and Rockpool 3.1 ``rockpool.nn.networks.SynNet``.

Both directions copy every parameter exactly (trainable ones stay trainable, fixed ones stay
fixed) and keep the layer names, so the converted network computes the same spikes.
"""

from __future__ import annotations

from typing import Any

import torch
from rockpool.nn.modules import LIFTorch, LinearTorch
from rockpool.nn.modules import TimeStepDropout as RockpoolTimeStepDropout
from rockpool.nn.modules.torch.lif_torch import LIFBaseTorch, PeriodicExponential, StepPWL
from rockpool.nn.networks import SynNet as RockpoolSynNet
from rockpool.parameters import Constant
from torch import Tensor, nn

from synnet_triton.nn.lif import LIF
from synnet_triton.nn.synnet import SynNet
from synnet_triton.nn.synnet_conventions import synnet_skeleton
from synnet_triton.ops.lif.types import Surrogate

ROCKPOOL_SURROGATES = {"periodic_exponential": PeriodicExponential, "step_pwl": StepPWL}
"""Our surrogate names to Rockpool's ``spike_generation_fn`` classes."""


def synnet_from_rockpool(net: RockpoolSynNet, *, backend: str = "auto") -> SynNet:
    """A :class:`SynNet` with the layers and every parameter of a Rockpool ``SynNet``.

    Args:
        net: a Rockpool 3.1 ``SynNet`` (or :class:`synnet_triton.rockpool.SynNet`) whose
            neuron layers are ``LIFTorch`` or ``LIFTriton`` (leak mode ``"taus"``).
        backend: LIF backend of the new network.

    Returns:
        a SynNet in training mode if ``net`` is, with the same output kind and dropout.
    """
    if not isinstance(net, RockpoolSynNet):
        raise TypeError(f"`net` must be a rockpool.nn.networks.SynNet, got {type(net).__name__}")
    children = list(net.seq.named_children())
    linears = [module for _, module in children if isinstance(module, LinearTorch)]
    neurons = [(name, module) for name, module in children if name in net.lif_names]
    dropouts = [module for _, module in children if isinstance(module, RockpoolTimeStepDropout)]
    for name, module in neurons:
        if not isinstance(module, LIFBaseTorch) or module.leak_mode != "taus":
            raise TypeError(
                f"`net` layer {name!r} must be a LIFTorch or LIFTriton with leak_mode 'taus' to "
                f"convert, got "
                f"{type(module).__name__}"
            )
    if len(linears) != len(neurons) or len(neurons) < 2:
        raise ValueError(
            f"`net` does not have SynNet's layer structure: {[n for n, _ in children]}"
        )

    sizes = [int(linear.weight.shape[1]) for linear in linears]
    converted = synnet_skeleton(
        SynNet, sizes, int(linears[0].weight.shape[0]), net.dt, net.output,
        float(dropouts[0].p) if dropouts else 0.0, backend=backend,
    )
    with torch.no_grad():
        for our_linear, linear in zip(converted.linear_layers(), linears, strict=True):
            our_linear.weight.copy_(linear.weight)
    for name, module in neurons:
        setattr(converted.seq, name, lif_from_rockpool(module, backend))
    converted.train(net.training)
    return converted


def synnet_to_rockpool(net: SynNet) -> RockpoolSynNet:
    """A Rockpool 3.1 ``SynNet`` (``LIFTorch`` neurons) with this network's layers and
    parameters.

    Args:
        net: the network to convert.

    Returns:
        a Rockpool SynNet in training mode if ``net`` is; its state is zero.
    """
    if not isinstance(net, SynNet):
        raise TypeError(f"`net` must be a synnet_triton.SynNet, got {type(net).__name__}")
    layers = net.neuron_layers()
    converted = synnet_skeleton(
        RockpoolSynNet, [*net.size_hidden_layers, net.n_classes], net.n_channels, net.dt,
        net.output, net.p_dropout,
    )
    for name, linear in zip(net.lif_names, net.linear_layers(), strict=True):
        rockpool_linear = converted.seq.get_submodule(name.replace("_neurons", "_linear"))
        rockpool_linear.weight.data = linear.weight.detach().cpu().clone()
    for name, layer in zip(net.lif_names, layers, strict=True):
        setattr(converted.seq, name, lif_to_rockpool(layer))
    converted.train(net.training)
    return converted


def _is_trainable(module: nn.Module, name: str) -> bool:
    return name in dict(module.named_parameters(recurse=False))


def lif_from_rockpool(module: LIFTorch, backend: str) -> LIF:
    """Our LIF with a Rockpool ``LIFTorch``'s tensors, shapes and trainability."""

    def value(name: str) -> Tensor:
        return getattr(module, name).detach().clone()

    spike_generation_class = module.spike_generation_fn.__self__
    surrogates = {cls: name for name, cls in ROCKPOOL_SURROGATES.items()}
    if spike_generation_class not in surrogates:
        raise TypeError(
            f"`net` layer spike_generation_fn must be PeriodicExponential or StepPWL, got "
            f"{spike_generation_class!r}"
        )
    recurrent: dict[str, Any] = (
        {"has_rec": True, "w_rec": value("w_rec")} if module._has_rec else {}
    )
    return LIF(
        int(module.size_out),
        int(module.n_synapses),
        tau_mem=value("tau_mem"),
        tau_syn=value("tau_syn"),
        threshold=value("threshold"),
        bias=value("bias"),
        train_tau_mem=_is_trainable(module, "tau_mem"),
        train_tau_syn=_is_trainable(module, "tau_syn"),
        train_threshold=_is_trainable(module, "threshold"),
        train_bias=_is_trainable(module, "bias"),
        dt=float(module.dt),
        surrogate=surrogates[spike_generation_class],
        learning_window=float(module.learning_window),
        max_spikes_per_dt=float(module.max_spikes_per_dt),
        noise_std=float(module.noise_std),
        backend=backend,
        **recurrent,
    )


def lif_to_rockpool(layer: LIF) -> LIFTorch:
    """A Rockpool ``LIFTorch`` with our LIF's tensors, shapes and trainability."""

    def value(name: str) -> Any:
        tensor = getattr(layer, name).detach().cpu().clone()
        return tensor if _is_trainable(layer, name) else Constant(tensor)

    recurrent: dict[str, Any] = {}
    if layer.w_rec is not None:
        recurrent = {"has_rec": True, "w_rec": value("w_rec")}
    return LIFTorch(
        shape=(layer.n_neurons * layer.n_synapses, layer.n_neurons),
        tau_mem=value("tau_mem"),
        tau_syn=value("tau_syn"),
        threshold=value("threshold"),
        bias=value("bias"),
        dt=float(layer.dt),
        spike_generation_fn=ROCKPOOL_SURROGATES[Surrogate(layer.surrogate).value],
        learning_window=float(layer.learning_window),
        max_spikes_per_dt=float(layer.max_spikes_per_dt),
        noise_std=float(layer.noise_std),
        **recurrent,
    )
