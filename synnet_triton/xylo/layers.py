"""Xylo simulation layer by layer: one kernel launch per layer for the whole sequence.

On Xylo every hidden → hidden and hidden → readout link adds one step of delay, so in a
network whose spikes only go forward (a SynNet: inputs → layer 1 → … → readout) the neurons
fall into layers, each fed only by the inputs and by earlier layers; a layer's drive for every
step (input events now, earlier layers' spikes one step late) is known once the earlier layers
have run. Each layer then runs as one launch of :func:`synnet_triton.kernels.xylo_layer
.xylo_layer_forward` over the whole sequence, instead of one vectorised step at a time for
the whole population, and computes the same integers (the kernel's sources in xylosim's
order: input channels, then hidden neurons ascending).

Used by :class:`synnet_triton.xylo.XyloSim` on CUDA for specs with that structure and no
aliases (``backend="triton"`` forces it anywhere, e.g. on the CPU under the Triton
interpreter).
"""

from __future__ import annotations

import torch
from torch import Tensor

Level = slice | Tensor
"""A level's neurons: a slice where they are consecutive (a SynNet's layers), else indices."""


def spike_levels(spike_weights: Tensor, n_hidden: int) -> list[Level] | None:
    """Population neurons grouped by level, or None when the spikes form a cycle.

    spike_weights: (N, 2P) effective weights of hidden neuron k's spikes onto current column
    s·P + j (P = N hidden + Nout output neurons). Level 0 holds the neurons no hidden neuron
    feeds; every neuron a level-ℓ neuron feeds is at a level after ℓ. Returns the levels,
    level 0 first.
    """
    n_all = spike_weights.shape[1] // 2
    reached = (spike_weights != 0).reshape(n_hidden, 2, n_all).any(dim=1).cpu()
    placed = torch.zeros(n_all, dtype=torch.bool)
    levels: list[Level] = []
    while not bool(placed.all()):
        # ready: every hidden neuron feeding it already has its level
        ready = ~placed & ~reached[~placed[:n_hidden]].any(dim=0)
        if not bool(ready.any()):
            return None
        neurons = torch.nonzero(ready).flatten()
        first, last = int(neurons[0]), int(neurons[-1])
        levels.append(slice(first, last + 1) if last - first + 1 == len(neurons) else neurons)
        placed |= ready
    return levels


def layer_slices(spike_weights: Tensor, n_hidden: int) -> list[slice] | None:
    """The population cut into runs of consecutive neurons, each fed only by the inputs and
    by hidden neurons of earlier runs (fewest runs: a SynNet's layers, then its readout), or
    None when some neuron is fed by itself or by a neuron after it.

    spike_weights: (N, 2P) effective weights of hidden neuron k's spikes onto current column
    s·P + j.
    """
    n_all = spike_weights.shape[1] // 2
    reached = (spike_weights != 0).reshape(n_hidden, 2, n_all).any(dim=1).cpu()
    sources = torch.arange(n_hidden)[:, None].expand(n_hidden, n_all)
    last_source = torch.where(reached, sources, -1).amax(dim=0).tolist() if n_hidden \
        else [-1] * n_all
    layers, start = [], 0
    for neuron, source in enumerate(last_source):
        if source >= neuron:
            return None
        if source >= start:
            layers.append(slice(start, neuron))
            start = neuron
    layers.append(slice(start, n_all))
    return layers


def run_layers(
    layers: list[slice],
    drive_weights: Tensor,
    dash_syn: Tensor,
    dash_mem: Tensor,
    bias: Tensor,
    threshold: Tensor,
    spike_cap: Tensor,
    events: Tensor,
    state: dict[str, Tensor],
    record: bool,
    clips: bool,
    nonpositive: list[bool],
) -> tuple[Tensor, Tensor | None, Tensor | None, dict[str, Tensor]]:
    """Run every layer over the whole sequence, the first one first.

    layers:        consecutive runs covering the population 0 … P − 1 (`layer_slices`)
    drive_weights: (Nin + N, 2P) int64 effective weights of the inputs then the hidden spikes
    dash_syn (2, P), dash_mem, bias, threshold, spike_cap (P,): the population's parameters
    nonpositive:   per layer, whether some neuron of it has θ ≤ 0 (read once from the spec)
    events:        (B, T, Nin) int32 clipped input event counts, T ≥ 1
    state:         ``isyn`` (B, 2, P), ``vmem`` (B, P), ``spikes`` (B, P) int32 carried state
    returns (spikes (B, T, P) int16, records (B, T, P, 3) int16 [vmem, i_0, i_1] or None,
            clip flags (B, T, 2, P) int8 or None, the state after the last step)
    """
    from synnet_triton.kernels.xylo_layer import xylo_layer_forward

    batch, steps, n_in = events.shape
    n_all = threshold.shape[0]
    n_hidden = drive_weights.shape[0] - n_in
    device = events.device
    spikes = torch.empty((batch, steps, n_all), dtype=torch.int16, device=device)
    records = torch.empty((batch, steps, n_all, 3), dtype=torch.int16, device=device) \
        if record else None
    flags = torch.empty((batch, steps, 2, n_all), dtype=torch.int8, device=device) \
        if clips else None
    isyn, vmem = state["isyn"].clone(), state["vmem"].clone()
    weights_by_synapse = drive_weights.reshape(-1, 2, n_all).to(torch.int32)
    for index, layer in enumerate(layers):
        # sources: the inputs and every hidden neuron before the layer (all in earlier
        # layers), as xylosim orders them; only those with a weight onto the layer
        earlier = min(layer.start, n_hidden)
        weights = weights_by_synapse[:n_in + earlier, :, layer]
        used = torch.nonzero(weights.flatten(1).any(dim=1)).flatten()
        # their spikes reach the level one step late: the carried ones at step 0
        late = torch.cat([state["spikes"][:, None, :earlier],
                          spikes[:, :-1, :earlier].to(torch.int32)], dim=1)
        drive = torch.cat([events, late], dim=2)[..., used].contiguous()
        layer_isyn = isyn[:, :, layer].contiguous()
        layer_vmem = vmem[:, layer].contiguous()
        layer_spikes = torch.empty((batch, steps, layer.stop - layer.start), dtype=torch.int16,
                                   device=device)
        layer_record = None if records is None else torch.empty(
            (*layer_spikes.shape, 3), dtype=torch.int16, device=device)
        layer_flags = None if flags is None else torch.empty(
            (batch, steps, 2, layer_spikes.shape[2]), dtype=torch.int8, device=device)
        xylo_layer_forward(
            drive, weights[used].contiguous(), dash_syn[:, layer].contiguous(),
            dash_mem[layer].contiguous(), bias[layer].contiguous(),
            threshold[layer].contiguous(), spike_cap[layer].contiguous(),
            layer_isyn, layer_vmem, layer_spikes, layer_record, layer_flags,
            nonpositive=nonpositive[index])
        spikes[:, :, layer] = layer_spikes
        if records is not None and layer_record is not None:
            records[:, :, layer] = layer_record
        if flags is not None and layer_flags is not None:
            flags[..., layer] = layer_flags
        isyn[:, :, layer], vmem[:, layer] = layer_isyn, layer_vmem
    return spikes, records, flags, {"isyn": isyn, "vmem": vmem,
                                    "spikes": spikes[:, -1].to(torch.int32)}
