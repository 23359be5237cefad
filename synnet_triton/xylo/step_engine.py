"""The step engine of the Xylo simulation: one vectorised step of the whole population at a
time, on the CPU (numpy on the tensors' memory) or any torch device (docs/design.md §6).

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

The functions take the :class:`~synnet_triton.xylo.sim.XyloSim` whose buffers they read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from synnet_triton.arrays import array_namespace, numba_available, steps_per_chunk
from synnet_triton.xylo.chip import INT16_MAX, INT16_MIN, MAX_HIDDEN_SPIKES
from synnet_triton.xylo.saturating import bitshift_decay, ordered_saturating_sum, wrap_int16

if TYPE_CHECKING:
    from synnet_triton.xylo.sim import XyloSim

# Candidate count above which the tight per-current bound is computed before replaying events.
_TIGHT_BOUND_AFTER = 64
# Share of all currents flagged by the tight bound above which the step's events are applied to
# every current in order, source by source (a few operations per source on the whole
# population), instead of the per-current replay (work ∝ flagged currents × sources).
_IN_ORDER_SHARE = 0.125


def _exact_product_dtype(device: torch.device) -> torch.dtype:
    """Float dtype in which the per-step product of event counts and weights is exact.

    float32 is exact here (integer sums below 2^24) only at full float32 matmul precision: on
    CUDA, TF32, and on CPUs with bf16 support, ``torch.set_float32_matmul_precision("high" or
    "medium")`` would round. So float32 on the CPU at "highest" precision, float64 otherwise.
    """
    if device.type == "cpu" and torch.get_float32_matmul_precision() == "highest":
        return torch.float32
    return torch.float64


def run_steps(
    sim: XyloSim,
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
    n_all = sim.threshold.shape[0]
    dtype = _exact_product_dtype(events.device)
    neurons = events.new_empty((3, n_all, batch), dtype=dtype)
    neurons[:2] = state["isyn"].permute(1, 2, 0)
    neurons[2] = state["vmem"].T
    # The spike counts of the last step, which drive the next step's product.
    spikes = state["spikes"].T.to(dtype).contiguous()
    if batch and steps:
        _loop(sim, events, neurons, spikes, first_traced, spike_trace, state_trace)
    return {
        "isyn": neurons[:2].permute(2, 0, 1).to(torch.int32).contiguous(),
        "vmem": neurons[2].T.to(torch.int32).contiguous(),
        "spikes": spikes.T.to(torch.int32).contiguous(),
    }


def _loop(
    sim: XyloSim,
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
    n_hidden, n_all = sim.spec.n_hidden, sim.threshold.shape[0]
    width = 2 * n_all
    dtype = neurons_t.dtype
    xp, arrays = array_namespace(neurons_t)

    def full(values: Tensor | float, shape: tuple[int, ...]) -> Any:
        """A contiguous (..., B) array of ``values`` (...) broadcast over the batch."""
        values = torch.as_tensor(values).to(neurons_t)
        return arrays(values[..., None].expand(*shape, batch).contiguous())

    dashes = torch.cat([sim.dash_syn, sim.dash_mem[None]]).double()
    scale, one = full(2.0**-dashes, (3, n_all)), full(1.0, (3, n_all))
    zero = full(0.0, (n_all,))
    low, high = full(float(INT16_MIN), (n_all,)), full(float(INT16_MAX), (n_all,))
    bias, divisor = full(sim.bias, (n_all,)), full(sim.threshold_divisor, (n_all,))
    threshold, cap = full(sim.threshold, (n_all,)), full(sim.spike_cap, (n_all,))
    neurons, spikes = arrays(neurons_t), arrays(spikes_t)
    hidden_spikes_t = spikes_t[:n_hidden]
    isyn, isyn_first, isyn_second, vmem = neurons[:2], neurons[0], neurons[1], neurons[2]
    current_t = neurons_t[:2].view(width, batch)
    current = arrays(current_t)
    decays, scratch = xp.empty_like(neurons), xp.empty_like(neurons)
    syn_decay, decay = decays[:2], decays[2]
    mem_scratch, dv = xp.empty_like(vmem), xp.empty_like(vmem)

    input_projection = sim.input_projection.to(dtype)
    spike_projection = sim.spike_projection.to(dtype)
    product_t = neurons_t.new_empty((width + 1, batch))
    product = arrays(product_t)
    # The last row of the sums is, per sample, (input events) × (largest |input weight|) +
    # (hidden spikes) × (largest |spike weight|): no partial sum of the step's events onto
    # any current exceeds it. A sum of non-negative integers in float32 (float64) is exact
    # below 2^24 (2^53) and stays at least that above, in any order, so comparing it with
    # the int16 range is exact.
    sums_t, sums, reaches = product_t[:width], product[:width], product[width]
    unscaled = sim.spike_shift.new_ones(1)
    spike_scale = full(torch.cat([sim.spike_shift, unscaled]), (width + 1,))
    input_scale = torch.cat([sim.input_shift.expand(width), unscaled]).to(dtype)[:, None]
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
    settle = sim._has_aliases or sim._has_nonpositive_threshold
    scaled_product, has_bias = sim._scaled_product, sim._has_bias
    has_dash_mem_zero = sim._has_dash_mem_zero
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
                _deliver_exactly(sim,
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
                _settle_spikes(sim, neurons_t[2].T, spikes_t.T)
            else:
                multiply(spikes, threshold, out=mem_scratch)
                subtract(vmem, mem_scratch, out=vmem)

            spike_record[:, step] = traced_spikes
            if state_record is not None:
                state_record[:, step, :, 0] = traced_vmem
                state_record[:, step, :, 1:] = traced_isyn

def _deliver_exactly(
    sim: XyloSim, current: Tensor, sums: Tensor, step_events: Tensor, spikes: Tensor, step: int
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
    then hidden neurons ascending) with per-event saturation: on the CPU with numba (the
    ``[cpu]`` extra) for every current in one compiled loop
    (:mod:`synnet_triton.xylo.compiled_delivery`); otherwise for the flagged currents alone,
    or, when many are flagged (currents along the rails), for all of them at once.
    """
    width = current.shape[1]
    drive_counts = torch.cat([step_events, spikes.to(torch.int32)], 1)
    n_in = step_events.shape[1]
    whole = current.to(torch.int64)
    event_count = drive_counts[:, :n_in].sum(1, keepdim=True)
    spike_count = drive_counts[:, n_in:].sum(1, keepdim=True)
    bound = event_count * sim.input_bound + spike_count * sim.spike_bound
    # |current| + bound > 32767 also flags current = −32768 with no events; replaying an
    # empty event list there is harmless.
    rows, cols = torch.nonzero(whole.abs() + bound > INT16_MAX, as_tuple=True)
    # the compiled loop delivers every current in order for about what the bounds cost
    compiled = rows.numel() > 0 and current.device.type == "cpu" and numba_available()
    if not compiled and rows.numel() > _TIGHT_BOUND_AFTER:
        # Many candidates: bound each current by its own positive and negative event sums.
        signed = (drive_counts.double() @ sim.signed_projection).to(torch.int64)
        upper = whole + signed[:, :width]
        lower = whole + signed[:, width:]
        rows, cols = torch.nonzero((upper > INT16_MAX) | (lower < INT16_MIN), as_tuple=True)
    if compiled or rows.numel() > _IN_ORDER_SHARE * current.numel():
        if compiled:
            from synnet_triton.xylo.compiled_delivery import deliver_in_order

            current.copy_(deliver_in_order(whole, drive_counts, sim.drive_weights))
        else:
            current.copy_(_deliver_in_order(sim, whole, drive_counts))
        if sim.clip_log is not None:
            rows, cols = torch.nonzero(current != whole + sums, as_tuple=True)
            sim.clip_log.append((step, rows, cols))
        return
    current.add_(sums)
    if rows.numel():
        exact = _replay_events(sim, whole, rows, cols, drive_counts).to(current.dtype)
        if sim.clip_log is not None:
            differs = exact != current[rows, cols]
            sim.clip_log.append((step, rows[differs], cols[differs]))
        current[rows, cols] = exact

