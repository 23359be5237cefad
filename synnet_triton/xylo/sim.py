"""Batched, bit-exact simulation of the Xylo Audio 2 (SYNS61201) SNN core.

Semantics follow SynSense's `xylosim.v2` C++ simulator as Rockpool 3.1's
`rockpool.devices.xylo.syns61201.XyloSim` drives it (facts in docs/design.md §6). Per time step:

1. input events (clipped to 15 per channel) are added to hidden synaptic currents, channel by
   channel, event by event, each addition saturating to int16; weights are int8 shifted left by
   ``weight_shift_in`` and wrapped to int16;
2. the previous step's hidden spike counts are added the same way through the recurrent weights
   (``weight_shift_rec``), then through the readout weights into the output currents
   (``weight_shift_out``; readout row r is hidden neuron N − Noen + r);
3. each hidden neuron decays its currents and membrane by bit shifts (a decay step is at least 1
   in magnitude), integrates with saturation, adds its bias, and emits up to 31 spikes, subtracting
   the threshold per spike; aliases copy spike counts to other neurons (capped at 31);
4. output neurons do the same with one synapse and at most one spike.

The sequence runs on one of two engines: :mod:`synnet_triton.xylo.step_engine` (a vectorised
step of the whole population at a time, any device) or :mod:`synnet_triton.xylo.layers` (one
Triton launch per layer, CUDA). This module builds the simulator from a spec, keeps its state
and picks the engine.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from synnet_triton.ops.dispatch import BACKENDS, resolve_backend
from synnet_triton.xylo.chip import MAX_INPUT_EVENTS
from synnet_triton.xylo.design import check_specification
from synnet_triton.xylo.layers import layer_slices, run_layers
from synnet_triton.xylo.population import Population, population
from synnet_triton.xylo.spec import TENSOR_FIELDS, XyloSpec
from synnet_triton.xylo.step_engine import run_steps
from synnet_triton.xylo.targets import DEFAULT_TARGET, get_target

RECORD_KEYS = ("Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out")


class XyloSim(nn.Module):
    """Bit-exact Xylo simulator (Audio 2, Audio 3, IMU), batched; build with `from_specification`.

    Calling it: ``out, state, record = sim(x, record=False)`` with ``x`` integer event counts of
    shape (B, T, Nin) or (T, Nin). ``out`` is (B, T, Nout) (or (T, Nout)): output spikes, output
    membranes or output currents depending on ``output_mode``. ``record`` holds Rockpool's keys
    ``Vmem``, ``Isyn``, ``Isyn2`` (Xylo Audio 2 only, as Rockpool's), ``Spikes`` (B, T, N) and
    ``Vmem_out``, ``Isyn_out`` (B, T, Nout), without the batch dimension for unbatched input;
    empty unless ``record``.
    ``state`` holds the same keys for the state after the last step, (B, N) or (B, Nout); Rockpool
    returns an empty dict there. All returned tensors are int16 on the simulator's device.

    State (membranes, currents, the spike counts still to be delivered) carries over to the next
    call, per batch element, until `reset_state()`, as in Rockpool's XyloSim. A call with a
    different batch size than the carried state raises ValueError.

    The simulator runs on the device of its buffers: move it with ``.to(device)``; numpy input is
    moved there, torch input must already be there.

    Each step is a few dozen small tensor operations, so on the CPU one intra-op thread
    (``torch.set_num_threads(1)``) is fastest; several threads on a busy machine can be many
    times slower.

    Internally the hidden and output neurons form one population
    (:mod:`synnet_triton.xylo.population`); :mod:`synnet_triton.xylo.step_engine` and
    :mod:`synnet_triton.xylo.layers` run it.
    """

    # Device buffers, registered in __init__ (declared for type checkers).
    input_projection: Tensor
    spike_projection: Tensor
    input_shift: Tensor
    spike_shift: Tensor
    input_bound: Tensor
    spike_bound: Tensor
    drive_weights: Tensor
    signed_projection: Tensor
    dash_syn: Tensor
    dash_mem: Tensor
    bias: Tensor
    threshold: Tensor
    spike_cap: Tensor
    threshold_divisor: Tensor
    nonpositive_neurons: Tensor
    alias_forward: Tensor
    alias_late: Tensor
    _runs: tuple[torch.device, list[tuple[int, int, Tensor]]] | None = None
    """The step engine's cache of `step_engine.disjoint_runs`."""

    def __init__(self, spec: XyloSpec, target: str = DEFAULT_TARGET,
                 backend: str = "auto") -> None:
        """Store a validated `XyloSpec` as device buffers; prefer `from_specification`.
        ``target`` sets the record's keys (``Isyn2`` exists only on Xylo Audio 2); ``backend``
        how the sequence runs (`resolved_backend`)."""
        if not isinstance(spec, XyloSpec):
            raise TypeError(f"spec must be a XyloSpec; got {type(spec).__name__}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        super().__init__()
        self.spec = spec
        self.target = get_target(target)
        self.output_mode = spec.output_mode
        self.dt = spec.dt
        layout = population(spec)
        for name, value in layout.buffers.items():
            self.register_buffer(name, value)
        self.register_buffer("input_projection", torch.empty(0))
        self.register_buffer("spike_projection", torch.empty(0))
        self._derive(layout)
        self._state: dict[str, Tensor] | None = None
        self.backend = backend
        """``"torch"``: one vectorised step of the whole population at a time
        (:mod:`synnet_triton.xylo.step_engine`, any device); ``"triton"``: one Triton launch
        per layer for the whole sequence (:mod:`synnet_triton.xylo.layers`: specs whose spikes
        only go forward from layer to layer, no aliases); ``"auto"`` (default): Triton on CUDA
        where the spec allows it (otherwise steps, with a warning once), torch elsewhere. Both
        compute the same integers; the rule is the package's (:mod:`synnet_triton.ops.dispatch`)."""
        self._warned_steps = False
        self.clip_log: list[tuple[int, Tensor, Tensor]] | None = None
        """None, or a list to which each call appends ``(step, rows, cols)`` for every step on
        which per-event saturation changed some current's delivered value: batch rows and
        current columns ``s·P + j`` (synapse s of population neuron j, P = N + Nout) where the
        step's saturating sum differs from the plain sum of its events. Hardware-exact training
        reads it to zero the gradient through those deliveries."""

    def _derive(self, layout: Population) -> None:
        """What the engines read besides the buffers, read from the spec's values once here
        (not from device tensors at every launch)."""
        n_in, n_hidden = self.spec.n_inputs, self.spec.n_hidden
        self._use_product(scaled=layout.scaled_product)
        self._has_bias = bool(self.bias.any())
        self._has_dash_mem_zero = bool((self.dash_mem == 0).any())
        self._has_nonpositive_threshold = bool(self.nonpositive_neurons.numel())
        self._alias_depth = layout.alias_depth
        self._has_aliases = bool(self.alias_forward.numel() or self.alias_late.numel())
        self._layers = None if self._has_aliases else layer_slices(
            self.drive_weights[n_in:], n_hidden)
        self._layer_nonpositive = [bool((self.threshold[layer] <= 0).any())
                                   for layer in self._layers or []]
        self._runs = None

    def refresh(self, spec: XyloSpec) -> XyloSim:
        """Simulate ``spec`` from now on: its values written into this simulator's buffers in
        place, without the checks of `from_specification` (``spec`` must come from this
        simulator's own ``spec.with_values(...)``: the same sizes, dashes and aliases, values
        in Xylo's ranges). The state is reset. Hardware-exact training refreshes one
        simulator every step instead of building one, on the parameters' device."""
        if not isinstance(spec, XyloSpec):
            raise TypeError(f"spec must be a XyloSpec; got {type(spec).__name__}")
        mine = self.spec
        same = (spec.weights_in.shape == mine.weights_in.shape
                and spec.weights_rec.shape == mine.weights_rec.shape
                and spec.weights_out.shape == mine.weights_out.shape
                and spec.aliases == mine.aliases and spec.output_mode == mine.output_mode
                and (spec.weight_shift_in, spec.weight_shift_rec, spec.weight_shift_out)
                == (mine.weight_shift_in, mine.weight_shift_rec, mine.weight_shift_out))
        if not same:
            raise ValueError("refresh needs a spec of the simulator's own sizes, shifts, aliases "
                             "and output mode (spec.with_values(...)); build a new XyloSim "
                             "otherwise")
        device = self.threshold.device
        layout = population(replace(spec, **{
            name: getattr(spec, name).to(device) for name in TENSOR_FIELDS}))
        for name, value in layout.buffers.items():
            buffer = getattr(self, name)
            if buffer.shape == value.shape and buffer.dtype == value.dtype:
                buffer.copy_(value)
            else:
                setattr(self, name, value)
        self.spec = spec
        self._derive(layout)
        return self.reset_state()

    def _use_product(self, scaled: bool) -> None:
        """Build the step's products from `drive_weights`: on the effective weights, or on the
        weights divided by 2^shift when ``scaled`` (then `_loop` scales the sums).

        The step runs neuron-major, so the products are transposed: ``input_projection``
        (2P + 1, Nin) maps input events onto the 2P currents; ``spike_projection`` (2P + 1, N)
        maps the previous step's hidden spike counts onto them. Their last rows hold the
        largest |effective weight| of inputs and spikes, so the last row of the step's sums is
        each sample's bound on how far the events can move any current (see `_loop`).
        """
        n_in, n_hidden = self.spec.n_inputs, self.spec.n_hidden
        weights = self.drive_weights
        if scaled:
            weights = torch.cat(
                [weights[:n_in] // self.input_shift, weights[n_in:] // self.spike_shift]
            )
        width = weights.shape[1]
        self.input_projection = torch.full(
            (width + 1, n_in), float(self.input_bound.max()), device=weights.device
        )
        self.input_projection[:width] = weights[:n_in].T
        self.spike_projection = torch.full(
            (width + 1, n_hidden), float(self.spike_bound.max()), device=weights.device
        )
        self.spike_projection[:width] = weights[n_in:].T
        self._scaled_product = scaled

    @classmethod
    def from_specification(
        cls,
        weights_in: Any,
        weights_out: Any,
        weights_rec: Any = None,
        dash_mem: Any = None,
        dash_mem_out: Any = None,
        dash_syn: Any = None,
        dash_syn_2: Any = None,
        dash_syn_out: Any = None,
        threshold: Any = None,
        threshold_out: Any = None,
        bias: Any = None,
        bias_out: Any = None,
        weight_shift_in: int = 0,
        weight_shift_rec: int = 0,
        weight_shift_out: int = 0,
        aliases: list | None = None,
        dt: float = 1e-3,
        verify_config: bool = True,
        output_mode: str = "Spike",
        target: str = DEFAULT_TARGET,
        backend: str = "auto",
    ) -> XyloSim:
        """Build a simulator from Rockpool's `XyloSim.from_specification` arguments.

        Same keyword arguments and defaults as Rockpool 3.1 (every omitted dash, threshold and
        bias is 0). weights_in: (Nin, N) or (Nin, N, 2); weights_rec: (N, N) or (N, N, 2);
        weights_out: (Noen, Nout), rows feeding from the last Noen hidden neurons; per-neuron
        vectors (N,) or (Nout,). Values must be integers in Xylo's ranges (int8 weights, int16
        thresholds and biases, dashes and weight shifts 0–15). See `XyloSpec.from_arguments`.

        ``target`` (``"xylo-audio2"``, ``"xylo-audio3"``, ``"xylo-imu"``): the chip whose
        simulator this is — the same integer dynamics on each (as in Rockpool, whose
        ``syns63300.XyloSim`` serves Audio 3 and IMU), each chip's record keys. With
        ``verify_config`` (default) :func:`synnet_triton.xylo.design.check_design` then runs
        and every rule the chip breaks is reported at once; ``verify_config=False`` simulates
        any size.

        Raises:
            DesignError: (a ValueError) ``verify_config`` and the target cannot hold the spec.
            TypeError: non-integer parameters (e.g. unquantised float weights).
            ValueError: inconsistent shapes or out-of-range values.
        """
        arguments = dict(
            weights_in=weights_in, weights_out=weights_out, weights_rec=weights_rec,
            dash_mem=dash_mem, dash_mem_out=dash_mem_out, dash_syn=dash_syn,
            dash_syn_2=dash_syn_2, dash_syn_out=dash_syn_out, threshold=threshold,
            threshold_out=threshold_out, bias=bias, bias_out=bias_out,
            weight_shift_in=weight_shift_in, weight_shift_rec=weight_shift_rec,
            weight_shift_out=weight_shift_out, aliases=aliases,
        )
        # Storage first (the first malformed value, with its own error type), then the chip.
        spec = XyloSpec.from_arguments(**arguments, dt=dt, output_mode=output_mode)
        if verify_config:
            check_specification(arguments, target).enforce(stacklevel=2)
        return cls(spec, target, backend)

    def reset_state(self) -> XyloSim:
        """Zero all membranes, currents and pending spikes (the next call starts fresh)."""
        self._state = None
        return self

    def carried_state(self, batch: int) -> dict[str, Tensor]:
        """A copy of the state the next call of ``batch`` samples starts from (zeros after a
        reset), as the population holds it: ``isyn`` (B, 2, P), ``vmem`` (B, P) and
        ``spikes`` (B, P), the last step's spike counts that the next call's first step
        delivers, int32 (P = N hidden + Nout output neurons). `carry` restores it."""
        return {key: value.clone() for key, value in self._initial_state(batch).items()}

    def carry(self, state: dict[str, Tensor]) -> XyloSim:
        """Start the next call from ``state`` (as `carried_state` returned it)."""
        self._state = {key: value.clone() for key, value in state.items()}
        return self

    def _initial_state(self, batch: int) -> dict[str, Tensor]:
        """Carried population state for ``batch`` samples, zeros after a reset.

        returns ``isyn`` (B, 2, P), ``vmem`` (B, P), ``spikes`` (B, P), all int32
        """
        if self._state is not None:
            carried_batch = self._state["vmem"].shape[0]
            if carried_batch != batch:
                raise ValueError(
                    f"x has batch size {batch} but the carried state has {carried_batch}; "
                    "call reset_state() before changing the batch size"
                )
            return self._state
        vmem = torch.zeros(
            (batch, self.threshold.shape[0]), dtype=torch.int32, device=self.threshold.device
        )
        return {"isyn": torch.stack([vmem, vmem], dim=1), "vmem": vmem, "spikes": vmem.clone()}

    def _events(self, x: Any) -> tuple[Tensor, bool]:
        """Check the input and return clipped event counts (B, T, Nin) int32 and batchedness."""
        device = self.threshold.device
        if isinstance(x, Tensor):
            if x.device != device:
                raise ValueError(
                    f"x is on {x.device} but the simulator is on {device}; move one of them"
                )
            events = x
        elif isinstance(x, np.ndarray):
            events = torch.from_numpy(x).to(device)
        else:
            raise TypeError(f"x must be a torch.Tensor or numpy array; got {type(x).__name__}")
        if events.is_floating_point() or events.is_complex():
            raise TypeError(
                f"x must hold integer event counts; got dtype {events.dtype} "
                "(convert with x.round().int() if the values are counts)"
            )
        if events.dtype == torch.bool:
            events = events.to(torch.int32)
        if events.ndim not in (2, 3) or events.shape[-1] != self.spec.n_inputs:
            raise ValueError(
                f"x must have shape (T, {self.spec.n_inputs}) or (B, T, {self.spec.n_inputs}); "
                f"got {tuple(events.shape)}"
            )
        if events.numel() and bool((events < 0).any()):
            raise ValueError("x must hold non-negative event counts; got negative values")
        batched = events.ndim == 3
        if not batched:
            events = events.unsqueeze(0)
        return events.clamp(max=MAX_INPUT_EVENTS).to(torch.int32), batched

    def forward(
        self, x: Any, record: bool = False
    ) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """Simulate ``x`` (B, T, Nin) or (T, Nin) integer event counts; see the class docstring."""
        events, batched = self._events(x)
        batch, steps, _ = events.shape
        n_hidden = self.spec.n_hidden
        n_all = self.threshold.shape[0]
        # Traces of every neuron when recording, else of the output neurons only: spike counts
        # (B, T, M) and, when kept, vmem, isyn, isyn2 (B, T, M, 3), all int16.
        first_traced = 0 if record else n_hidden
        spike_trace = torch.zeros(
            (batch, steps, n_all - first_traced), dtype=torch.int16, device=events.device
        )
        keep_states = record or self.output_mode != "Spike"
        state_trace = spike_trace.new_zeros((*spike_trace.shape, 3) if keep_states else (0,))
        initial, traced = self._initial_state(batch), state_trace if keep_states else None
        if batch and steps and self.resolved_backend(events.device) == "triton":
            self._state = self._run_layers(events, initial, first_traced, spike_trace, traced)
        else:
            self._state = run_steps(self, events, initial, first_traced, spike_trace, traced)
        isyn, vmem, spikes = self._state["isyn"], self._state["vmem"], self._state["spikes"]

        hidden, output = slice(0, n_hidden), slice(n_hidden, n_all)
        traced_output = slice(n_hidden - first_traced, n_all - first_traced)
        if self.output_mode == "Spike":
            out = spike_trace[:, :, traced_output]
        else:
            out = state_trace[:, :, traced_output, 0 if self.output_mode == "Vmem" else 1]
        recording = {}
        if record:
            recording = {
                "Vmem": state_trace[:, :, hidden, 0],
                "Isyn": state_trace[:, :, hidden, 1],
                "Isyn2": state_trace[:, :, hidden, 2],
                "Spikes": spike_trace[:, :, hidden],
                "Vmem_out": state_trace[:, :, output, 0],
                "Isyn_out": state_trace[:, :, output, 1],
            }
        final_state = {
            "Vmem": vmem[:, hidden],
            "Isyn": isyn[:, 0, hidden],
            "Isyn2": isyn[:, 1, hidden],
            "Spikes": spikes[:, hidden],
            "Vmem_out": vmem[:, output],
            "Isyn_out": isyn[:, 0, output],
        }
        final_state = {key: value.to(torch.int16) for key, value in final_state.items()
                       if key in self.target.record_keys}
        recording = {key: value for key, value in recording.items()
                     if key in self.target.record_keys}
        if not batched:
            out = out[0]
            recording = {key: value[0] for key, value in recording.items()}
            final_state = {key: value[0] for key, value in final_state.items()}
        return out, final_state, recording

    def resolved_backend(self, device: torch.device) -> str:
        """The backend a call on ``device`` runs (``"torch"`` or ``"triton"``; see ``backend``).

        Raises:
            ValueError: ``backend="triton"`` for a spec the layer kernels cannot run.
            RuntimeError: ``backend="triton"`` where Triton cannot run (no triton package; a
                CPU device outside the Triton interpreter).
        """
        if self.backend == "triton" and self._layers is None:
            raise ValueError("backend='triton' needs a spec whose spikes only go forward from "
                             "layer to layer (as a SynNet's) and no aliases")
        if self.backend != "auto":
            return resolve_backend(self.backend, device)
        if resolve_backend("auto", device) == "torch":
            if device.type == "cuda":
                self._warn_steps_on_cuda()
            return "torch"
        if self._layers is None:
            self._warn_steps_on_cuda()
            return "torch"
        return "triton"

    def _warn_steps_on_cuda(self) -> None:
        if not self._warned_steps:
            warnings.warn("XyloSim on CUDA runs one step at a time: the layer-by-layer "
                          "kernels need a spec whose spikes only go forward from layer to "
                          "layer, no aliases, and Triton", stacklevel=5)
            self._warned_steps = True

    def _run_layers(
        self,
        events: Tensor,
        state: dict[str, Tensor],
        first_traced: int,
        spike_trace: Tensor,
        state_trace: Tensor | None,
    ) -> dict[str, Tensor]:
        """:func:`synnet_triton.xylo.step_engine.run_steps` with one launch per layer
        (:func:`synnet_triton.xylo.layers.run_layers`)."""
        assert self._layers is not None
        spikes, records, flags, final = run_layers(
            self._layers, self.drive_weights, self.dash_syn, self.dash_mem, self.bias,
            self.threshold, self.spike_cap, events, state, record=state_trace is not None,
            clips=self.clip_log is not None, nonpositive=self._layer_nonpositive)
        spike_trace.copy_(spikes[:, :, first_traced:])
        if state_trace is not None and records is not None:
            state_trace.copy_(records[:, :, first_traced:])
        if self.clip_log is not None and flags is not None:
            # (b, t, s, j) → per step: batch rows and current columns s·P + j
            rows, steps, synapses, neurons = torch.nonzero(flags, as_tuple=True)
            columns = synapses * self.threshold.shape[0] + neurons
            for step in torch.unique(steps).tolist():
                at = steps == step
                self.clip_log.append((step, rows[at], columns[at]))
        return final
