"""``SynNet``: Rockpool 3.1's ``rockpool.nn.networks.SynNet`` with :class:`LIFTriton` neurons.

A Rockpool user migrates by changing one import::

    from synnet_triton.rockpool import SynNet     # instead of rockpool.nn.networks

It *is* a Rockpool ``SynNet`` (a subclass): Rockpool's own constructor builds the network — same
arguments, defaults, validation, derived time constants and, for one torch seed, the same
initial weights — and then every ``LIFTorch`` layer is replaced by a :class:`LIFTriton` holding
its parameters. Everything else is Rockpool's: the call convention
``output, state, record = net(x)``, ``reset_state()``, ``state()``, ``parameters()``,
``simulation_parameters()``, ``as_graph()`` (so Rockpool's Xylo mappers take it), ``.seq`` (a
``TorchSequential`` of ``LinearTorch``, ``LIFTriton`` and ``TimeStepDropout`` under
``"0_linear"``, ``"0_neurons"``, ``"0_dropout"``, ..., ``"out_linear"``, ``"out_neurons"``), the
record keys, the broadcast of a ``(T, 1)`` input, and the state carried between calls (batch
element 0's, as :class:`LIFTriton` documents).

Differences from Rockpool, each on purpose:
- ``neuron_model`` defaults to :class:`LIFTriton`; ``LIFTorch`` builds Rockpool's network
  unchanged, anything else is refused (Rockpool fails on it with an unbound local variable);
- a time constant that rounds to a zero bit-shift (``quantize_time_constants``) is a decay of 0:
  it computes as Rockpool does, but its gradient is NaN in both when it trains, so a warning
  names the argument; so does a time-constant ladder that overflows to NaN (a tiny ``dt``),
  whose layers then run Rockpool's own step loop (see :class:`LIFTriton`) and give
  Rockpool's NaN;
- ``backend=`` and ``checkpoint_every=`` are passed to every :class:`LIFTriton`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from rockpool.nn.modules import LIFTorch
from rockpool.nn.modules.torch.lif_torch import LIFBaseTorch
from rockpool.nn.networks import SynNet as RockpoolSynNet

from synnet_triton.nn.synnet_conventions import synnet_skeleton
from synnet_triton.rockpool.lif import LIFTriton, copy_lif


class SynNet(RockpoolSynNet):
    """Rockpool 3.1 ``SynNet`` whose neurons are :class:`LIFTriton` (see the module docstring).

    Args:
        n_classes, n_channels, size_hidden_layers, time_constants_per_layer, tau_syn_base,
        tau_mem, tau_syn_out, quantize_time_constants, train_time_constants, threshold,
        threshold_out, train_threshold, max_spikes_per_dt, max_spikes_per_dt_out, p_dropout,
        dt, output, neuron_kwargs: exactly as Rockpool's ``SynNet``.
        neuron_model: :class:`LIFTriton` (default) or a subclass; Rockpool's ``LIFTorch``
            keeps Rockpool's layers.
        backend: LIF backend of every layer: ``"auto"`` (Triton on CUDA, the torch
            reference otherwise), ``"torch"`` or ``"triton"``.
        checkpoint_every: recompute segments of this many steps in the backward.

    ``net(x)``: x (B, T, n_channels), (T, n_channels) or (T, 1) → ``(output, state, record)``
    with output (B, T, n_classes): readout spike counts, or the readout membrane for
    ``output="vmem"``.
    """

    def __init__(
        self,
        n_classes: int,
        n_channels: int,
        size_hidden_layers: Sequence[int] = (60,),
        time_constants_per_layer: Sequence[int] = (10,),
        tau_syn_base: float = 2e-3,
        tau_mem: float = 2e-3,
        tau_syn_out: float = 2e-3,
        quantize_time_constants: bool = True,
        train_time_constants: bool = False,
        threshold: float = 1.0,
        threshold_out: float | Sequence[float] | None = None,
        train_threshold: bool = False,
        neuron_model: type = LIFTriton,
        max_spikes_per_dt: int = 31,
        max_spikes_per_dt_out: int = 1,
        p_dropout: float = 0.0,
        dt: float = 1e-3,
        output: str = "spikes",
        neuron_kwargs: dict[str, Any] | None = None,
        *args: Any,
        backend: str = "auto",
        checkpoint_every: int | None = None,
        **kwargs: Any,
    ) -> None:
        if not (isinstance(neuron_model, type) and issubclass(neuron_model, (LIFTriton, LIFTorch))):
            raise TypeError(
                f"neuron_model must be LIFTriton (or a subclass) or rockpool's LIFTorch, got "
                f"{neuron_model!r}"
            )
        super().__init__(
            n_classes, n_channels, list(size_hidden_layers), list(time_constants_per_layer),
            tau_syn_base, tau_mem, tau_syn_out, quantize_time_constants, train_time_constants,
            threshold, threshold_out, train_threshold, LIFTorch, max_spikes_per_dt,
            max_spikes_per_dt_out, p_dropout, dt, output, neuron_kwargs, *args, **kwargs,
        )
        self._backend = backend
        self._checkpoint_every = checkpoint_every
        if issubclass(neuron_model, LIFTriton):
            self._replace_neurons(neuron_model)
        _warn_degenerate_taus(self)

    def _replace_neurons(self, neuron_model: type[LIFTriton]) -> None:
        # every tensor is given, but fork anyway: construction must leave the caller's random
        # stream where Rockpool's constructor leaves it
        with torch.random.fork_rng(devices=[]):
            for name in self.lif_names:
                layer = getattr(self.seq, name)
                setattr(self.seq, name, copy_lif(
                    layer, neuron_model, backend=self._backend,
                    checkpoint_every=self._checkpoint_every,
                ))

    @classmethod
    def from_rockpool(
        cls, net: RockpoolSynNet, *, backend: str = "auto", checkpoint_every: int | None = None
    ) -> SynNet:
        """This class with the layers, parameters (values and trainability) and mode of a
        Rockpool ``SynNet`` (``LIFTorch`` or ``LIFTriton`` neurons); its state is zero.

        Raises:
            TypeError: ``net`` is not a Rockpool ``SynNet`` or a layer is not a Rockpool LIF.
        """
        return _rebuild(net, cls, LIFTriton, backend=backend, checkpoint_every=checkpoint_every)

    def to_rockpool(self) -> RockpoolSynNet:
        """Rockpool's own ``SynNet`` (``LIFTorch`` neurons) with this network's layers and
        parameters; its state is zero."""
        return _rebuild(self, RockpoolSynNet, LIFTorch)


def _rebuild(
    net: RockpoolSynNet, cls: type[RockpoolSynNet], neuron_model: type[LIFBaseTorch],
    **extra: Any,
) -> Any:
    """A ``cls`` SynNet skeleton of ``net``'s structure holding copies of its layers as
    ``neuron_model``; ``extra`` goes to the constructors of both."""
    if not isinstance(net, RockpoolSynNet):
        raise TypeError(f"`net` must be a rockpool.nn.networks.SynNet, got {type(net).__name__}")
    for name in net.lif_names:
        layer = getattr(net.seq, name)
        if not isinstance(layer, LIFBaseTorch):
            raise TypeError(
                f"`net` layer {name!r} must be a LIFTorch or LIFTriton, got {type(layer).__name__}"
            )
    sizes = [int(getattr(net.seq, name).size_out) for name in net.lif_names]
    dropouts = [module for name, module in net.seq.named_children() if name.endswith("_dropout")]
    skeleton = synnet_skeleton(
        cls, sizes, int(net.size_in), net.dt, net.output,
        float(dropouts[0].p) if dropouts else 0.0, neuron_model=LIFTorch, **extra,
    )
    for name, module in net.seq.named_children():  # copy_lif draws nothing from the RNG
        if name in net.lif_names:
            setattr(skeleton.seq, name, copy_lif(module, neuron_model, **extra))
        elif name.endswith("_linear"):
            getattr(skeleton.seq, name).weight.data = module.weight.detach().clone()
    skeleton.train(net.training)
    return skeleton


def _warn_degenerate_taus(net: RockpoolSynNet) -> None:
    """Warn, naming the constructor argument, where Rockpool's own network computes NaN."""
    for name in net.lif_names:
        layer = getattr(net.seq, name)
        trainable = dict(layer.named_parameters(recurse=False))
        for tau in ("tau_mem", "tau_syn"):
            value = getattr(layer, tau).detach()
            argument = "tau_mem" if tau == "tau_mem" else (
                "tau_syn_out" if name == net.label_last_LIF else "tau_syn_base")
            if not bool(torch.isfinite(value).all()):
                warnings.warn(
                    f"{argument}, dt: layer {name!r} has non-finite {tau} (SynNet's ladder "
                    f"(tau_syn_base / dt) ** k * dt overflows float32, or its rounding fails); "
                    f"its outputs are NaN, in Rockpool too", stacklevel=3,
                )
            elif tau in trainable and bool((value == 0).any()):
                warnings.warn(
                    f"{argument}: layer {name!r} has a {tau} of 0 s (a zero bit-shift after "
                    f"quantize_time_constants); it computes, but its gradient is NaN (in Rockpool "
                    f"too) — raise {argument} or set quantize_time_constants=False",
                    stacklevel=3,
                )
