"""A Xylo spec laid out as one population: the integer buffers both engines of the simulation
run on (docs/design.md §6).

The N hidden and Nout readout neurons form one population of P = N + Nout neurons with two
synapses each (readout neurons use the first; their second has no weights and stays 0), so a
step is one set of tensor operations for everything. Readout neurons receive the hidden
spikes through the readout weights and are capped at one spike.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from synnet_triton.xylo.chip import MAX_HIDDEN_SPIKES, MAX_INPUT_EVENTS, MAX_OUTPUT_SPIKES
from synnet_triton.xylo.saturating import wrap_int16
from synnet_triton.xylo.spec import XyloSpec

EXACT_FLOAT32_SUMS = 2**24
"""Integer sums below this are exact in float32."""


@dataclass(frozen=True)
class Population:
    """A spec's buffers (on the spec's device, named as the simulator registers them) and what its
    step loop needs to know of them.

    buffers:        ``input_shift`` (1,), ``spike_shift`` (2P,) 2^shift per current;
                    ``input_bound``, ``spike_bound`` (2P,) largest |effective weight| onto each
                    current; ``drive_weights`` (Nin + N, 2P) effective int16 weights of input
                    channels then hidden neurons onto current s·P + j (synapse s of neuron j);
                    ``signed_projection`` (Nin + N, 4P) float64 their positive then negative
                    parts; ``dash_syn`` (2, P), ``dash_mem``, ``bias``, ``threshold``,
                    ``spike_cap`` (P,) int32; ``threshold_divisor`` (P,) float32;
                    ``nonpositive_neurons`` (M,) the neurons with θ ≤ 0; ``alias_forward``,
                    ``alias_late`` (2, E) alias edges (sources, targets)
    scaled_product: the step's products must run on weights divided by 2^shift (some possible
                    sum of events reaches 2^24, where float32 stops being exact)
    alias_depth:    the longest chain of forward alias edges
    """

    buffers: dict[str, Tensor]
    scaled_product: bool
    alias_depth: int


def shifted_weights(weights: Tensor, shift: Tensor) -> Tensor:
    """Effective int16 weights ``wrap16(w << shift)``.

    weights: (K, C) int64; shift: (C,) int64 left shift per column (target current)

    ``(w << shift)`` wrapped to int16 is always a multiple of ``2**shift`` (shift ≤ 15), and the
    quotient has magnitude ≤ 128, so sums of up to 2^17 quotient-weighted spike counts are exact
    in a float32 matrix product.
    """
    return wrap_int16(weights << shift)


def _per_neuron(hidden: Tensor, output: Tensor) -> Tensor:
    return torch.cat([hidden, output]).to(torch.int32)


def population(spec: XyloSpec) -> Population:
    """``spec`` as one population's buffers, on the device of ``spec``'s tensors."""
    n_in, n_hidden, n_out = spec.n_inputs, spec.n_hidden, spec.n_outputs
    n_all = n_hidden + n_out
    device = spec.weights_in.device

    # Currents of the whole population are held synapse-major, (B, 2, P), so that each
    # synapse's currents are contiguous; weights map onto them flattened to 2P columns,
    # column s·P + j for synapse s of neuron j.
    input_weights = torch.zeros((n_in, 2, n_all), dtype=torch.int64, device=device)
    input_weights[:, :, :n_hidden] = spec.weights_in.permute(0, 2, 1)
    spike_weights = torch.zeros((n_hidden, 2, n_all), dtype=torch.int64, device=device)
    spike_weights[:, :, :n_hidden] = spec.weights_rec.permute(0, 2, 1)
    spike_weights[n_hidden - spec.n_readout_sources :, 0, n_hidden:] = spec.weights_out
    spike_shifts = torch.tensor(
        ([spec.weight_shift_rec] * n_hidden + [spec.weight_shift_out] * n_out) * 2,
        device=device)
    in_effective = shifted_weights(
        input_weights.reshape(n_in, 2 * n_all),
        torch.full((2 * n_all,), spec.weight_shift_in, device=device))
    spike_effective = shifted_weights(spike_weights.reshape(n_hidden, 2 * n_all), spike_shifts)
    # Per step, float products of the input events (B, Nin) and of the previous hidden spikes
    # with the weights give the sum of the events onto every current. In float32 they are
    # exact while every possible sum stays below 2^24; if large weight shifts break that,
    # they run on the weights divided by 2^shift (magnitude ≤ 128, always exact) and each
    # part is scaled after (by a power of two, exact again).
    largest_sum = (
        MAX_INPUT_EVENTS * in_effective.abs().sum(dim=0)
        + MAX_HIDDEN_SPIKES * spike_effective.abs().sum(dim=0)
    ).max()
    drive_weights = torch.cat([in_effective, spike_effective])
    threshold = _per_neuron(spec.threshold, spec.threshold_out)
    buffers = {
        "input_shift": (2 ** in_effective.new_full((1,), spec.weight_shift_in)).to(torch.int32),
        "spike_shift": (2**spike_shifts).to(torch.int32),
        # A bound on every partial sum of a step: (events of the sample) × (largest |weight|
        # onto the current), for input events and spikes.
        "input_bound": in_effective.abs().amax(dim=0).to(torch.int32),
        "spike_bound": spike_effective.abs().amax(dim=0).to(torch.int32),
        # Effective weights (Nin + N, 2P) for replaying events one by one, and their positive
        # and negative parts in float64 (exact for any sum) for a tight bound on partial sums.
        "drive_weights": drive_weights,
        "signed_projection": torch.cat(
            [drive_weights.clamp(min=0), drive_weights.clamp(max=0)], 1).double(),
        # (2, P): the first and second synaptic decays; outputs have one synapse.
        "dash_syn": _per_neuron(
            spec.dash_syn, torch.stack([spec.dash_syn_out, spec.dash_syn_out * 0], 1)
        ).T.contiguous(),
        "dash_mem": _per_neuron(spec.dash_mem, spec.dash_mem_out),
        "bias": _per_neuron(spec.bias, spec.bias_out),
        "threshold": threshold,
        "spike_cap": _per_neuron(torch.full((n_hidden,), MAX_HIDDEN_SPIKES, device=device),
                                 torch.full((n_out,), MAX_OUTPUT_SPIKES, device=device)),
        # Divisor for the closed-form spike count, in float32 where floor(v / θ) is exact for
        # int16 v and 0 < θ ≤ 32767; neurons with θ ≤ 0 take xylosim's loop instead, in which
        # the membrane can wrap around int16.
        "threshold_divisor": torch.where(threshold > 0, threshold, 1).to(torch.float32),
        "nonpositive_neurons": torch.nonzero(threshold <= 0).flatten(),
    }

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
    for name, edges in (("alias_forward", forward), ("alias_late", late)):
        buffers[name] = torch.tensor(edges, dtype=torch.int64, device=device
                                     ).reshape(-1, 2).T.contiguous()
    return Population(buffers, bool(largest_sum >= EXACT_FLOAT32_SUMS), max(depth, default=0))
