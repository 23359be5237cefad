"""Rockpool 3.1 ``SynNet``'s conventions, reproduced without importing Rockpool.

Time constants quantised to Xylo bit-shift decays, the checks of the constructor's neuron
arguments, and the ``state_dict`` keys Rockpool's ``LIFTorch`` layers store, so checkpoints
load both ways. :class:`synnet_triton.nn.synnet.SynNet` builds on these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from synnet_triton.nn.lif import LIF

if TYPE_CHECKING:
    from synnet_triton.nn.synnet import SynNet

ROCKPOOL_STATE_NAMES = ("vmem", "isyn", "spikes")
"""Per-neuron-layer state that Rockpool's ``LIFTorch`` stores in its ``state_dict``."""

NEURON_KWARGS = ("spike_generation_fn", "surrogate", "max_spikes_per_dt", "learning_window",
                 "noise_std", "has_rec")
"""Keys accepted in ``neuron_kwargs``."""


def dash_from_tau(dt: float, tau: Tensor) -> Tensor:
    """Xylo bit-shift decay of a time constant, ``-log2(1 - exp(-dt / tau))``.

    As Rockpool 3.1 lif_torch.py ``tau_to_bitshift``."""
    return -torch.log2(1 - torch.exp(-dt / tau))


def tau_from_dash(dt: float, dash: Tensor) -> Tensor:
    """Time constant of an integer bit-shift decay, ``-dt / log(1 - 2**-dash)``.

    As Rockpool 3.1 lif_torch.py ``bitshift_to_tau``."""
    return -dt / torch.log(1 - 1 / (2**dash))


def quantize_tau(dt: float, tau: float) -> float:
    """Round a time constant to the nearest one a Xylo bit-shift decay can realise.

    Evaluated on a 0-d float32 tensor, one value at a time, the way Rockpool's SynNet evaluates
    it, so the result is Rockpool's to the bit without relying on torch's vectorised ``exp`` and
    ``log`` rounding like its one-element path.
    """
    dash = torch.round(dash_from_tau(dt, torch.tensor(tau))).int()
    return tau_from_dash(dt, dash).item()


def positive_int(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}")
    return value


def surrogate_name(spike_generation_fn: Any) -> str:
    """Our surrogate name for Rockpool's ``spike_generation_fn`` class (or for our name)."""
    names = {"PeriodicExponential": "periodic_exponential", "StepPWL": "step_pwl"}
    names.update({name: name for name in list(names.values())})
    key = (
        spike_generation_fn
        if isinstance(spike_generation_fn, str)
        else str(getattr(spike_generation_fn, "__name__", ""))
    )
    if key not in names:
        raise ValueError(
            "`neuron_kwargs['spike_generation_fn']` must be Rockpool's PeriodicExponential or "
            f"StepPWL, or a surrogate name, got {spike_generation_fn!r}"
        )
    return names[key]


def check_neuron_model(neuron_model: Any) -> None:
    """Accept our LIF (or a subclass), Rockpool's ``LIFTorch`` or our Rockpool drop-in
    ``LIFTriton``: LIF computes ``LIFTorch``'s semantics, so all three build the same layers."""
    if neuron_model is None:
        return
    if isinstance(neuron_model, type) and issubclass(neuron_model, LIF):
        return
    rockpool_models = {("LIFTorch", "rockpool."), ("LIFTriton", "synnet_triton.rockpool.")}
    if isinstance(neuron_model, type) and any(
        neuron_model.__name__ == name and neuron_model.__module__.startswith(package)
        for name, package in rockpool_models
    ):
        return
    raise TypeError(
        "`neuron_model` must be None, synnet_triton.LIF (or a subclass), rockpool's LIFTorch or "
        f"synnet_triton.rockpool.LIFTriton (all build synnet_triton.LIF), got {neuron_model!r}"
    )


def rockpool_like_state_dict(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: Any
) -> None:
    """``state_dict`` post-hook of a SynNet: store per neuron layer what Rockpool's ``LIFTorch``
    stores.

    Rockpool keeps fixed (``Constant``) parameters out of its checkpoints and stores the module
    state ``vmem`` (N,), ``isyn`` (N, S), ``spikes`` (N,). A SynNet layer has no stored state
    (each call starts from zero or from an explicit state), so it saves zeros there.
    """
    net: SynNet = module  # type: ignore[assignment]
    for layer_name, layer in zip(net.lif_names, net.neuron_layers(), strict=True):
        layer_prefix = f"{prefix}seq.{layer_name}."
        for name in layer._buffers:
            state_dict.pop(layer_prefix + name, None)
        zero_state = layer.initial_state(1)
        for name in ROCKPOOL_STATE_NAMES:
            state_dict[layer_prefix + name] = getattr(zero_state, name)[0]


def accept_rockpool_state_dict(
    module: nn.Module,
    state_dict: dict[str, Any],
    prefix: str,
    local_metadata: Any,
    strict: bool,
    missing_keys: list[str],
    unexpected_keys: list[str],
    error_msgs: list[str],
) -> None:
    """``load_state_dict`` pre-hook of a SynNet, the inverse of :func:`rockpool_like_state_dict`.

    Drops Rockpool's stored module state (SynNet carries state explicitly, see
    :meth:`SynNet.forward`) and keeps each layer's fixed parameters, which checkpoints do not
    contain (both libraries fix them by the constructor arguments).
    """
    net: SynNet = module  # type: ignore[assignment]
    for layer_name, layer in zip(net.lif_names, net.neuron_layers(), strict=True):
        layer_prefix = f"{prefix}seq.{layer_name}."
        for name in ROCKPOOL_STATE_NAMES:
            state_dict.pop(layer_prefix + name, None)
        for name, buffer in layer._buffers.items():
            if buffer is not None and name not in layer._non_persistent_buffers_set:
                state_dict.setdefault(layer_prefix + name, buffer.detach().clone())


def synnet_skeleton(
    cls: type, sizes: Sequence[int], n_channels: int, dt: float, output: str,
    p_dropout: float, **extra: Any,
) -> Any:
    """A ``cls`` SynNet — ours, Rockpool's or the Rockpool drop-in: they share the
    constructor — with hidden layers ``sizes[:-1]``, ``sizes[-1]`` classes, one time constant
    per layer and nothing quantised, for a conversion to fill with its own weights and neuron
    layers. Built inside ``fork_rng``, so converting leaves the caller's random stream alone."""
    with torch.random.fork_rng(devices=[]):
        return cls(
            n_classes=sizes[-1], n_channels=n_channels, size_hidden_layers=list(sizes[:-1]),
            time_constants_per_layer=[1] * (len(sizes) - 1), tau_syn_base=2 * dt,
            quantize_time_constants=False, p_dropout=p_dropout, dt=dt, output=output, **extra,
        )
