"""Xylo's integer dynamics as a differentiable function: exact forward, surrogate backward.

Forward: the bit-exact simulator (:class:`synnet_triton.xylo.XyloSim`) on the integer spec, so
the outputs are ``XyloSim``'s by construction. Backward: one reverse sweep over time through the
whole population (P = N hidden + Nout output neurons, two synapses each, as the simulator holds
them), from the int16 records the forward keeps (membrane, both currents, spike counts: 8 bytes
per neuron-step) and the list of saturated deliveries (`XyloSim.clip_log`).

Per step t and neuron (DESIGN §6), and the rule each operation takes in the backward:

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

from synnet_triton.xylo.saturating import INT16_MAX, INT16_MIN
from synnet_triton.xylo.sim import XyloSim

INTEGER_KEYS = (
    "weights_in", "weights_rec", "weights_out", "threshold", "threshold_out", "bias", "bias_out",
)
"""The trainable integer values, in the order `xylo_dynamics` takes them."""


def _within(x: Tensor) -> Tensor:
    """1.0 where x lies in int16 (bounds included: the clamp passes the gradient), else 0.0."""
    return ((x >= INT16_MIN) & (x <= INT16_MAX)).to(x.dtype)


class _XyloDynamics(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, events: Tensor, sim: XyloSim, window: float, *values: Tensor
    ) -> Tensor:
        sim.reset_state()
        sim.clip_log = []
        try:
            output, _, record = sim(events, record=True)
        finally:
            clip_log, sim.clip_log = sim.clip_log, None
        ctx.sim, ctx.window, ctx.clip_log = sim, window, clip_log
        ctx.shapes = [value.shape for value in values]
        ctx.record_keys = tuple(record)
        ctx.save_for_backward(events, *record.values())
        return output.float()

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Any, ...]:
        events, *traces = ctx.saved_tensors
        record = dict(zip(ctx.record_keys, traces, strict=True))
        grads = _backward_sweep(ctx.sim, ctx.window, events, record, ctx.clip_log,
                                grad_output.float(), ctx.shapes)
        return (None, None, None, *grads)


def xylo_dynamics(
    events: Tensor, sim: XyloSim, values: dict[str, Tensor], window: float = 0.5
) -> Tensor:
    """Outputs of ``sim`` on ``events``, differentiable in the spec's integer values.

    events: (B, T, Nin) int64 event counts on the simulator's device (clipped to 15 as on chip)
    sim:    the simulator of the integer spec whose values ``values`` holds (its state is
            reset; the call starts from zero state)
    values: every key of ``INTEGER_KEYS``: integer-valued float64 tensors in the quantiser's
            layout (weights_in (Nin, N_in, S), weights_rec (N, N, S), weights_out (Noen, Nout),
            threshold, bias (N,), threshold_out, bias_out (Nout,)); gradients flow into them
    window: PeriodicExponential window, as a fraction of each neuron's threshold
    returns (B, T, Nout) float32: output spike counts, or the output membrane (current) for a
            simulator in ``Vmem`` (``Isyn``) output mode; bitwise ``sim(events)``'s values
    """
    return _XyloDynamics.apply(events, sim, window, *(values[key] for key in INTEGER_KEYS))


def _relative_surrogate(
    u: Tensor, threshold: Tensor, window: float, cap: Tensor
) -> tuple[Tensor, Tensor]:
    """PeriodicExponential (∂n/∂u, ∂n/∂θ) as Rockpool computes it, with the window
    ``window · θ`` of each neuron (SynNet's 0.5 at θ = 1 stays half a threshold wide)."""
    half = threshold / 2
    shifted = u - half
    periods = torch.minimum(torch.floor(shifted / threshold), cap - 1)
    centred = torch.where(u < threshold, shifted, shifted - periods * threshold)
    sigma = torch.exp(-(centred - half).abs() / (window * threshold)) / threshold
    return sigma, -sigma * u / threshold


def _backward_sweep(
    sim: XyloSim,
    window: float,
    events: Tensor,
    record: dict[str, Tensor],
    clip_log: list[tuple[int, Tensor, Tensor]],
    grad_output: Tensor,
    shapes: list[torch.Size],
) -> list[Tensor]:
    """Gradients of every ``INTEGER_KEYS`` value, shaped as ``shapes``, float64.

    events: (B, T, Nin) int event counts; record: the simulator's int16 records (B, T, ·);
    grad_output: (B, T, Nout) float32 gradient on the output
    """
    batch, steps, n_in = events.shape
    n_hidden = sim.spec.n_hidden
    n_all = sim.threshold.shape[0]
    device = grad_output.device

    def population(hidden: Tensor, out: Tensor) -> Tensor:
        return torch.cat([hidden, out], dim=2).float()

    isyn2 = record.get("Isyn2", torch.zeros_like(record["Isyn"]))
    v = population(record["Vmem"], record["Vmem_out"])
    currents = population(record["Isyn"], record["Isyn_out"]) + population(
        isyn2, torch.zeros_like(record["Isyn_out"]))
    hidden_spikes = record["Spikes"].float()
    threshold = sim.threshold.float()
    dash_mem = sim.dash_mem.float()

    # Each step's forward, recomputed for all steps at once from the previous step's records.
    v_prev = torch.cat([v.new_zeros(batch, 1, n_all), v[:, :-1]], dim=1)
    decay = torch.floor(v_prev * 2.0**-dash_mem)
    decay = torch.where(decay == 0, torch.sign(v_prev), decay)
    decay = torch.where(decay == INT16_MIN, -float(INT16_MIN), decay)  # xylosim's int16 negation
    dv0 = currents - decay
    dv1b = dv0.clamp(INT16_MIN, INT16_MAX) + sim.bias.float()
    u_pre = v_prev + dv1b.clamp(INT16_MIN, INT16_MAX)
    u = u_pre.clamp(INT16_MIN, INT16_MAX)
    to_bias = _within(u_pre) * _within(dv1b)
    to_currents = to_bias * _within(dv0)
    to_v_prev = _within(u_pre) - to_currents * 2.0**-dash_mem
    del decay, dv0, dv1b, u_pre, currents

    positive = threshold > 0
    safe_threshold = torch.where(positive, threshold, 1.0)
    # spike counts: the record's for hidden neurons, (u − v) / θ for outputs (exact integers)
    counts = torch.cat([hidden_spikes[..., :n_hidden],
                        torch.round((u - v)[..., n_hidden:] / safe_threshold[n_hidden:])], dim=2)
    counts = torch.where(positive, counts, 0.0)
    sigma, dn_dtheta = _relative_surrogate(u, safe_threshold, window, sim.spike_cap.float())
    sigma = torch.where(positive, sigma, 0.0)
    dn_dtheta = torch.where(positive, dn_dtheta, 0.0)
    del u, v, v_prev

    # External gradients: on output spikes (Spike mode) or on an output state.
    grad_spikes = torch.zeros(batch, steps, n_all, device=device)
    grad_vmem = torch.zeros_like(grad_spikes)
    grad_isyn = torch.zeros(batch, steps, 2 * n_all, device=device)
    if sim.output_mode == "Spike":
        grad_spikes[..., n_hidden:] = grad_output
    elif sim.output_mode == "Vmem":
        grad_vmem[..., n_hidden:] = grad_output
    else:
        grad_isyn[..., n_hidden:n_all] = grad_output

    delivered = torch.ones(batch, steps, 2 * n_all, device=device)
    for step, rows, cols in clip_log:
        delivered[rows, step, cols] = 0.0
    keep = (1.0 - 2.0**-sim.dash_syn.float()).reshape(2 * n_all)  # the decay's linear part
    # A delivered current's gradient reaches the carried current and the events alike.
    through_delivery = delivered * keep
    spike_weights_t = sim.drive_weights[n_in:].float().T.contiguous()  # (2P, N)

    grad_u_all = torch.empty_like(grad_spikes)
    grad_v_all = torch.empty_like(grad_spikes)
    grad_s_all = grad_spikes
    grad_in_all = torch.empty(batch, steps, 2 * n_all, device=device)
    grad_v = torch.zeros(batch, n_all, device=device)
    grad_in = torch.zeros(batch, 2 * n_all, device=device)
    for t in range(steps - 1, -1, -1):
        grad_s = grad_s_all[:, t]
        grad_s[:, :n_hidden].addmm_(grad_in, spike_weights_t)  # delay: reached step t + 1
        grad_vt = grad_v.add_(grad_vmem[:, t])
        grad_u = torch.addcmul(grad_vt, grad_s - threshold * grad_vt, sigma[:, t])
        grad_u_all[:, t], grad_v_all[:, t] = grad_u, grad_vt
        grad_v = grad_u * to_v_prev[:, t]
        grad_current = (grad_u * to_currents[:, t]).repeat(1, 2).add_(grad_in)
        grad_in = grad_current.add_(grad_isyn[:, t]).mul_(through_delivery[:, t])
        grad_in_all[:, t] = grad_in

    grad_threshold = ((grad_s_all - threshold * grad_v_all) * dn_dtheta
                      - grad_v_all * counts).sum(dim=(0, 1))
    grad_bias = (grad_u_all * to_bias).sum(dim=(0, 1))
    flat_in = grad_in_all.reshape(batch * steps, 2 * n_all).double()
    drive_in = events.reshape(batch * steps, n_in).clamp(max=15).double()
    grad_w_in = (drive_in.T @ flat_in).reshape(n_in, 2, n_all)
    previous_spikes = torch.cat([hidden_spikes.new_zeros(batch, 1, n_hidden),
                                 hidden_spikes[:, :-1]], dim=1).reshape(batch * steps, n_hidden)
    grad_w_spike = (previous_spikes.double().T @ flat_in).reshape(n_hidden, 2, n_all)
    return _spec_layout(sim, grad_w_in, grad_w_spike, grad_threshold.double(),
                        grad_bias.double(), shapes)


def _spec_layout(
    sim: XyloSim, grad_w_in: Tensor, grad_w_spike: Tensor, grad_threshold: Tensor,
    grad_bias: Tensor, shapes: list[torch.Size],
) -> list[Tensor]:
    """Population-layout gradients → the quantiser's layout, in ``INTEGER_KEYS`` order.

    grad_w_in (Nin, 2, P), grad_w_spike (N, 2, P): gradients on the effective weights
    ``w << shift`` onto synapse s of population neuron j; grad_threshold, grad_bias (P,)
    """
    spec = sim.spec
    n_hidden = spec.n_hidden
    w_in_shape, w_rec_shape, w_out_shape = shapes[:3]
    n_targets, n_syn = w_in_shape[1], w_in_shape[2]
    n_sources = w_out_shape[0]
    weights_in = grad_w_in[:, :n_syn, :n_targets].permute(0, 2, 1) * 2.0**spec.weight_shift_in
    weights_rec = grad_w_spike[:, :n_syn, :n_hidden].permute(0, 2, 1) * 2.0**spec.weight_shift_rec
    weights_out = grad_w_spike[n_hidden - n_sources:, 0, n_hidden:] * 2.0**spec.weight_shift_out
    return [
        weights_in.reshape(w_in_shape).contiguous(),
        weights_rec.reshape(w_rec_shape).contiguous(),
        weights_out.contiguous(),
        grad_threshold[:n_hidden], grad_threshold[n_hidden:],
        grad_bias[:n_hidden], grad_bias[n_hidden:],
    ]