def _deliver_in_order(
    sim: XyloSim, current: Tensor, drive_counts: Tensor) -> Tensor:
    """Every current after the step's events, applied in xylosim's order.

    current:      (B, 2P) int64 currents before the step's events
    drive_counts: (B, Nin + N) int32 input events then spike counts, in xylosim's order
    returns (B, 2P) float64 exact currents after the events

    A source's events onto one current all have its weight's sign, so count × weight then
    one saturation equals that many saturating additions. Consecutive sources whose weights
    reach disjoint currents (`disjoint_runs`) are one product and one saturation: no
    current receives two of them, so their order does not matter. float64 holds every
    partial sum exactly.
    """
    exact = current.to(torch.float64)
    counts = drive_counts.to(torch.float64)
    for start, stop, weights in disjoint_runs(sim):
        exact.addmm_(counts[:, start:stop], weights)
        exact.clamp_(INT16_MIN, INT16_MAX)
    return exact

def disjoint_runs(sim: XyloSim) -> list[tuple[int, int, Tensor]]:
    """The sources (rows of ``drive_weights``) cut into consecutive runs that reach
    pairwise disjoint currents: (start, stop, float64 weights of the run); cached."""
    weights = sim.drive_weights
    cached = sim._runs
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
    sim._runs = (weights.device, runs)
    return runs

