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

The loop over time is sequential; every step is vectorised over batch and neurons. A step's
events are summed with matrix products (integer values in a float dtype where the sums are
exact). Saturation stays exact: a cheap bound, (events of the sample) × (largest |weight|) plus
the largest |current|, shows on most steps that no partial sum can leave int16; otherwise the
same bound per current (and, when those are many, the sums of its positive or negative events)
picks the currents where one might, and their events are replayed one by one in xylosim's
order with an associative saturating-add reduction.

States are integers held in that same float dtype: the states and every sum the step keeps
stay below 2^24 in magnitude, so additions, clamps, products with spike counts, divisions by
powers of two and floors are exact, and ``x >> d`` is ``floor(x · 2^−d)``. On the CPU the step
runs numpy's ufuncs in place on memory shared with the torch buffers (a step of a small
network costs per-operation overhead, about three times less in numpy); elsewhere the same
operations run in torch. Both give identical results.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from synnet_triton.arrays import array_namespace, steps_per_chunk
from synnet_triton.xylo.chip import (
    INT16_MAX,
    INT16_MIN,
    MAX_HIDDEN_SPIKES,
    MAX_INPUT_EVENTS,
    MAX_OUTPUT_SPIKES,
)
from synnet_triton.xylo.design import check_specification
from synnet_triton.xylo.layers import layer_slices, run_layers
from synnet_triton.xylo.saturating import (
    bitshift_decay,
    ordered_saturating_sum,
    wrap_int16,
)
from synnet_triton.xylo.spec import XyloSpec
from synnet_triton.xylo.targets import DEFAULT_TARGET, get_target

# Candidate count above which the tight per-current bound is computed before replaying events.
_TIGHT_BOUND_AFTER = 64
# Share of all currents flagged by the tight bound above which the step's events are applied to
# every current in order, source by source (a few operations per source on the whole
# population), instead of the per-current replay (work ∝ flagged currents × sources).
_IN_ORDER_SHARE = 0.125
RECORD_KEYS = ("Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out")


def _shifted_weights(weights: Tensor, shift: Tensor) -> Tensor:
    """Effective int16 weights ``wrap16(w << shift)``.

    weights: (K, C) int64; shift: (C,) int64 left shift per column (target current)

    ``(w << shift)`` wrapped to int16 is always a multiple of ``2**shift`` (shift ≤ 15), and the
    quotient has magnitude ≤ 128, so sums of up to 2^17 quotient-weighted spike counts are exact
    in a float32 matrix product.
    """
    return wrap_int16(weights << shift)


