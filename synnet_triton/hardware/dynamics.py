"""Xylo's integer dynamics as a differentiable function: exact forward, surrogate backward.

Forward: the bit-exact simulator (:class:`synnet_triton.xylo.XyloSim`) on the integer spec, so
the outputs are ``XyloSim``'s by construction. Backward: one reverse sweep over time through the
whole population (P = N hidden + Nout output neurons, two synapses each, as the simulator holds
them), from the int16 records the forward keeps (membrane, both currents, spike counts: 8 bytes
per neuron-step) and the list of saturated deliveries (`XyloSim.clip_log`); a SynNet's layers
sweep one after the other, each as two linear recurrences (:mod:`synnet_triton.hardware.sweep`).

Per step t and neuron (docs/design.md §6), and the rule each operation takes in the backward:

================================  ============================  ===============================
forward (integers)                value                         backward
================================  ============================  ===============================
a_s = deliver(i_s[t−1], events)   per-event sat16, in order     identity to i_s[t−1] and to
                                                                each event's weight, or 0 where
                                                                saturation changed the sum
i_s[t] = a_s − δ(a_s, d_s)        bit-shift decay, step ≥ 1     × (1 − 2^−d_s), its linear part
dv0 = Σ_s i_s[t] − δ(v[t−1], dm)                                δ as its linear part v · 2^−dm
dv1 = sat16(dv0); dv2 = sat16(dv1 + b);  u = sat16(v[t−1] + dv2)  clamps: 1 inside (bounds
                                                                included), 0 where they clip
n = min(floor(u / θ), cap), θ > 0  cap 31 (hidden), 1 (output)  PeriodicExponential surrogate,
                                                                window × θ (relative to θ)
v[t] = u − n·θ                                                  through n and θ (not detached)
events of hidden spikes at t       reach currents at t + 1      the one-step delay, exactly
================================  ============================  ===============================

Neurons with θ ≤ 0 (xylosim's wrapping loop) pass no gradient through their spike count. The
weights enter as ``wrap16(w << shift)``; the gradient is 2^shift (the wrap is not differentiated:
SynNet's mapping uses shift 0).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from synnet_triton.hardware.sweep import (
    RecordedSteps,
    ReplayedSteps,
    SegmentSource,
    SpecGradients,
    hardware_backward,
)
from synnet_triton.xylo.sim import XyloSim

INTEGER_KEYS = (
    "weights_in", "weights_rec", "weights_out", "threshold", "threshold_out", "bias", "bias_out",
)
"""The trainable integer values, in the order `xylo_dynamics` takes them."""


class _XyloDynamics(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, events: Tensor, sim: XyloSim, window: float, checkpoint_every: int | None,
        *values: Tensor,
    ) -> Tensor:
        sim.reset_state()
        ctx.sim, ctx.window, ctx.checkpoint_every = sim, window, checkpoint_every
        ctx.shapes = [value.shape for value in values]
        ctx.devices = [value.device for value in values]
        if checkpoint_every is None:
            sim.clip_log = []
            try:
                output, _, record = sim(events, record=True)
            finally:
                clip_log, sim.clip_log = sim.clip_log, None
            ctx.clip_log = clip_log
            ctx.record_keys = tuple(record)
            ctx.save_for_backward(events, *record.values())
            return output.float()
        # the state every K steps; the backward replays each segment from it
        outputs, starts, states = [], [], []
        for start in range(0, max(events.shape[1], 1), checkpoint_every):
            starts.append(start)
            states.append(sim.carried_state(events.shape[0]))
            outputs.append(sim(events[:, start:start + checkpoint_every])[0])
        ctx.starts, ctx.state_keys = starts, tuple(states[0])
        ctx.save_for_backward(events, *(state[key] for state in states for key in states[0]))
        return torch.cat(outputs, dim=1).float()

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Any, ...]:
        events, *saved = ctx.saved_tensors
        source: SegmentSource
        if ctx.checkpoint_every is None:
            record = dict(zip(ctx.record_keys, saved, strict=True))
            source = RecordedSteps(ctx.sim, record, ctx.clip_log)
        else:
            width = len(ctx.state_keys)
            checkpoints = {start: dict(zip(ctx.state_keys, saved[k * width:(k + 1) * width],
                                           strict=True))
                           for k, start in enumerate(ctx.starts)}
            source = ReplayedSteps(ctx.sim, events, checkpoints)
        grads = hardware_backward(ctx.sim, ctx.window, events, source, grad_output,
                                  ctx.checkpoint_every)
        layout = _spec_layout(ctx.sim, grads, ctx.shapes)
        return (None, None, None, None,
                *(grad.to(device) for grad, device in zip(layout, ctx.devices, strict=True)))


def xylo_dynamics(
    events: Tensor, sim: XyloSim, values: dict[str, Tensor], window: float = 0.5,
    checkpoint_every: int | None = None,
) -> Tensor:
    """Outputs of ``sim`` on ``events``, differentiable in the spec's integer values.

    events: (B, T, Nin) int64 event counts on the simulator's device (clipped to 15 as on chip)
    sim:    the simulator of the integer spec whose values ``values`` holds (its state is
            reset; the call starts from zero state)
    values: every key of ``INTEGER_KEYS``: integer-valued float64 tensors in the quantiser's
            layout (weights_in (Nin, N_in, S), weights_rec (N, N, S), weights_out (Noen, Nout),
            threshold, bias (N,), threshold_out, bias_out (Nout,)); gradients flow into them
    window: PeriodicExponential window, as a fraction of each neuron's threshold
    checkpoint_every: None: the backward keeps the forward's int16 records (8 bytes per
            neuron-step); K: only the state every K steps (16 bytes per neuron every K
            steps), and the backward re-simulates each segment of K steps from it
    returns (B, T, Nout) float32: output spike counts, or the output membrane (current) for a
            simulator in ``Vmem`` (``Isyn``) output mode; bitwise ``sim(events)``'s values
    """
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be a positive integer or None; got "
                         f"{checkpoint_every}")
    return _XyloDynamics.apply(events, sim, window, checkpoint_every,
                               *(values[key] for key in INTEGER_KEYS))


def _spec_layout(sim: XyloSim, grads: SpecGradients, shapes: list[torch.Size]) -> list[Tensor]:
    """Population-layout gradients (on the effective weights ``w << shift``) → the
    quantiser's layout, float64, in ``INTEGER_KEYS`` order, shaped as ``shapes``."""
    spec = sim.spec
    n_hidden = spec.n_hidden
    w_in_shape, w_rec_shape, w_out_shape = shapes[:3]
    n_targets, n_syn = w_in_shape[1], w_in_shape[2]
    n_sources = w_out_shape[0]
    w_in, w_spike = grads.w_in.double(), grads.w_spike.double()
    weights_in = w_in[:, :n_syn, :n_targets].permute(0, 2, 1) * 2.0**spec.weight_shift_in
    weights_rec = w_spike[:, :n_syn, :n_hidden].permute(0, 2, 1) * 2.0**spec.weight_shift_rec
    weights_out = w_spike[n_hidden - n_sources:, 0, n_hidden:] * 2.0**spec.weight_shift_out
    threshold, bias = grads.threshold.double(), grads.bias.double()
    return [
        weights_in.reshape(w_in_shape).contiguous(),
        weights_rec.reshape(w_rec_shape).contiguous(),
        weights_out.contiguous(),
        threshold[:n_hidden], threshold[n_hidden:],
        bias[:n_hidden], bias[n_hidden:],
    ]
