"""SynNet → Xylo Audio 2 specification: Rockpool's mapper and post-training quantisers.

`synnet_float_specification` lays a feed-forward SynNet (linear → LIF layers, the last LIF
layer being the readout) out on Xylo's hidden and output neurons exactly as Rockpool 3.1's
`rockpool.devices.xylo.syns61201.mapper(net.as_graph())` does; `global_quantize` and
`channel_quantize` reproduce `rockpool.transform.quantize_methods`, including their quirks (noted
where they act), so the integer spec equals Rockpool's value for value. `synnet_specification`
chains the two; `evaluate_on_xylo` builds the bit-exact simulator and runs a batch.

Pitfalls (they are Rockpool's, reproduced here, not fixed):

- A SynNet with ``output="vmem"`` has readout thresholds of 32767. Global quantisation first
  scales them with the readout weights (×127 / max |w_out|), finds them far above int16, and
  rescales the readout weights *and the recurrent (hidden → hidden) weights* by
  32767 / (scaled threshold) — typically crushing them to 0 or ±1. Use spiking readouts, or
  per-channel quantisation, for deployment.
- The float SynNet has no delay between layers: a spike at step t reaches the next layer at t.
  On Xylo every hidden → hidden and hidden → output connection adds one step, so a network with
  L hidden layers answers L steps later, and spike timing within a step's cascade changes.
- Dashes are round(log2(τ / dt)) (the mapper), which equals SynNet's own bit-shift
  quantisation round(−log2(1 − exp(−dt / τ))) only for τ already quantised that way
  (``quantize_time_constants=True``, SynNet's default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from synnet_triton.xylo.sim import XyloSim
from synnet_triton.xylo.targets import DEFAULT_TARGET, get_target

ArrayLike = Tensor | np.ndarray | float


def _float32(name: str, value: Any) -> np.ndarray:
    """A float32 numpy copy of ``value`` (Rockpool's graph holds float32 arrays)."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real array; got dtype {array.dtype}")
    return array.astype(np.float32)


def _dash(name: str, tau: np.ndarray, dt: float) -> np.ndarray:
    """The mapper's float dash log2(τ / dt), computed in float32 like Rockpool's graph."""
    if np.any(tau <= dt):
        raise ValueError(f"{name} must exceed dt = {dt} to map to a bit-shift decay")
    return np.log2(tau / dt).astype(np.float64)


def synnet_float_specification(
    weights: Sequence[ArrayLike],
    tau_mem: Sequence[ArrayLike],
    tau_syn: Sequence[ArrayLike],
    threshold: Sequence[ArrayLike],
    bias: Sequence[ArrayLike],
    dt: float,
    target: str = DEFAULT_TARGET,
) -> dict[str, Any]:
    """Map a feed-forward SynNet onto Xylo's neurons, as Rockpool's ``mapper`` for ``target``
    does (``syns61201`` for Xylo Audio 2, ``syns65302`` for Audio 3, ``syns63300`` for IMU).

    One entry per LIF layer in evolution order; the last layer is the readout. For layer k with
    N_k neurons and S_k synapses (S ≤ 2 for hidden layers, 1 for the readout):
        weights[k]:   (N_{k-1}, N_k·S_k) float, the linear layer stored (in, out); N_{-1} = Nin;
                      column j·S_k + s drives synapse s of neuron j
        tau_mem[k]:   (N_k,) seconds
        tau_syn[k]:   (N_k, S_k) or (N_k,) seconds
        threshold[k]: (N_k,); bias[k]: (N_k,)
    Hidden neurons are numbered layer after layer; layer 0 receives the inputs, layer k > 0 the
    spikes of layer k − 1 through ``weights_rec``, the readout those of the last hidden layer
    through ``weights_out``.

    Returns:
        Rockpool's spec keys with float64 numpy values (dashes log2(τ / dt), unrounded):
        weights_in (Nin, Nh[, 2]), weights_rec (Nh, Nh[, 2]), weights_out (Nh, Nout), dash_mem,
        dash_syn, dash_syn_2, threshold, bias (Nh,), dash_mem_out, dash_syn_out, threshold_out,
        bias_out (Nout,), weight shifts 0, aliases (empty lists), dt. Xylo Audio 2: the synapse
        axis is present only when some hidden layer has two synapses. Audio 3 and IMU (input
        and output expansion windows): weights_in (Nin, N_0, S) reaches only the first hidden
        layer's neurons, weights_out (N_last, Nout) comes only from the last hidden layer's,
        and weights carry the synapse axis always. No size limit is applied here
        (:func:`synnet_triton.xylo.design.check_design` does that).

    Raises:
        ValueError: inconsistent layer shapes, fewer than two layers, a readout with two
            synapses, or a time constant not above ``dt``.
    """
    n_layers = len(weights)
    if n_layers < 2:
        raise ValueError(
            f"weights must hold at least two layers (hidden + readout); got {n_layers}"
        )
    for name, values in (
        ("tau_mem", tau_mem),
        ("tau_syn", tau_syn),
        ("threshold", threshold),
        ("bias", bias),
    ):
        if len(values) != n_layers:
            raise ValueError(f"{name} must hold {n_layers} layers like weights; got {len(values)}")
    if not dt > 0:
        raise ValueError(f"dt must be positive; got {dt}")

    layers = []
    n_sources = None
    for k in range(n_layers):
        w = _float32(f"weights[{k}]", weights[k])
        taus_mem = _float32(f"tau_mem[{k}]", tau_mem[k]).reshape(-1)
        n_neurons = taus_mem.shape[0]
        taus_syn = _float32(f"tau_syn[{k}]", tau_syn[k]).reshape(n_neurons, -1)
        n_syn = taus_syn.shape[1]
        if w.ndim != 2 or w.shape[1] != n_neurons * n_syn:
            raise ValueError(
                f"weights[{k}] must have shape (inputs, {n_neurons * n_syn}) for {n_neurons} "
                f"neurons with {n_syn} synapses; got {w.shape}"
            )
        if n_sources is not None and w.shape[0] != n_sources:
            raise ValueError(
                f"weights[{k}] has {w.shape[0]} inputs but layer {k - 1} has {n_sources} neurons"
            )
        if n_syn > (1 if k == n_layers - 1 else 2):
            raise ValueError(f"layer {k} has {n_syn} synapses per neuron; Xylo supports fewer")
        layers.append(
            {
                "weights": w.reshape(w.shape[0], n_neurons, n_syn).astype(np.float64),
                "dash_mem": _dash(f"tau_mem[{k}]", taus_mem, dt),
                "dash_syn": _dash(f"tau_syn[{k}]", taus_syn, dt),
                "threshold": _float32(f"threshold[{k}]", threshold[k]).reshape(-1),
                "bias": _float32(f"bias[{k}]", bias[k]).reshape(-1),
            }
        )
        n_sources = n_neurons

    hidden, readout = layers[:-1], layers[-1]
    n_hidden = sum(layer["dash_mem"].shape[0] for layer in hidden)
    n_out = readout["dash_mem"].shape[0]
    n_syn = max(layer["dash_syn"].shape[1] for layer in hidden)
    n_in = hidden[0]["weights"].shape[0]

    weights_in = np.zeros((n_in, n_hidden, n_syn))
    weights_rec = np.zeros((n_hidden, n_hidden, n_syn))
    weights_out = np.zeros((n_hidden, n_out))
    per_neuron = {name: np.zeros(n_hidden) for name in ("dash_mem", "threshold", "bias")}
    dash_syn = np.zeros((n_hidden, 2))
    start = 0
    previous = None
    for layer in hidden:
        w = layer["weights"]
        ids = slice(start, start + w.shape[1])
        if previous is None:
            weights_in[:, ids, : w.shape[2]] = w
        else:
            weights_rec[previous, ids, : w.shape[2]] = w
        for name in per_neuron:
            per_neuron[name][ids] = layer[name]
        dash_syn[ids, : w.shape[2]] = layer["dash_syn"]
        previous, start = ids, ids.stop
    weights_out[previous] = readout["weights"][:, :, 0]
    if get_target(target).input_window is not None:
        weights_in = weights_in[:, : hidden[0]["weights"].shape[1]]
        weights_out = weights_out[previous]
    elif n_syn == 1:
        weights_in, weights_rec = weights_in[:, :, 0], weights_rec[:, :, 0]

    return {
        "weights_in": weights_in,
        "weights_out": weights_out,
        "weights_rec": weights_rec,
        "dash_mem": per_neuron["dash_mem"],
        "dash_mem_out": readout["dash_mem"],
        "dash_syn": dash_syn[:, 0].copy(),
        "dash_syn_2": dash_syn[:, 1].copy(),
        "dash_syn_out": readout["dash_syn"][:, 0].copy(),
        "threshold": per_neuron["threshold"],
        "threshold_out": readout["threshold"].astype(np.float64),
        "bias": per_neuron["bias"],
        "bias_out": readout["bias"].astype(np.float64),
        "weight_shift_in": 0,
        "weight_shift_rec": 0,
        "weight_shift_out": 0,
        "aliases": [[] for _ in range(n_hidden)],
        "dt": float(dt),
    }


def _as_3d(weights: np.ndarray) -> np.ndarray:
    """(…, N) → (…, N, 1); (…, N, S) unchanged."""
    weights = np.asarray(weights, dtype=np.float64)
    return weights[..., None] if weights.ndim == 2 else weights


def _rounded_dashes(spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """All dashes rounded half to even and cast to int, as both Rockpool quantisers do."""
    names = ("dash_mem", "dash_mem_out", "dash_syn", "dash_syn_2", "dash_syn_out")
    return {name: np.round(np.asarray(spec[name], dtype=np.float64)).astype(int) for name in names}


def global_quantize(
    spec: dict[str, Any],
    fuzzy_scaling: bool = False,
    bits_per_weight: int = 8,
    bits_per_threshold: int = 16,
) -> dict[str, Any]:
    """Quantise a float spec with one scale for input + recurrent weights and one for readout.

    Reproduces Rockpool 3.1 ``global_quantize(**spec)``: scale = (2^(bits−1) − 1) / max |w|
    (max over weights_in, weights_rec and bias; readout: weights_out and bias_out), or
    |mean| + 2·std of the non-zero weights with ``fuzzy_scaling``; values rounded half to even.
    Rockpool's quirks are kept: ``bias_out`` is scaled with the hidden scale; when the readout
    thresholds overflow, the readout *and recurrent* weights are rescaled (see the module
    docstring); weights come back with a synapse axis (N, N, S) even for one synapse.

    spec: a float spec with Rockpool's keys (e.g. from `synnet_float_specification`)
    returns a copy of ``spec`` with integer weights, thresholds, biases and dashes
    """
    w_in, w_rec = _as_3d(spec["weights_in"]), _as_3d(spec["weights_rec"])
    w_out = np.asarray(spec["weights_out"], dtype=np.float64)
    bias, bias_out = spec.get("bias"), spec.get("bias_out")
    largest_weight = 2 ** (bits_per_weight - 1) - 1
    largest_threshold = 2 ** (bits_per_threshold - 1) - 1

    if fuzzy_scaling:
        hidden = np.concatenate([w_in.ravel(), w_rec.ravel()])
        hidden = hidden[hidden != 0]
        readout = w_out.ravel()[w_out.ravel() != 0]
        max_w = np.abs(hidden.mean()) + 2 * hidden.std()
        max_w_out = np.abs(readout.mean()) + 2 * readout.std()
    else:
        max_w = max(0.0, np.abs(w_in).max(), np.abs(w_rec).max())
        max_w_out = max(0.0, np.abs(w_out).max())
        if bias is not None:
            max_w = max(max_w, np.abs(bias).max())
        if bias_out is not None:
            max_w_out = max(max_w_out, np.abs(bias_out).max())
    scale = largest_weight / max_w if max_w != 0 else 1
    scale_out = largest_weight / max_w_out if max_w_out != 0 else 1

    weights_in = np.round(w_in * scale).astype(int)
    weights_rec = np.round(w_rec * scale).astype(int)
    weights_out = np.round(w_out * scale_out).astype(int)
    threshold = np.round(np.asarray(spec["threshold"]) * scale).astype(int)
    threshold_out = np.round(np.asarray(spec["threshold_out"]) * scale_out).astype(int)
    quantised: dict[str, Any] = {}
    if bias is not None:
        quantised["bias"] = np.round(np.asarray(bias) * scale).astype(int)
    if bias_out is not None:
        # Rockpool scales the readout biases with the hidden scale.
        quantised["bias_out"] = np.round(np.asarray(bias_out) * scale).astype(int)

    if np.abs(np.max(threshold)) > largest_threshold:
        limit = largest_threshold / np.max(threshold)
        threshold = np.round(threshold * limit).astype(int)
        weights_in = np.round(weights_in * limit).astype(int)
        weights_rec = np.round(weights_rec * limit).astype(int)
    if np.abs(np.max(threshold_out)) > largest_threshold:
        limit = largest_threshold / np.max(threshold_out)
        threshold_out = np.round(threshold_out * limit).astype(int)
        weights_out = np.round(weights_out * limit).astype(int)
        # Rockpool also rescales the recurrent weights here.
        weights_rec = np.round(weights_rec * limit).astype(int)

    quantised.update(
        weights_in=weights_in,
        weights_rec=weights_rec,
        weights_out=weights_out,
        threshold=threshold,
        threshold_out=threshold_out,
        **_rounded_dashes(spec),
    )
    return {**spec, **quantised}


def channel_quantize(
    spec: dict[str, Any], bits_per_weight: int = 8, bits_per_threshold: int = 16
) -> dict[str, Any]:
    """Quantise a float spec with one scale per target neuron (its input + recurrent weights).

    Reproduces Rockpool 3.1 ``channel_quantize(**spec)``: for hidden neuron j the scale is
    (2^(bits−1) − 1) / max |weights onto j|, applied to those weights and θ_j; readout neuron o
    uses max |weights_out[:, o]| for its weights, θ and bias. A threshold beyond int16 is set to
    the largest value and its weights rescaled from the float values. Rockpool's quirks are
    kept: hidden biases are scaled only when weights have two synapses (otherwise just rounded),
    and are not rescaled with an overflowing threshold; a neuron without weights keeps its
    rounded float threshold.

    spec: a float spec with Rockpool's keys
    returns a copy of ``spec`` with integer weights, thresholds, biases and dashes
    """
    w_in, w_rec = _as_3d(spec["weights_in"]), _as_3d(spec["weights_rec"])
    w_out = np.asarray(spec["weights_out"], dtype=np.float64)
    threshold = np.asarray(spec["threshold"], dtype=np.float64)
    threshold_out = np.asarray(spec["threshold_out"], dtype=np.float64)
    bias = None if spec.get("bias") is None else np.array(spec["bias"], dtype=np.float64)
    bias_out = (
        None if spec.get("bias_out") is None else np.array(spec["bias_out"], dtype=np.float64)
    )
    largest_weight = 2 ** (bits_per_weight - 1) - 1
    largest_threshold = 2 ** (bits_per_threshold - 1) - 1
    n_input_targets, n_syn = w_in.shape[1], w_in.shape[2]

    w_in_q = np.zeros(w_in.shape)
    w_rec_q = np.zeros(w_rec.shape)
    threshold_q = np.zeros(threshold.shape)
    for j in range(w_rec.shape[0]):
        receives_input = j < n_input_targets
        max_w = max(0.0, np.abs(w_rec[:, j]).max())
        if receives_input:
            max_w = max(max_w, np.abs(w_in[:, j]).max())
        if max_w == 0:
            threshold_q[j] = np.round(threshold[j])
            continue
        scale = largest_weight / max_w
        if receives_input:
            w_in_q[:, j] = np.round(w_in[:, j] * scale)
        w_rec_q[:, j] = np.round(w_rec[:, j] * scale)
        threshold_q[j] = np.round(threshold[j] * scale)
        if bias is not None and n_syn > 1:
            bias[j] = np.round(bias[j] * scale)
        if np.abs(threshold_q[j]) > largest_threshold:
            limit = largest_threshold / threshold[j]
            threshold_q[j] = np.round(threshold[j] * limit)
            if receives_input:
                w_in_q[:, j] = np.round(w_in[:, j] * limit)
            w_rec_q[:, j] = np.round(w_rec[:, j] * limit)

    w_out_q = np.zeros(w_out.shape)
    threshold_out_q = np.zeros(threshold_out.shape)
    for o in range(w_out.shape[1]):
        max_w = max(0.0, np.abs(w_out[:, o]).max())
        if max_w == 0:
            threshold_out_q[o] = np.round(threshold_out[o])
            continue
        scale = largest_weight / max_w
        w_out_q[:, o] = np.round(w_out[:, o] * scale)
        threshold_out_q[o] = np.round(threshold_out[o] * scale)
        if bias_out is not None:
            bias_out[o] = np.round(bias_out[o] * scale)
        if np.abs(threshold_out_q[o]) > largest_threshold:
            limit = largest_threshold / threshold_out[o]
            threshold_out_q[o] = np.round(threshold_out[o] * limit)
            w_out_q[:, o] = np.round(w_out[:, o] * limit)

    quantised: dict[str, Any] = {
        "weights_in": w_in_q.astype(int),
        "weights_rec": w_rec_q.astype(int),
        "weights_out": w_out_q.astype(int),
        "threshold": threshold_q.astype(int),
        "threshold_out": threshold_out_q.astype(int),
        **_rounded_dashes(spec),
    }
    if bias is not None:
        quantised["bias"] = np.round(bias).astype(int)
    if bias_out is not None:
        quantised["bias_out"] = np.round(bias_out).astype(int)
    return {**spec, **quantised}


def synnet_specification(
    weights: Sequence[ArrayLike],
    tau_mem: Sequence[ArrayLike],
    tau_syn: Sequence[ArrayLike],
    threshold: Sequence[ArrayLike],
    bias: Sequence[ArrayLike],
    dt: float,
    quantize: str = "global",
    target: str = DEFAULT_TARGET,
) -> dict[str, Any]:
    """Integer Xylo spec of a SynNet: `synnet_float_specification`, then a quantiser.

    Arguments as `synnet_float_specification`; ``quantize`` is ``"global"`` (Rockpool's
    ``global_quantize``, the usual deployment flow) or ``"channel"`` (``channel_quantize``);
    ``target`` picks the mapper's layout (see `synnet_float_specification`).
    The result feeds both `XyloSim.from_specification(**spec)` and Rockpool's
    ``XyloSim.from_specification(**spec)``. Read the module docstring for the pitfalls.
    """
    quantizers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "global": global_quantize,
        "channel": channel_quantize,
    }
    if quantize not in quantizers:
        raise ValueError(f"quantize must be one of {tuple(quantizers)}; got {quantize!r}")
    return quantizers[quantize](
        synnet_float_specification(weights, tau_mem, tau_syn, threshold, bias, dt, target)
    )


def evaluate_on_xylo(
    spec: dict[str, Any],
    events: Tensor | np.ndarray,
    record: bool = False,
    device: torch.device | str | None = None,
    target: str = DEFAULT_TARGET,
) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
    """Build the bit-exact simulator from an integer spec and run a batch through it.

    spec:   integer spec (e.g. from `synnet_specification`)
    events: (B, T, Nin) or (T, Nin) integer input event counts
    device: where to simulate; default: the device of ``events`` (CPU for numpy)
    target: the chip (its design rules are checked, its record keys returned)
    returns (out, state, record) of `XyloSim` for a fresh (zero) state
    """
    if device is None:
        device = events.device if isinstance(events, Tensor) else "cpu"
    simulator = XyloSim.from_specification(**spec, target=target).to(device)
    if isinstance(events, Tensor):
        events = events.to(device)
    return simulator(events, record=record)
