"""Batched, bit-exact simulation of the Xylo Audio 2 (SYNS61201) SNN core.

Semantics follow SynSense's `xylosim.v2` C++ simulator as Rockpool 3.1's
`rockpool.devices.xylo.syns61201.XyloSim` drives it (facts in DESIGN §6). Per time step:

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

The loop over time is sequential; every step is vectorised over batch and neurons. Saturation is
exact: a step's events are summed with one matrix product when no partial sum can leave int16
(checked per current from the sums of its positive and of its negative events), and the few
currents where it could are recomputed event by event with an associative tree reduction.
Everything is torch integer arithmetic, so CPU and CUDA give identical results.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from synnet_triton.xylo.saturating import (
    INT16_MAX,
    INT16_MIN,
    bitshift_decay,
    ordered_saturating_sum,
    saturate_int16,
    wrap_int16,
)
from synnet_triton.xylo.spec import XyloSpec

MAX_INPUT_EVENTS = 15
MAX_HIDDEN_SPIKES = 31
MAX_OUTPUT_SPIKES = 1
RECORD_KEYS = ("Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out")
# Input-projection chunk: at most this many int32 elements are precomputed at once.
_CHUNK_ELEMENTS = 1 << 23


def _shifted_weights(weights: Tensor, shift: int) -> tuple[Tensor, Tensor]:
    """Effective int16 weights ``wrap16(w << shift)`` and the same divided by ``2**shift``.

    ``(w << shift)`` wrapped to int16 is always a multiple of ``2**shift`` (shift ≤ 15), and the
    quotient has magnitude ≤ 128, so sums of up to 2^17 quotient-weighted spike counts are exact
    in a float32 matrix product.
    """
    effective = wrap_int16(weights << shift)
    return effective, torch.div(effective, 2**shift, rounding_mode="floor")


def _sign_split(matrix: Tensor) -> Tensor:
    """(K, M) → (K, 2M) float32: positive parts, then negative parts."""
    return torch.cat([matrix.clamp(min=0), matrix.clamp(max=0)], dim=1).to(torch.float32)


class XyloSim(nn.Module):
    """Bit-exact Xylo Audio 2 simulator, batched over samples; build it with `from_specification`.

    Calling it: ``out, state, record = sim(x, record=False)`` with ``x`` integer event counts of
    shape (B, T, Nin) or (T, Nin). ``out`` is (B, T, Nout) (or (T, Nout)): output spikes, output
    membranes or output currents depending on ``output_mode``. ``record`` holds Rockpool's keys
    ``Vmem``, ``Isyn``, ``Isyn2``, ``Spikes`` (B, T, N) and ``Vmem_out``, ``Isyn_out``
    (B, T, Nout), without the batch dimension for unbatched input; empty unless ``record``.
    ``state`` holds the same keys for the state after the last step, (B, N) or (B, Nout); Rockpool
    returns an empty dict there. All returned tensors are int16 on the simulator's device.

    State (membranes, currents, the spike counts still to be delivered) carries over to the next
    call, per batch element, until `reset_state()`, as in Rockpool's XyloSim. A call with a
    different batch size than the carried state raises ValueError.

    The simulator runs on the device of its buffers: move it with ``.to(device)``; numpy input is
    moved there, torch input must already be there.
    """

    def __init__(self, spec: XyloSpec) -> None:
        """Store a validated `XyloSpec` as device buffers; prefer `from_specification`."""
        if not isinstance(spec, XyloSpec):
            raise TypeError(f"spec must be a XyloSpec; got {type(spec).__name__}")
        super().__init__()
        self.spec = spec
        n_hidden, n_out = spec.n_hidden, spec.n_outputs
        self.output_mode = spec.output_mode
        self.dt = spec.dt

        in_effective, in_quotient = _shifted_weights(
            spec.weights_in.reshape(spec.n_inputs, 2 * n_hidden), spec.weight_shift_in
        )
        rec_effective, rec_quotient = _shifted_weights(
            spec.weights_rec.reshape(n_hidden, 2 * n_hidden), spec.weight_shift_rec
        )
        readout = torch.zeros((n_hidden, n_out), dtype=torch.int64)
        readout[n_hidden - spec.n_readout_sources :] = spec.weights_out
        out_effective, out_quotient = _shifted_weights(readout, spec.weight_shift_out)

        # Sign-split quotient weights: one product gives both the sum of positive and the sum of
        # negative events per current, which bound every partial sum of the step.
        self.register_buffer("input_projection", _sign_split(in_quotient))
        self.register_buffer(
            "spike_projection",
            torch.cat([_sign_split(rec_quotient), _sign_split(out_quotient)], dim=1),
        )
        # Transposed effective weights for the event-by-event path: row = target current.
        self.register_buffer("input_weights_by_target", in_effective.T.contiguous())
        self.register_buffer("rec_weights_by_target", rec_effective.T.contiguous())
        self.register_buffer("out_weights_by_target", out_effective.T.contiguous())

        as_int32 = {"dtype": torch.int32}
        self.register_buffer("dash_syn", spec.dash_syn.to(**as_int32))
        self.register_buffer("dash_mem", spec.dash_mem.to(**as_int32))
        self.register_buffer("threshold", spec.threshold.to(**as_int32))
        self.register_buffer("bias", spec.bias.to(**as_int32))
        self.register_buffer("dash_syn_out", spec.dash_syn_out.to(**as_int32))
        self.register_buffer("dash_mem_out", spec.dash_mem_out.to(**as_int32))
        self.register_buffer("threshold_out", spec.threshold_out.to(**as_int32))
        self.register_buffer("bias_out", spec.bias_out.to(**as_int32))
        # Divisor for the closed-form spike count; neurons with θ ≤ 0 take the explicit loop.
        self.register_buffer(
            "threshold_divisor", torch.where(spec.threshold > 0, spec.threshold, 1).to(**as_int32)
        )
        nonpositive = torch.nonzero(spec.threshold <= 0).flatten()
        self.register_buffer("nonpositive_neurons", nonpositive)
        self._has_nonpositive_threshold = bool(nonpositive.numel())

        # Aliases: xylosim evolves neurons in ascending order, so a source below its target
        # raises the target's count before it evolves (forward edge); a source at or above its
        # target adds after the target has evolved (late edge).
        forward, late = [], []
        for source, targets in enumerate(spec.aliases):
            for target in targets:
                (forward if source < target else late).append((source, target))
        depth = [0] * n_hidden
        for source, target in sorted(forward):
            depth[target] = max(depth[target], depth[source] + 1)
        self._alias_depth = max(depth, default=0)
        self._has_aliases = bool(forward or late)
        for name, edges in (("alias_forward", forward), ("alias_late", late)):
            self.register_buffer(
                name, torch.tensor(edges, dtype=torch.int64).reshape(-1, 2).T.contiguous()
            )

        self._state: dict[str, Tensor] | None = None

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
    ) -> XyloSim:
        """Build a simulator from Rockpool's `XyloSim.from_specification` arguments.

        Same keyword arguments and defaults as Rockpool 3.1 (every omitted dash, threshold and
        bias is 0). weights_in: (Nin, N) or (Nin, N, 2); weights_rec: (N, N) or (N, N, 2);
        weights_out: (Noen, Nout), rows feeding from the last Noen hidden neurons; per-neuron
        vectors (N,) or (Nout,). Values must be integers in Xylo's ranges (int8 weights, int16
        thresholds and biases, dashes and weight shifts 0–15). See `XyloSpec.from_arguments`.

        Raises:
            TypeError: non-integer parameters (e.g. unquantised float weights).
            ValueError: inconsistent shapes or out-of-range values.
        """
        return cls(
            XyloSpec.from_arguments(
                weights_in=weights_in,
                weights_out=weights_out,
                weights_rec=weights_rec,
                dash_mem=dash_mem,
                dash_mem_out=dash_mem_out,
                dash_syn=dash_syn,
                dash_syn_2=dash_syn_2,
                dash_syn_out=dash_syn_out,
                threshold=threshold,
                threshold_out=threshold_out,
                bias=bias,
                bias_out=bias_out,
                weight_shift_in=weight_shift_in,
                weight_shift_rec=weight_shift_rec,
                weight_shift_out=weight_shift_out,
                aliases=aliases,
                dt=dt,
                verify_config=verify_config,
                output_mode=output_mode,
            )
        )

    def reset_state(self) -> XyloSim:
        """Zero all membranes, currents and pending spikes (the next call starts fresh)."""
        self._state = None
        return self

    def _initial_state(self, batch: int) -> dict[str, Tensor]:
        """Carried state for ``batch`` samples, zeros after a reset (int32 tensors)."""
        if self._state is not None:
            carried_batch = self._state["Vmem"].shape[0]
            if carried_batch != batch:
                raise ValueError(
                    f"x has batch size {batch} but the carried state has {carried_batch}; "
                    "call reset_state() before changing the batch size"
                )
            return self._state
        device = self.threshold.device
        n_hidden, n_out = self.spec.n_hidden, self.spec.n_outputs
        zeros = lambda *shape: torch.zeros(shape, dtype=torch.int32, device=device)  # noqa: E731
        return {
            "Vmem": zeros(batch, n_hidden),
            "Isyn": zeros(batch, n_hidden, 2),
            "Spikes": zeros(batch, n_hidden),
            "Vmem_out": zeros(batch, n_out),
            "Isyn_out": zeros(batch, n_out),
        }

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
        n_hidden, n_out = self.spec.n_hidden, self.spec.n_outputs
        state = self._initial_state(batch)
        isyn, vmem, spikes = state["Isyn"], state["Vmem"], state["Spikes"]
        isyn_out, vmem_out = state["Isyn_out"], state["Vmem_out"]

        device = events.device
        as_int16 = {"dtype": torch.int16, "device": device}
        out_spikes = torch.zeros((batch, steps, n_out), **as_int16)
        keep_out_vmem = record or self.output_mode == "Vmem"
        keep_out_isyn = record or self.output_mode == "Isyn"
        traces: dict[str, Tensor] = {}
        if record:
            for key in ("Vmem", "Isyn", "Isyn2", "Spikes"):
                traces[key] = torch.zeros((batch, steps, n_hidden), **as_int16)
        if keep_out_vmem:
            traces["Vmem_out"] = torch.zeros((batch, steps, n_out), **as_int16)
        if keep_out_isyn:
            traces["Isyn_out"] = torch.zeros((batch, steps, n_out), **as_int16)

        shift_in = 2**self.spec.weight_shift_in
        chunk = max(1, min(steps, _CHUNK_ELEMENTS // max(1, batch * 4 * n_hidden)))
        for chunk_start in range(0, steps, chunk):
            chunk_events = events[:, chunk_start : chunk_start + chunk]
            # (B, Tc, 4N): sums of positive then negative input events per hidden current.
            input_sums = (chunk_events.to(torch.float32) @ self.input_projection).to(
                torch.int32
            ) * shift_in
            for offset in range(chunk_events.shape[1]):
                step = chunk_start + offset
                isyn, isyn_out = self._deliver(
                    isyn, isyn_out, spikes, chunk_events[:, offset], input_sums[:, offset]
                )
                isyn, vmem, spikes = self._evolve_hidden(isyn, vmem)
                isyn_out, vmem_out, fired = self._evolve_output(isyn_out, vmem_out)
                out_spikes[:, step] = fired
                if record:
                    traces["Vmem"][:, step] = vmem
                    traces["Isyn"][:, step] = isyn[:, :, 0]
                    traces["Isyn2"][:, step] = isyn[:, :, 1]
                    traces["Spikes"][:, step] = spikes
                if keep_out_vmem:
                    traces["Vmem_out"][:, step] = vmem_out
                if keep_out_isyn:
                    traces["Isyn_out"][:, step] = isyn_out

        self._state = {
            "Vmem": vmem,
            "Isyn": isyn,
            "Spikes": spikes,
            "Vmem_out": vmem_out,
            "Isyn_out": isyn_out,
        }
        if self.output_mode == "Spike":
            output = out_spikes
        else:
            output = traces["Vmem_out" if self.output_mode == "Vmem" else "Isyn_out"]
        recording = {key: traces[key] for key in RECORD_KEYS} if record else {}
        final_state = {
            "Vmem": vmem.to(torch.int16),
            "Isyn": isyn[:, :, 0].to(torch.int16),
            "Isyn2": isyn[:, :, 1].to(torch.int16),
            "Spikes": spikes.to(torch.int16),
            "Vmem_out": vmem_out.to(torch.int16),
            "Isyn_out": isyn_out.to(torch.int16),
        }
        if not batched:
            output = output[0]
            recording = {key: value[0] for key, value in recording.items()}
            final_state = {key: value[0] for key, value in final_state.items()}
        return output, final_state, recording

    def _deliver(
        self,
        isyn: Tensor,
        isyn_out: Tensor,
        spikes: Tensor,
        step_events: Tensor,
        input_sums: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Add one step's input events and the previous step's spikes to the currents.

        isyn:        (B, N, 2) int32 hidden currents
        isyn_out:    (B, Nout) int32 output currents
        spikes:      (B, N) int32 previous step's hidden spike counts
        step_events: (B, Nin) int32 clipped input events of this step
        input_sums:  (B, 4N) int32 shifted sums of positive, then negative input events
        returns the updated isyn (B, N, 2) and isyn_out (B, Nout)
        """
        batch, n_hidden, _ = isyn.shape
        n_currents = 2 * n_hidden
        spike_sums = (spikes.to(torch.float32) @ self.spike_projection).to(torch.int32)
        shift_rec = 2**self.spec.weight_shift_rec
        shift_out = 2**self.spec.weight_shift_out
        positive = input_sums[:, :n_currents] + spike_sums[:, :n_currents] * shift_rec
        negative = (
            input_sums[:, n_currents:] + spike_sums[:, n_currents : 2 * n_currents] * shift_rec
        )
        hidden = self._accumulate(
            isyn.reshape(batch, n_currents),
            positive,
            negative,
            lambda rows, cols: torch.cat(
                [
                    step_events[rows].to(torch.int64) * self.input_weights_by_target[cols],
                    spikes[rows].to(torch.int64) * self.rec_weights_by_target[cols],
                ],
                dim=1,
            ),
        )
        n_out = isyn_out.shape[1]
        out_sums = spike_sums[:, 2 * n_currents :] * shift_out
        output = self._accumulate(
            isyn_out,
            out_sums[:, :n_out],
            out_sums[:, n_out:],
            lambda rows, cols: spikes[rows].to(torch.int64) * self.out_weights_by_target[cols],
        )
        return hidden.reshape(batch, n_hidden, 2), output

    @staticmethod
    def _accumulate(current: Tensor, positive: Tensor, negative: Tensor, events_of: Any) -> Tensor:
        """Apply one step's ordered events to ``current`` with per-event int16 saturation.

        current, positive, negative: (B, C) int32; the sums of the positive and of the negative
        events bound every partial sum, so where both stay in int16 the plain sum is exact.
        events_of(rows, cols) → (F, P) int64 ordered events of the currents (rows[f], cols[f]).
        returns (B, C) int32
        """
        total = current + positive + negative
        may_saturate = ((current + positive) > INT16_MAX) | ((current + negative) < INT16_MIN)
        rows, cols = torch.nonzero(may_saturate, as_tuple=True)
        if rows.numel():
            exact = ordered_saturating_sum(
                current[rows, cols].to(torch.int64), events_of(rows, cols)
            )
            total = total.index_put((rows, cols), exact.to(torch.int32))
        return total

    def _integrate(
        self, isyn_sum: Tensor, vmem: Tensor, dash_mem: Tensor, bias: Tensor
    ) -> Tensor:
        """Membrane update of xylosim: decay, add currents, add bias, each saturating.

        isyn_sum: (B, K) int32 sum of the decayed synaptic currents
        vmem:     (B, K) int32 membrane; dash_mem, bias: (K,)
        returns (B, K) int32 membrane before spiking
        """
        # −decay is computed in int16: −(−32768) (dash 0) wraps back to −32768.
        dv = wrap_int16(-bitshift_decay(vmem, dash_mem))
        dv = saturate_int16(dv + isyn_sum)
        dv = saturate_int16(dv + bias)
        return saturate_int16(vmem + dv)

    def _evolve_hidden(self, isyn: Tensor, vmem: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step of the hidden neurons after delivery.

        isyn: (B, N, 2) int32; vmem: (B, N) int32
        returns decayed isyn (B, N, 2), post-spike vmem (B, N), spike counts (B, N) incl. aliases
        """
        isyn = isyn - bitshift_decay(isyn, self.dash_syn)
        vmem = self._integrate(isyn.sum(dim=2), vmem, self.dash_mem, self.bias)
        cap = MAX_HIDDEN_SPIKES
        counts = torch.div(vmem, self.threshold_divisor, rounding_mode="floor").clamp(0, cap)
        if self._has_nonpositive_threshold:
            counts = counts.index_copy(
                1, self.nonpositive_neurons, self._nonpositive_counts(vmem, cap)[0]
            )
        if not self._has_aliases:
            return isyn, self._discharge(vmem, counts, cap), counts
        total = counts
        for _ in range(self._alias_depth):
            total = (counts + self._alias_inflow(total, self.alias_forward)).clamp(max=cap)
        before = self._alias_inflow(total, self.alias_forward).clamp(max=cap)
        own = total - before
        final = (total + self._alias_inflow(total, self.alias_late)).clamp(max=cap)
        return isyn, self._discharge(vmem, own, cap - before), final

    @staticmethod
    def _alias_inflow(counts: Tensor, edges: Tensor) -> Tensor:
        """Spike counts copied along alias ``edges`` (2, E) = (sources, targets); (B, N) int32."""
        inflow = torch.zeros_like(counts)
        return inflow.index_add_(1, edges[1], counts[:, edges[0]])

    def _nonpositive_counts(self, vmem: Tensor, cap: Tensor | int) -> tuple[Tensor, Tensor]:
        """xylosim's spike loop for neurons with θ ≤ 0, where the membrane can wrap in int16.

        vmem: (B, N) int32; cap: int or (B, N) int32 largest number of spikes allowed
        returns counts (B, M) and membranes (B, M) of the M neurons with θ ≤ 0
        """
        index = self.nonpositive_neurons
        v = vmem[:, index]
        theta = self.threshold[index]
        limit = cap if isinstance(cap, int) else cap[:, index]
        counts = torch.zeros_like(v)
        for _ in range(MAX_HIDDEN_SPIKES):
            active = (v >= theta) & (counts < limit)
            v = torch.where(active, wrap_int16(v - theta), v)
            counts = counts + active.to(counts.dtype)
        return counts, v

    def _discharge(self, vmem: Tensor, own: Tensor, cap: Tensor | int) -> Tensor:
        """Subtract the threshold once per own spike (B, N); θ ≤ 0 neurons rerun their loop."""
        discharged = vmem - own * self.threshold
        if self._has_nonpositive_threshold:
            discharged = discharged.index_copy(
                1, self.nonpositive_neurons, self._nonpositive_counts(vmem, cap)[1]
            )
        return discharged

    def _evolve_output(self, isyn_out: Tensor, vmem_out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step of the output neurons (one synapse, at most one spike).

        isyn_out, vmem_out: (B, Nout) int32
        returns decayed isyn_out, post-spike vmem_out and spikes (0 or 1), all (B, Nout) int32
        """
        isyn_out = isyn_out - bitshift_decay(isyn_out, self.dash_syn_out)
        vmem_out = self._integrate(isyn_out, vmem_out, self.dash_mem_out, self.bias_out)
        fired = (vmem_out >= self.threshold_out).to(torch.int32)
        vmem_out = wrap_int16(vmem_out - fired * self.threshold_out)
        return isyn_out, vmem_out, fired
