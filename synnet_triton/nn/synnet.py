"""SynNet: a feed-forward spiking network with several synaptic time constants per layer.

The architecture, constructor arguments, defaults, derived time constants, weight
initialisation and ``state_dict`` keys are those of Rockpool 3.1 ``rockpool.nn.networks.SynNet``
(``nn/networks/synnet.py``; Bos & Muir 2022, https://arxiv.org/abs/2208.12991 and 2024,
https://arxiv.org/abs/2406.15112), so a Rockpool user can switch by changing the import and keep
their checkpoints. The neuron layers are :class:`synnet_triton.nn.lif.LIF`, which computes
Rockpool ``LIFTorch``'s float semantics with fused kernels.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import Tensor, nn

from synnet_triton.nn.dropout import TimeStepDropout
from synnet_triton.nn.lif import LIF
from synnet_triton.nn.linear import Linear
from synnet_triton.nn.synnet_conventions import (
    NEURON_KWARGS,
    accept_rockpool_state_dict,
    check_neuron_model,
    positive_int,
    quantize_tau,
    rockpool_like_state_dict,
    surrogate_name,
)
from synnet_triton.ops.lif.types import LIFOutput, LIFState
from synnet_triton.ops.lif.validation import (
    ACCEPTED_INPUT_DTYPES,
    check_max_spikes,
    check_positive_number,
)
from synnet_triton.xylo.targets import DEFAULT_TARGET

if TYPE_CHECKING:
    pass

THRESHOLD_OUT_VMEM = 2**15 - 1
"""Readout threshold when ``output="vmem"`` (Rockpool 3.1 synnet.py ``THRESHOLD_OUT``): high
enough that the readout never spikes, so its membrane integrates freely."""

class SynNetResult(NamedTuple):
    """What :meth:`SynNet.forward` returns with ``return_state=True`` or ``record=True``.

    output: (B, T, n_classes) readout spikes, or the readout membrane for ``output="vmem"``
    state:  one :class:`LIFState` per neuron layer, in the order of ``SynNet.lif_names``:
            the state after the last step, to pass as ``state`` to the next call
    record: with ``record=True``, layer name (``"0_neurons"``, ..., ``"out_neurons"``) to that
            layer's :class:`LIFOutput` (spikes (B, T, N), vmem (B, T, N), isyn (B, T, N, 1));
            otherwise None
    """

    output: Tensor
    state: list[LIFState]
    record: dict[str, LIFOutput] | None


class SynNet(nn.Module):
    """A SynNet: linear → LIF (→ dropout) per hidden layer, then linear → LIF readout.

    Every argument, default and validation error of Rockpool 3.1 ``SynNet`` is reproduced, and
    with the same torch seed a new SynNet holds exactly the initial weights of Rockpool's.

    Hidden layer ``l`` with ``n = size_hidden_layers[l]`` neurons and
    ``k = time_constants_per_layer[l]`` time constants gives neuron ``j`` the synaptic time
    constant ``(tau_syn_base / dt) ** (j % k + 1) * dt``; each input weight of a neuron is
    scaled by ``dt / tau_syn`` of that neuron. With ``quantize_time_constants`` every time
    constant is first rounded to the one an integer Xylo bit-shift decay realises. The
    readout has time constants ``tau_mem`` and ``tau_syn_out``, never trains them, and uses
    ``threshold_out`` (2**15 - 1 for ``output="vmem"``).

    Submodules live in ``self.seq`` under Rockpool's names (``"0_linear"``, ``"0_neurons"``,
    ``"0_dropout"``, ..., ``"out_linear"``, ``"out_neurons"``); ``state_dict()`` has Rockpool's
    keys and shapes, and ``load_state_dict`` accepts a Rockpool SynNet's ``state_dict()`` (and
    vice versa). Fixed parameters are not saved (as in Rockpool); the Rockpool state entries
    ``vmem``/``isyn``/``spikes`` of each neuron layer are written as zeros and ignored when
    loading, because this module carries no state between calls.

    Args:
        n_classes: number of readout neurons.
        n_channels: number of input channels.
        size_hidden_layers: neurons per hidden layer.
        time_constants_per_layer: distinct synaptic time constants per hidden layer (same
            length as ``size_hidden_layers``).
        tau_syn_base: smallest hidden synaptic time constant in seconds; must exceed ``dt``.
        tau_mem: membrane time constant of all neurons in seconds.
        tau_syn_out: synaptic time constant of the readout in seconds.
        quantize_time_constants: round time constants to Xylo-realisable values.
        train_time_constants: make hidden ``tau_mem`` and ``tau_syn`` trainable.
        threshold: hidden firing threshold.
        threshold_out: readout threshold, a float or one per class; None means ``threshold``.
            Not allowed with ``output="vmem"``.
        train_threshold: make the hidden thresholds trainable.
        neuron_model: None, :class:`LIF` (or a subclass), Rockpool's ``LIFTorch`` or
            ``synnet_triton.rockpool.LIFTriton``; the last three build :class:`LIF` layers
            (which compute ``LIFTorch``'s semantics), a subclass builds itself.
        max_spikes_per_dt: most spikes a hidden neuron emits in one step.
        max_spikes_per_dt_out: most spikes a readout neuron emits in one step.
        p_dropout: probability of dropping a hidden (batch, step, neuron) entry while training;
            a :class:`TimeStepDropout` follows each hidden layer when > 0.
        dt: time step in seconds.
        output: ``"spikes"`` or ``"vmem"`` (the readout's post-reset membrane).
        neuron_kwargs: extra arguments of every neuron layer, as in Rockpool: keys among
            ``spike_generation_fn`` (Rockpool's ``PeriodicExponential`` (default) or
            ``StepPWL`` class), ``surrogate`` (``"periodic_exponential"``/``"step_pwl"``),
            ``max_spikes_per_dt`` (hidden layers only; the readout keeps
            ``max_spikes_per_dt_out``), ``learning_window``, ``noise_std``, ``has_rec``.
        backend: LIF backend, ``"auto"`` or a name :class:`LIF` accepts.
        checkpoint_every: passed to every :class:`LIF`: save the state every K steps in the
            forward and recompute between them in the backward (memory O(T/K)).
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
        neuron_model: type | None = None,
        max_spikes_per_dt: int = 31,
        max_spikes_per_dt_out: int = 1,
        p_dropout: float = 0.0,
        dt: float = 1e-3,
        output: str = "spikes",
        neuron_kwargs: dict[str, Any] | None = None,
        *,
        backend: str = "auto",
        checkpoint_every: int | None = None,
    ) -> None:
        super().__init__()
        n_classes = positive_int("n_classes", n_classes)
        n_channels = positive_int("n_channels", n_channels)
        size_hidden_layers = list(size_hidden_layers)
        time_constants_per_layer = list(time_constants_per_layer)
        # The checks and their order are Rockpool 3.1 SynNet's.
        if len(size_hidden_layers) != len(time_constants_per_layer):
            raise ValueError(
                "`size_hidden_layers` and `time_constants_per_layer` must have the same length, "
                f"got {len(size_hidden_layers)} and {len(time_constants_per_layer)}"
            )
        if tau_syn_base <= dt:
            raise ValueError(
                f"`tau_syn_base` ({tau_syn_base}) must be larger than the time step `dt` ({dt})"
            )
        if output not in ("spikes", "vmem"):
            raise ValueError(f"`output` must be 'spikes' or 'vmem', got {output!r}")
        if output == "vmem" and threshold_out is not None:
            raise ValueError(
                "`threshold_out` cannot be set with output='vmem': the readout threshold is not "
                "applied when the output is the membrane potential"
            )
        if not size_hidden_layers:
            raise ValueError("`size_hidden_layers` must name at least one hidden layer")
        for index, size in enumerate(size_hidden_layers):
            positive_int(f"size_hidden_layers[{index}]", size)
        for index, count in enumerate(time_constants_per_layer):
            positive_int(f"time_constants_per_layer[{index}]", count)
        if not 0.0 <= p_dropout <= 1.0:
            raise ValueError(f"`p_dropout` must be in [0, 1], got {p_dropout!r}")
        # Beyond Rockpool's checks: fail here, naming the argument the caller passed, rather
        # than deep inside a layer under another name.
        check_positive_number("dt", dt)
        for name, value in (("tau_mem", tau_mem), ("tau_syn_out", tau_syn_out),
                            ("threshold", threshold)):
            check_positive_number(name, value)
        if threshold_out is not None:
            thresholds_out = torch.as_tensor(threshold_out, dtype=torch.float64)
            if not bool((thresholds_out > 0).all()) or not bool(thresholds_out.isfinite().all()):
                raise ValueError(f"`threshold_out` must be finite and > 0, got {threshold_out!r}")
        check_max_spikes(max_spikes_per_dt, "max_spikes_per_dt")
        check_max_spikes(max_spikes_per_dt_out, "max_spikes_per_dt_out")
        check_neuron_model(neuron_model)
        neuron_class: type[LIF] = neuron_model if (
            isinstance(neuron_model, type) and issubclass(neuron_model, LIF)
        ) else LIF

        hidden_neuron_kwargs: dict[str, Any] = {
            "surrogate": "periodic_exponential", "max_spikes_per_dt": max_spikes_per_dt,
        }
        for key, value in (neuron_kwargs or {}).items():
            if key not in NEURON_KWARGS:
                raise ValueError(
                    f"`neuron_kwargs` key {key!r} is not supported; expected keys among "
                    f"{NEURON_KWARGS}"
                )
            if key == "spike_generation_fn":
                hidden_neuron_kwargs["surrogate"] = surrogate_name(value)
            else:
                hidden_neuron_kwargs[key] = value
        has_rec = bool(hidden_neuron_kwargs.pop("has_rec", False))
        out_neuron_kwargs = dict(hidden_neuron_kwargs, max_spikes_per_dt=max_spikes_per_dt_out)

        if output == "vmem":
            threshold_out = THRESHOLD_OUT_VMEM
        elif threshold_out is None:
            threshold_out = threshold

        if quantize_time_constants:
            tau_mem = quantize_tau(dt, tau_mem)
            tau_syn_out = quantize_tau(dt, tau_syn_out)
        # What every neuron layer shares; biases are fixed at zero as in Rockpool's SynNet.
        lif_options: dict[str, Any] = {
            "tau_mem": tau_mem, "bias": 0.0, "train_bias": False, "has_rec": has_rec, "dt": dt,
            "backend": backend, "checkpoint_every": checkpoint_every,
        }

        self.output: str = output
        """``"spikes"`` or ``"vmem"``: what :meth:`forward` returns."""
        self.dt: float = dt
        """Time step in seconds."""
        self.n_classes: int = n_classes
        self.n_channels: int = n_channels
        self.size_hidden_layers: list[int] = size_hidden_layers
        self.p_dropout: float = float(p_dropout)

        # Layers are built in Rockpool's order (each layer's weights, then its neurons, whose
        # recurrent weights, if any, are drawn on construction), so a seed gives the same values.
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        lif_names: list[str] = []
        n_inputs = n_channels
        for index, (n_hidden, n_tau) in enumerate(
            zip(size_hidden_layers, time_constants_per_layer, strict=True)
        ):
            taus = [(tau_syn_base / dt) ** power * dt for power in range(1, n_tau + 1)]
            tau_syn_hidden = [taus[j % n_tau] for j in range(n_hidden)]
            if quantize_time_constants:
                tau_syn_hidden = [quantize_tau(dt, tau) for tau in tau_syn_hidden]
            tau_syn_tensor = torch.tensor(tau_syn_hidden)

            layers[f"{index}_linear"] = _scaled_linear(n_inputs, n_hidden, dt, tau_syn_tensor)
            layers[f"{index}_neurons"] = neuron_class(
                n_hidden,
                1,
                tau_syn=tau_syn_tensor.reshape(n_hidden, 1),
                threshold=threshold,
                train_tau_mem=train_time_constants,
                train_tau_syn=train_time_constants,
                train_threshold=train_threshold,
                **hidden_neuron_kwargs,
                **lif_options,
            )
            lif_names.append(f"{index}_neurons")
            if p_dropout > 0.0:
                layers[f"{index}_dropout"] = TimeStepDropout(n_hidden, p_dropout)
            n_inputs = n_hidden

        layers["out_linear"] = _scaled_linear(n_inputs, n_classes, dt, tau_syn_out)
        layers["out_neurons"] = neuron_class(
            n_classes,
            1,
            tau_syn=tau_syn_out,
            threshold=_threshold_tensor_or_float(threshold_out, n_classes),
            train_tau_mem=False,
            train_tau_syn=False,
            train_threshold=False,
            **out_neuron_kwargs,
            **lif_options,
        )
        lif_names.append("out_neurons")

        self.seq = nn.Sequential(layers)
        """The layers in evolution order, under Rockpool's names."""
        self.lif_names: list[str] = lif_names
        """Names of the neuron layers in ``seq``, in evolution order."""
        self.label_last_LIF: str = lif_names[-1]
        """Name of the readout neuron layer."""
        self.register_state_dict_post_hook(rockpool_like_state_dict)
        self.register_load_state_dict_pre_hook(accept_rockpool_state_dict)

    def linear_layers(self) -> list[Linear]:
        """The weight layers in evolution order (``"0_linear"``, ..., ``"out_linear"``)."""
        return [
            self.seq.get_submodule(name.replace("_neurons", "_linear"))  # type: ignore[misc]
            for name in self.lif_names
        ]

    def neuron_layers(self) -> list[LIF]:
        """The neuron layers in evolution order (hidden layers, then the readout)."""
        return [self.seq.get_submodule(name) for name in self.lif_names]  # type: ignore[misc]

    def initial_state(self, batch: int, device: torch.device | None = None) -> list[LIFState]:
        """Zero state of every neuron layer for ``batch`` sequences, as ``forward`` starts from.

        Returns:
            one :class:`LIFState` per layer of ``lif_names``: vmem (B, N), isyn (B, N, 1),
            spikes (B, N)
        """
        return [layer.initial_state(batch, device) for layer in self.neuron_layers()]

    def forward(
        self,
        x: Tensor,
        state: Sequence[LIFState] | None = None,
        *,
        return_state: bool = False,
        record: bool = False,
        lengths: Tensor | None = None,
    ) -> Tensor | SynNetResult:
        """Run the network over a whole sequence.

        Args:
            x: (B, T, n_channels) or (T, n_channels) input (spike counts or any real input).
            state: None to start every layer from zero state, or one :class:`LIFState` per
                neuron layer (as returned by a previous call with ``return_state=True``) to
                continue a stream.
            return_state: also return every layer's final state.
            record: also return every layer's spikes, vmem and isyn.
            lengths: (B,) integer steps of each sample of a padded batch: every layer stops
                each sample at its length, so outputs past it are zero and each sample's final
                state and gradients are those of running it alone (see
                :func:`synnet_triton.ops.lif.functional.lif`).

        Returns:
            (B, T, n_classes) readout spikes, or for ``output="vmem"`` the readout's post-reset
            membrane (B is 1 for a 2-d ``x``); a :class:`SynNetResult` holding it with
            ``return_state`` or ``record``.
        """
        if not isinstance(x, Tensor):
            raise TypeError(f"`x` must be a torch.Tensor, got {type(x).__name__}")
        if x.dtype not in ACCEPTED_INPUT_DTYPES:
            raise TypeError(
                f"`x` must be float32, float16 or bfloat16 (event counts as floats), got {x.dtype}"
            )
        if x.dim() == 2:
            x = x.unsqueeze(0)
        if x.dim() != 3 or x.shape[-1] != self.n_channels:
            raise ValueError(
                f"`x` must have shape (B, T, {self.n_channels}) or (T, {self.n_channels}) "
                f"(n_channels={self.n_channels}), got {tuple(x.shape)}"
            )
        layer_states = self._check_state(state)

        new_states: list[LIFState] = []
        records: dict[str, LIFOutput] = {}
        data = x
        lif_index = 0
        for name, layer in self.seq.named_children():
            if not isinstance(layer, LIF):
                data = layer(data)
                continue
            is_readout = name == self.label_last_LIF
            record_layer = record or (is_readout and self.output == "vmem")
            layer_state = None if layer_states is None else layer_states[lif_index]
            if return_state or record_layer or layer_state is not None:
                layer_output, final_state = layer(
                    data, layer_state, return_state=True, record=record_layer, lengths=lengths
                )
                new_states.append(final_state)
                if record:
                    records[name] = layer_output
                if is_readout and self.output == "vmem":
                    assert layer_output.vmem is not None  # recorded: record_layer is True
                    data = layer_output.vmem
                else:
                    data = layer_output.spikes
            else:
                data = layer(data, lengths=lengths)
            lif_index += 1

        if return_state or record:
            return SynNetResult(data, new_states, records if record else None)
        return data

    def _check_state(self, state: Sequence[LIFState] | None) -> list[LIFState] | None:
        if state is None:
            return None
        state = list(state)
        if len(state) != len(self.lif_names) or not all(
            isinstance(layer_state, LIFState) for layer_state in state
        ):
            raise ValueError(
                f"`state` must be a list of {len(self.lif_names)} LIFState (one per layer in "
                f"{self.lif_names}), got {len(state)} entries of types "
                f"{[type(layer_state).__name__ for layer_state in state]}"
            )
        return state

    def xylo_layers(self) -> dict[str, list[Tensor]]:
        """The per-layer arguments of :func:`synnet_triton.xylo.synnet_float_specification`
        (weights (in, N·S), tau_mem (N,), tau_syn (N, S), threshold (N,), bias (N,)), in
        evolution order: the network's own tensors, so gradients reach its parameters."""
        neurons = self.neuron_layers()
        return {
            "weights": [linear.weight for linear in self.linear_layers()],
            "tau_mem": [layer.tau_mem.expand(layer.n_neurons) for layer in neurons],
            "tau_syn": [
                layer.tau_syn.expand(layer.n_neurons, layer.n_synapses) for layer in neurons
            ],
            "threshold": [layer.threshold.expand(layer.n_neurons) for layer in neurons],
            "bias": [layer.bias.expand(layer.n_neurons) for layer in neurons],
        }

    def to_xylo(
        self, quantize: str = "global", target: str = DEFAULT_TARGET, *, check: bool = True
    ) -> dict[str, Any]:
        """Integer Xylo spec of this network, equal to Rockpool's ``mapper`` for ``target``
        followed by ``global_quantize`` (``quantize="global"``) or ``channel_quantize``
        (``"channel"``).

        Args:
            quantize: ``"global"`` or ``"channel"``.
            target: ``"xylo-audio2"`` (SYNS61201, default), ``"xylo-audio3"`` (SYNS65302) or
                ``"xylo-imu"`` (SYNS63300).
            check: run :func:`synnet_triton.xylo.check_design` on the result and raise
                ``DesignError`` (a ValueError listing every violation) when ``target`` cannot
                hold it; its warnings are warned.

        Feed the spec to ``synnet_triton.xylo.XyloSim.from_specification(**spec,
        target=target)`` (or Rockpool's). Pitfalls: ``output="vmem"`` crushes readout and
        recurrent weights under global quantisation; on Xylo every layer adds one step of delay
        (see :mod:`synnet_triton.xylo.mapping`).
        """
        from synnet_triton.xylo.design import check_specification
        from synnet_triton.xylo.mapping import synnet_specification

        spec = synnet_specification(
            **self.xylo_layers(), dt=self.dt, quantize=quantize, target=target
        )
        if check:
            neurons = self.neuron_layers()
            layers = [(name, layer.n_neurons)
                      for name, layer in zip(self.lif_names[:-1], neurons[:-1], strict=True)]
            check_specification(spec, target, layers).enforce(stacklevel=2)
        return spec


def _threshold_tensor_or_float(threshold: float | Sequence[float], n_neurons: int) -> Any:
    """A float stays a float; a per-neuron list becomes an (n_neurons,) float32 tensor."""
    if isinstance(threshold, (int, float)):
        return float(threshold)
    values = torch.as_tensor(threshold, dtype=torch.float32).flatten()
    if values.numel() != n_neurons:
        raise ValueError(
            f"`threshold_out` must be a float or {n_neurons} values (one per class), "
            f"got {values.numel()} values"
        )
    return values


def _scaled_linear(n_inputs: int, n_outputs: int, dt: float, tau_syn: Tensor | float) -> Linear:
    """A freshly initialised :class:`Linear` whose column j is scaled by ``dt / tau_syn[j]``.

    The scaling is Rockpool 3.1 SynNet's ``weight * dt / tau_syn``, evaluated in that order so
    the float results are the same.

    Args:
        tau_syn: (n_outputs,) tensor or a float for all outputs.
    """
    linear = Linear(n_inputs, n_outputs)
    with torch.no_grad():
        linear.weight.copy_(linear.weight * dt / tau_syn)
    return linear