def _replay_events(
    sim: XyloSim, current: Tensor, rows: Tensor, cols: Tensor, drive_counts: Tensor
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
    ordered_events = counts[:, active].to(torch.int64) * sim.drive_weights[active][:, cols].T
    return ordered_saturating_sum(current[rows, cols].to(torch.int64), ordered_events)

def _settle_spikes(
    sim: XyloSim, vmem: Tensor, spikes: Tensor) -> None:
    """Spike counts and discharge with aliases or θ ≤ 0 neurons, as xylosim, in place.

    vmem:   (B, P) float membranes before the discharge; replaced by the discharged ones
    spikes: (B, P) float floor(v / θ) clamped to [0, cap] (meaningful where θ > 0);
            replaced by the step's spike counts including aliases
    """
    v = vmem.to(torch.int32)
    counts = spikes.to(torch.int32)
    cap = sim.spike_cap
    if sim._has_nonpositive_threshold:
        counts = counts.index_copy(
            1, sim.nonpositive_neurons, _nonpositive_loop(sim, v, cap)[0]
        )
    total, before, final = counts, torch.zeros_like(counts), counts
    if sim._has_aliases:
        for _ in range(sim._alias_depth):
            total = torch.minimum(counts + _alias_inflow(total, sim.alias_forward), cap)
        before = torch.minimum(_alias_inflow(total, sim.alias_forward), cap)
        final = torch.minimum(total + _alias_inflow(total, sim.alias_late), cap)
    vmem.copy_(_discharge(sim, v, total - before, cap - before))
    spikes.copy_(final)

def _alias_inflow(counts: Tensor, edges: Tensor) -> Tensor:
    """Spike counts copied along alias ``edges`` (2, E) = (sources, targets); (B, P) int32."""
    inflow = torch.zeros_like(counts)
    return inflow.index_add_(1, edges[1], counts[:, edges[0]])

def _nonpositive_loop(
    sim: XyloSim, vmem: Tensor, cap: Tensor) -> tuple[Tensor, Tensor]:
    """xylosim's spike loop for the M neurons with θ ≤ 0, whose membrane can wrap in int16.

    vmem: (B, P) int32; cap: (P,) or (B, P) int32 most spikes each neuron may still emit
    returns counts (B, M) and post-spike membranes (B, M)
    """
    index = sim.nonpositive_neurons
    v = vmem[:, index]
    theta = sim.threshold[index]
    limit = cap[..., index]
    counts = torch.zeros_like(v)
    for _ in range(MAX_HIDDEN_SPIKES):
        active = (v >= theta) & (counts < limit)
        v = torch.where(active, wrap_int16(v - theta), v)
        counts = counts + active.to(counts.dtype)
    return counts, v

def _discharge(
    sim: XyloSim, vmem: Tensor, own: Tensor, cap: Tensor) -> Tensor:
    """Subtract θ once per own spike (B, P); θ ≤ 0 neurons rerun their loop with ``cap``."""
    discharged = torch.addcmul(vmem, own, sim.threshold, value=-1)
    if sim._has_nonpositive_threshold:
        discharged = discharged.index_copy(
            1, sim.nonpositive_neurons, _nonpositive_loop(sim, vmem, cap)[1]
        )
    return discharged