def _exact_product_dtype(device: torch.device) -> torch.dtype:
    """Float dtype in which the per-step product of event counts and weights is exact.

    float32 is exact here (integer sums below 2^24) only at full float32 matmul precision: on
    CUDA, TF32, and on CPUs with bf16 support, ``torch.set_float32_matmul_precision("high" or
    "medium")`` would round. So float32 on the CPU at "highest" precision, float64 otherwise.
    """
    if device.type == "cpu" and torch.get_float32_matmul_precision() == "highest":
        return torch.float32
    return torch.float64


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

    Internally the N hidden and Nout output neurons form one population of P = N + Nout neurons
    with two synapses each (outputs use the first; their second has no weights and stays 0), so
    each step runs one set of tensor operations; output neurons receive the hidden spikes through
    the readout weights and are capped at one spike.
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

    def __init__(self, spec: XyloSpec, target: str = DEFAULT_TARGET) -> None:
        """Store a validated `XyloSpec` as device buffers; prefer `from_specification`.
        ``target`` sets the record's keys (``Isyn2`` exists only on Xylo Audio 2)."""
        if not isinstance(spec, XyloSpec):
            raise TypeError(f"spec must be a XyloSpec; got {type(spec).__name__}")
        super().__init__()
        self.spec = spec
        self.target = get_target(target)
        self.output_mode = spec.output_mode
        self.dt = spec.dt
        n_in, n_hidden, n_out = spec.n_inputs, spec.n_hidden, spec.n_outputs
        n_all = n_hidden + n_out

        # Currents of the whole population are held synapse-major, (B, 2, P), so that each
        # synapse's currents are contiguous; weights map onto them flattened to 2P columns,
        # column s·P + j for synapse s of neuron j.
        input_weights = torch.zeros((n_in, 2, n_all), dtype=torch.int64)
        input_weights[:, :, :n_hidden] = spec.weights_in.permute(0, 2, 1)
        spike_weights = torch.zeros((n_hidden, 2, n_all), dtype=torch.int64)
        spike_weights[:, :, :n_hidden] = spec.weights_rec.permute(0, 2, 1)
        spike_weights[n_hidden - spec.n_readout_sources :, 0, n_hidden:] = spec.weights_out
        spike_shifts = torch.tensor(
            ([spec.weight_shift_rec] * n_hidden + [spec.weight_shift_out] * n_out) * 2
        )
        in_effective = _shifted_weights(
            input_weights.reshape(n_in, 2 * n_all),
            torch.full((2 * n_all,), spec.weight_shift_in),
        )
        spike_effective = _shifted_weights(
            spike_weights.reshape(n_hidden, 2 * n_all), spike_shifts
        )
        # Per step, float products of the input events (B, Nin) and of the previous hidden spikes
        # with the weights give the sum of the events onto every current. In float32 they are
        # exact while every possible sum stays below 2^24; if large weight shifts break that,
        # they run on the weights divided by 2^shift (magnitude ≤ 128, always exact) and each
        # part is scaled after (by a power of two, exact again).
        largest_sum = (
            MAX_INPUT_EVENTS * in_effective.abs().sum(dim=0)
            + MAX_HIDDEN_SPIKES * spike_effective.abs().sum(dim=0)
        ).max()
        self.register_buffer(
            "input_shift", (2 ** in_effective.new_full((1,), spec.weight_shift_in)).to(torch.int32)
        )
        self.register_buffer("spike_shift", (2**spike_shifts).to(torch.int32))
        # A bound on every partial sum of a step: (events of the sample) × (largest |weight|
        # onto the current), for input events and spikes.
        self.register_buffer("input_bound", in_effective.abs().amax(dim=0).to(torch.int32))
        self.register_buffer("spike_bound", spike_effective.abs().amax(dim=0).to(torch.int32))
        # Effective weights (Nin + N, 2P) for replaying events one by one, and their positive and
        # negative parts in float64 (exact for any sum) for a tight bound on the partial sums.
        drive_weights = torch.cat([in_effective, spike_effective])
        self.register_buffer("drive_weights", drive_weights)
        self.register_buffer(
            "signed_projection",
            torch.cat([drive_weights.clamp(min=0), drive_weights.clamp(max=0)], 1).double(),
        )
        self.register_buffer("input_projection", torch.empty(0))
        self.register_buffer("spike_projection", torch.empty(0))
        self._use_product(scaled=bool(largest_sum >= 2**24))

        def population(hidden: Tensor, output: Tensor) -> Tensor:
            return torch.cat([hidden, output]).to(torch.int32)

        # (2, P): the first and second synaptic decays; outputs have one synapse.
        self.register_buffer(
            "dash_syn",
            population(
                spec.dash_syn, torch.stack([spec.dash_syn_out, spec.dash_syn_out * 0], 1)
            ).T.contiguous(),
        )
        self.register_buffer("dash_mem", population(spec.dash_mem, spec.dash_mem_out))
        self.register_buffer("bias", population(spec.bias, spec.bias_out))
        threshold = population(spec.threshold, spec.threshold_out)
        self.register_buffer("threshold", threshold)
        self.register_buffer(
            "spike_cap",
            population(
                torch.full((n_hidden,), MAX_HIDDEN_SPIKES), torch.full((n_out,), MAX_OUTPUT_SPIKES)
            ),
        )
        # Divisor for the closed-form spike count, in float32 where floor(v / θ) is exact for
        # int16 v and 0 < θ ≤ 32767; neurons with θ ≤ 0 take xylosim's loop instead, in which the
        # membrane can wrap around int16.
        self.register_buffer(
            "threshold_divisor", torch.where(threshold > 0, threshold, 1).to(torch.float32)
        )
        self._has_bias = bool(self.bias.any())
        self._has_dash_mem_zero = bool((self.dash_mem == 0).any())
        nonpositive = torch.nonzero(threshold <= 0).flatten()
        self.register_buffer("nonpositive_neurons", nonpositive)
        self._has_nonpositive_threshold = bool(nonpositive.numel())

        # Aliases: xylosim evolves neurons in ascending order, so a source below its target
        # raises the target's count before the target evolves (forward edge); a source at or
        # above its target adds after the target has evolved (late edge).
        forward: list[tuple[int, int]] = []
        late: list[tuple[int, int]] = []
        for source, copies in enumerate(spec.aliases):
            for copy in copies:
                (forward if source < copy else late).append((source, copy))
        depth = [0] * n_hidden
        for source, copy in sorted(forward):
            depth[copy] = max(depth[copy], depth[source] + 1)
        self._alias_depth = max(depth, default=0)
        self._has_aliases = bool(forward or late)
        for name, edges in (("alias_forward", forward), ("alias_late", late)):
            self.register_buffer(
                name, torch.tensor(edges, dtype=torch.int64).reshape(-1, 2).T.contiguous()
            )

        self._state: dict[str, Tensor] | None = None
        self.engine = "auto"
        """How the steps run: ``"steps"``, one vectorised step of the whole population at a
        time; ``"layers"``, one Triton launch per layer for the whole sequence
        (:mod:`synnet_triton.xylo.layers`: specs whose spikes only go forward from layer to
        layer, no aliases; elsewhere a ValueError); ``"auto"`` (default), layers on CUDA
        where the spec allows it (otherwise steps, with a warning once), steps on the CPU.
        Both compute the same integers."""
        self._layers = None if self._has_aliases else layer_slices(
            self.drive_weights[n_in:], n_hidden)
        self._warned_steps = False
        self.clip_log: list[tuple[int, Tensor, Tensor]] | None = None
        """None, or a list to which each call appends ``(step, rows, cols)`` for every step on
        which per-event saturation changed some current's delivered value: batch rows and
        current columns ``s·P + j`` (synapse s of population neuron j, P = N + Nout) where the
        step's saturating sum differs from the plain sum of its events. Hardware-exact training
        reads it to zero the gradient through those deliveries."""

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
        return cls(spec, target)

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
        self._state = self._run_steps(
            events,
            self._initial_state(batch),
            first_traced,
            spike_trace,
            state_trace if keep_states else None,
        )
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

    def _run_steps(
        self,
        events: Tensor,
        state: dict[str, Tensor],
        first_traced: int,
        spike_trace: Tensor,
        state_trace: Tensor | None,
    ) -> dict[str, Tensor]:
        """The sequential step loop: deliver each step's events, then evolve every neuron.

        events:       (B, T, Nin) int32 clipped input event counts
        state:        carried ``isyn`` (B, 2, P), ``vmem`` (B, P), ``spikes`` (B, P), int32
        first_traced: first neuron of the traces; they hold neurons first_traced … P − 1
        spike_trace:  (B, T, M) int16, filled with the spike counts of each step
        state_trace:  (B, T, M, 3) int16, filled with vmem, isyn, isyn2 after each step, or None
        returns the state after the last step, as ``state``

        The loop holds the state neuron-major: ``neurons`` (3, P, B) stacks the two synaptic
        currents and the membranes, whose decays then take one set of operations, and every
        operand is contiguous, including the per-sample row that ends the step's sums.
        """
        batch, steps, _ = events.shape
        if batch and steps and self._runs_layers(events.device):
            return self._run_layers(events, state, first_traced, spike_trace, state_trace)
        n_all = self.threshold.shape[0]
        dtype = _exact_product_dtype(events.device)
        neurons = events.new_empty((3, n_all, batch), dtype=dtype)
        neurons[:2] = state["isyn"].permute(1, 2, 0)
        neurons[2] = state["vmem"].T
        # The spike counts of the last step, which drive the next step's product.
        spikes = state["spikes"].T.to(dtype).contiguous()
        if batch and steps:
            self._loop(events, neurons, spikes, first_traced, spike_trace, state_trace)
        return {
            "isyn": neurons[:2].permute(2, 0, 1).to(torch.int32).contiguous(),
            "vmem": neurons[2].T.to(torch.int32).contiguous(),
            "spikes": spikes.T.to(torch.int32).contiguous(),
        }

    def _runs_layers(self, device: torch.device) -> bool:
        """Whether this call runs layer by layer (see ``engine``)."""
        if self.engine not in ("auto", "steps", "layers"):
            raise ValueError(f"engine must be 'auto', 'steps' or 'layers'; got {self.engine!r}")
        if self.engine == "layers" and self._layers is None:
            raise ValueError("engine='layers' needs a spec whose spikes only go forward from "
                             "layer to layer (as a SynNet's) and no aliases")
        if self.engine != "auto" or device.type != "cuda":
            return self.engine == "layers"
        if self._layers is None or importlib.util.find_spec("triton") is None:
            if not self._warned_steps:
                warnings.warn("XyloSim on CUDA runs one step at a time: the layer-by-layer "
                              "kernels need a spec whose spikes only go forward from layer to "
                              "layer, no aliases, and Triton", stacklevel=4)
                self._warned_steps = True
            return False
        return True

    def _run_layers(
        self,
        events: Tensor,
        state: dict[str, Tensor],
        first_traced: int,
        spike_trace: Tensor,
        state_trace: Tensor | None,
    ) -> dict[str, Tensor]:
        """`_run_steps` with one launch per layer (:func:`synnet_triton.xylo.layers.run_layers`)."""
        assert self._layers is not None
        spikes, records, flags, final = run_layers(
            self._layers, self.drive_weights, self.dash_syn, self.dash_mem, self.bias,
            self.threshold, self.spike_cap, events, state, record=state_trace is not None,
            clips=self.clip_log is not None)
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

    def _loop(
        self,
        events: Tensor,
        neurons_t: Tensor,
        spikes_t: Tensor,
        first_traced: int,
        spike_trace: Tensor,
        state_trace: Tensor | None,
    ) -> None:
        """`_run_steps` in place on float neurons (3, P, B) and spikes (P, B).

        The step works in place on preallocated buffers, with constants expanded to full shape
        (numpy's broadcasting loops are about twice as slow as its contiguous ones). Input
        events are projected onto the currents a chunk of steps at a time, in one product.
        """
        batch, steps, n_in = events.shape
        n_hidden, n_all = self.spec.n_hidden, self.threshold.shape[0]
        width = 2 * n_all
        dtype = neurons_t.dtype
        xp, arrays = array_namespace(neurons_t)

        def full(values: Tensor | float, shape: tuple[int, ...]) -> Any:
            """A contiguous (..., B) array of ``values`` (...) broadcast over the batch."""
            values = torch.as_tensor(values).to(neurons_t)
            return arrays(values[..., None].expand(*shape, batch).contiguous())

        dashes = torch.cat([self.dash_syn, self.dash_mem[None]]).double()
        scale, one = full(2.0**-dashes, (3, n_all)), full(1.0, (3, n_all))
        zero = full(0.0, (n_all,))
        low, high = full(float(INT16_MIN), (n_all,)), full(float(INT16_MAX), (n_all,))
        bias, divisor = full(self.bias, (n_all,)), full(self.threshold_divisor, (n_all,))
        threshold, cap = full(self.threshold, (n_all,)), full(self.spike_cap, (n_all,))
        neurons, spikes = arrays(neurons_t), arrays(spikes_t)
        hidden_spikes_t = spikes_t[:n_hidden]
        isyn, isyn_first, isyn_second, vmem = neurons[:2], neurons[0], neurons[1], neurons[2]
        current_t = neurons_t[:2].view(width, batch)
        current = arrays(current_t)
        decays, scratch = xp.empty_like(neurons), xp.empty_like(neurons)
        syn_decay, decay = decays[:2], decays[2]
        mem_scratch, dv = xp.empty_like(vmem), xp.empty_like(vmem)

        input_projection = self.input_projection.to(dtype)
        spike_projection = self.spike_projection.to(dtype)
        product_t = neurons_t.new_empty((width + 1, batch))
        product = arrays(product_t)
        # The last row of the sums is, per sample, (input events) × (largest |input weight|) +
        # (hidden spikes) × (largest |spike weight|): no partial sum of the step's events onto
        # any current exceeds it. A sum of non-negative integers in float32 (float64) is exact
        # below 2^24 (2^53) and stays at least that above, in any order, so comparing it with
        # the int16 range is exact.
        sums_t, sums, reaches = product_t[:width], product[:width], product[width]
        unscaled = self.spike_shift.new_ones(1)
        spike_scale = full(torch.cat([self.spike_shift, unscaled]), (width + 1,))
        input_scale = torch.cat([self.input_shift.expand(width), unscaled]).to(dtype)[:, None]
        # A bound on |current|, exact after a reduction and raised by each step's reach until
        # the next (the decay never raises a magnitude); it saves the reduction on most steps.
        current_bound = float("inf")
        chunk = min(steps, steps_per_chunk(batch * (width + 1)))
        staged = neurons_t.new_empty((chunk, width + 1, batch))

        traced_spikes = spikes[first_traced:].T
        spike_record = arrays(spike_trace)
        state_record = None if state_trace is None else arrays(state_trace)
        traced_vmem = vmem[first_traced:].T
        traced_isyn = arrays(neurons_t[:2, first_traced:].permute(2, 1, 0))
        settle = self._has_aliases or self._has_nonpositive_threshold
        scaled_product, has_bias = self._scaled_product, self._has_bias
        has_dash_mem_zero = self._has_dash_mem_zero
        add, subtract, multiply, divide = xp.add, xp.subtract, xp.multiply, xp.divide
        minimum, maximum, floor = xp.minimum, xp.maximum, xp.floor

        for start in range(0, steps, chunk):
            n_steps = min(chunk, steps - start)
            inputs = torch.matmul(
                input_projection,
                events[:, start : start + n_steps].permute(1, 2, 0).to(dtype),
                out=staged[:n_steps],
            )
            if scaled_product:
                inputs.mul_(input_scale)
            input_sums = inputs.unbind(0)
            for k in range(n_steps):
                step = start + k
                # deliver this step's events and the previous step's spikes
                if scaled_product:
                    torch.matmul(spike_projection, hidden_spikes_t, out=product_t)
                    multiply(product, spike_scale, out=product)
                    add(product, arrays(input_sums[k]), out=product)
                else:
                    torch.addmm(input_sums[k], spike_projection, hidden_spikes_t, out=product_t)
                reach = float(reaches.max())
                if current_bound + reach > INT16_MAX:
                    current_bound = max(float(current.max()), -float(current.min()))
                if current_bound + reach <= INT16_MAX:
                    add(current, sums, out=current)
                    current_bound += reach
                else:
                    self._deliver_exactly(
                        current_t.T, sums_t.T, events[:, step], hidden_spikes_t.T, step
                    )
                    current_bound = -INT16_MIN

                # evolve: decays, integration with saturation, spikes
                bitshift_decay(neurons, scale, one, decays, scratch, xp)
                subtract(isyn, syn_decay, out=isyn)
                if has_dash_mem_zero:
                    # xylosim negates the decay in int16: −(−32768) (dash 0) wraps back to
                    # −32768, as if the decay were +32768.
                    decay[decay == INT16_MIN] = -INT16_MIN
                add(isyn_first, isyn_second, out=dv)
                subtract(dv, decay, out=dv)
                maximum(dv, low, out=dv)
                minimum(dv, high, out=dv)
                if has_bias:
                    add(dv, bias, out=dv)
                    maximum(dv, low, out=dv)
                    minimum(dv, high, out=dv)
                add(vmem, dv, out=vmem)
                maximum(vmem, low, out=vmem)
                minimum(vmem, high, out=vmem)
                # floor(v / θ) is exact for int16 v and 0 < θ ≤ 32767; clamped to [0, cap]
                # first, the floor is the count.
                divide(vmem, divisor, out=spikes)
                maximum(spikes, zero, out=spikes)
                minimum(spikes, cap, out=spikes)
                floor(spikes, out=spikes)
                if settle:
                    self._settle_spikes(neurons_t[2].T, spikes_t.T)
                else:
                    multiply(spikes, threshold, out=mem_scratch)
                    subtract(vmem, mem_scratch, out=vmem)

                spike_record[:, step] = traced_spikes
                if state_record is not None:
                    state_record[:, step, :, 0] = traced_vmem
                    state_record[:, step, :, 1:] = traced_isyn

    def _deliver_exactly(
        self, current: Tensor, sums: Tensor, step_events: Tensor, spikes: Tensor, step: int
    ) -> None:
        """Add one step's events to the currents where some partial sum may leave int16.

        current:     (B, 2P) float currents of the whole population, updated in place
        sums:        (B, 2P) float the step's sums of events onto each current, exact wherever
                     no partial sum leaves int16
        step_events: (B, Nin) int32 clipped input events of this step
        spikes:      (B, N) float previous step's hidden spike counts
        step:        the step's index in the call, for `clip_log`

        Where no partial sum can leave int16 (by the bound of `__init__`), the plain sum is
        exact. Elsewhere the events are replayed in xylosim's order (input channels ascending,
        then hidden neurons ascending) with per-event saturation: for the flagged currents
        alone, or, when many are flagged (currents along the rails), for all of them at once.
        """
        width = current.shape[1]
        drive_counts = torch.cat([step_events, spikes.to(torch.int32)], 1)
        n_in = step_events.shape[1]
        whole = current.to(torch.int64)
        event_count = drive_counts[:, :n_in].sum(1, keepdim=True)
        spike_count = drive_counts[:, n_in:].sum(1, keepdim=True)
        bound = event_count * self.input_bound + spike_count * self.spike_bound
        # |current| + bound > 32767 also flags current = −32768 with no events; replaying an
        # empty event list there is harmless.
        rows, cols = torch.nonzero(whole.abs() + bound > INT16_MAX, as_tuple=True)
        if rows.numel() > _TIGHT_BOUND_AFTER:
            # Many candidates: bound each current by its own positive and negative event sums.
            signed = (drive_counts.double() @ self.signed_projection).to(torch.int64)
            upper = whole + signed[:, :width]
            lower = whole + signed[:, width:]
            rows, cols = torch.nonzero((upper > INT16_MAX) | (lower < INT16_MIN), as_tuple=True)
        if rows.numel() > _IN_ORDER_SHARE * current.numel():
            current.copy_(self._deliver_in_order(whole, drive_counts))
            if self.clip_log is not None:
                rows, cols = torch.nonzero(current != whole + sums, as_tuple=True)
                self.clip_log.append((step, rows, cols))
            return
        current.add_(sums)
        if rows.numel():
            exact = self._replay_events(whole, rows, cols, drive_counts).to(current.dtype)
            if self.clip_log is not None:
                differs = exact != current[rows, cols]
                self.clip_log.append((step, rows[differs], cols[differs]))
            current[rows, cols] = exact

    def _deliver_in_order(self, current: Tensor, drive_counts: Tensor) -> Tensor:
        """Every current after the step's events, applied in xylosim's order.

        current:      (B, 2P) int64 currents before the step's events
        drive_counts: (B, Nin + N) int32 input events then spike counts, in xylosim's order
        returns (B, 2P) float64 exact currents after the events

        A source's events onto one current all have its weight's sign, so count × weight then
        one saturation equals that many saturating additions. Consecutive sources whose weights
        reach disjoint currents (`_disjoint_runs`) are one product and one saturation: no
        current receives two of them, so their order does not matter. float64 holds every
        partial sum exactly.
        """
        exact = current.to(torch.float64)
        counts = drive_counts.to(torch.float64)
        for start, stop, weights in self._disjoint_runs():
            exact.addmm_(counts[:, start:stop], weights)
            exact.clamp_(INT16_MIN, INT16_MAX)
        return exact

    def _disjoint_runs(self) -> list[tuple[int, int, Tensor]]:
        """The sources (rows of ``drive_weights``) cut into consecutive runs that reach
        pairwise disjoint currents: (start, stop, float64 weights of the run); cached."""
        weights = self.drive_weights
        cached = getattr(self, "_runs", None)
        if cached is not None and cached[0] == weights.device:
            return cached[1]
        reached = (weights != 0).cpu()
        cuts, used = [0], torch.zeros(weights.shape[1], dtype=torch.bool)
        for source in range(weights.shape[0]):
            if bool((used & reached[source]).any()):
                cuts.append(source)
                used = reached[source].clone()
            else:
                used |= reached[source]
        cuts.append(weights.shape[0])
        runs = [(a, b, weights[a:b].to(torch.float64).contiguous())
                for a, b in zip(cuts, cuts[1:], strict=False) if b > a]
        self._runs = (weights.device, runs)
        return runs

    def _replay_events(
        self, current: Tensor, rows: Tensor, cols: Tensor, drive_counts: Tensor
    ) -> Tensor:
        """Apply the events of currents (rows[f], cols[f]) one by one, saturating each time.

        current:      (B, 2P) int64 currents before the step's events
        rows, cols:   (F,) int64 batch rows and current columns to replay
        drive_counts: (B, Nin + N) int32 input events then spike counts, in xylosim's order
        returns (F,) int64 exact currents after the events
        """
        counts = drive_counts[rows]
        # Only sources with an event in some replayed row contribute; the others add 0.
        active = torch.nonzero(counts.any(dim=0), as_tuple=True)[0]
        ordered_events = counts[:, active].to(torch.int64) * self.drive_weights[active][:, cols].T
        return ordered_saturating_sum(current[rows, cols].to(torch.int64), ordered_events)

    def _settle_spikes(self, vmem: Tensor, spikes: Tensor) -> None:
        """Spike counts and discharge with aliases or θ ≤ 0 neurons, as xylosim, in place.

        vmem:   (B, P) float membranes before the discharge; replaced by the discharged ones
        spikes: (B, P) float floor(v / θ) clamped to [0, cap] (meaningful where θ > 0);
                replaced by the step's spike counts including aliases
        """
        v = vmem.to(torch.int32)
        counts = spikes.to(torch.int32)
        cap = self.spike_cap
        if self._has_nonpositive_threshold:
            counts = counts.index_copy(
                1, self.nonpositive_neurons, self._nonpositive_loop(v, cap)[0]
            )
        total, before, final = counts, torch.zeros_like(counts), counts
        if self._has_aliases:
            for _ in range(self._alias_depth):
                total = torch.minimum(counts + self._alias_inflow(total, self.alias_forward), cap)
            before = torch.minimum(self._alias_inflow(total, self.alias_forward), cap)
            final = torch.minimum(total + self._alias_inflow(total, self.alias_late), cap)
        vmem.copy_(self._discharge(v, total - before, cap - before))
        spikes.copy_(final)

    @staticmethod
    def _alias_inflow(counts: Tensor, edges: Tensor) -> Tensor:
        """Spike counts copied along alias ``edges`` (2, E) = (sources, targets); (B, P) int32."""
        inflow = torch.zeros_like(counts)
        return inflow.index_add_(1, edges[1], counts[:, edges[0]])

    def _nonpositive_loop(self, vmem: Tensor, cap: Tensor) -> tuple[Tensor, Tensor]:
        """xylosim's spike loop for the M neurons with θ ≤ 0, whose membrane can wrap in int16.

        vmem: (B, P) int32; cap: (P,) or (B, P) int32 most spikes each neuron may still emit
        returns counts (B, M) and post-spike membranes (B, M)
        """
        index = self.nonpositive_neurons
        v = vmem[:, index]
        theta = self.threshold[index]
        limit = cap[..., index]
        counts = torch.zeros_like(v)
        for _ in range(MAX_HIDDEN_SPIKES):
            active = (v >= theta) & (counts < limit)
            v = torch.where(active, wrap_int16(v - theta), v)
            counts = counts + active.to(counts.dtype)
        return counts, v

    def _discharge(self, vmem: Tensor, own: Tensor, cap: Tensor) -> Tensor:
        """Subtract θ once per own spike (B, P); θ ≤ 0 neurons rerun their loop with ``cap``."""
        discharged = torch.addcmul(vmem, own, self.threshold, value=-1)
        if self._has_nonpositive_threshold:
            discharged = discharged.index_copy(
                1, self.nonpositive_neurons, self._nonpositive_loop(vmem, cap)[1]
            )
        return discharged
