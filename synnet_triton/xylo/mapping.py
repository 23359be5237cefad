"""SynNet → Xylo specification: Rockpool's mapper, then its post-training quantisers.

`synnet_float_specification` lays a feed-forward SynNet (linear → LIF layers, the last LIF
layer being the readout) out on Xylo's hidden and output neurons exactly as Rockpool 3.1's
`rockpool.devices.xylo.syns61201.mapper(net.as_graph())` does; the quantisers
(:mod:`synnet_triton.xylo.quantize`) reproduce `rockpool.transform.quantize_methods`, so the
integer spec equals Rockpool's value for value. `synnet_specification` chains the two;
`evaluate_on_xylo` builds the bit-exact simulator and runs a batch.

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

from synnet_triton.xylo.quantize import channel_quantize, global_quantize
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
    _check_finite(name, array)
    return array.astype(np.float32)


def _check_finite(name: str, array: np.ndarray) -> None:
    """ValueError naming the non-finite values (NaN would otherwise reach the chip as the
    integer −2^63, reported as an out-of-range weight)."""
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        first = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"{name} holds {len(bad)} non-finite value(s), first {array[first]} at "
            f"{list(first)}: the network's parameters are not finite (did training diverge?)")


def _float64(name: str, value: Any, keep_graph: bool) -> Any:
    """``value`` rounded to float32 (Rockpool's graph holds float32 arrays), then as float64:
    a numpy array, or with ``keep_graph`` a torch tensor on ``value``'s device keeping its
    autograd graph (copied to the host only to name a non-finite value)."""
    if keep_graph and isinstance(value, Tensor):
        if value.is_complex() or value.dtype == torch.bool:
            raise TypeError(f"{name} must be a real array; got dtype {value.dtype}")
        converted = value.float().double()
        if not bool(torch.isfinite(converted).all()):
            _check_finite(name, converted.detach().cpu().numpy())
        return converted
    array = _float32(name, value).astype(np.float64)
    return torch.from_numpy(array) if keep_graph else array


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
    *,
    keep_graph: bool = False,
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
        With ``keep_graph`` the weights, thresholds and biases are float64 torch tensors on
        the given tensors' device that keep their autograd graph (for hardware-exact
        training); the values are the same.

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
        w = _float64(f"weights[{k}]", weights[k], keep_graph)
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
                "weights": w.reshape(w.shape[0], n_neurons, n_syn),
                "dash_mem": _dash(f"tau_mem[{k}]", taus_mem, dt),
                "dash_syn": _dash(f"tau_syn[{k}]", taus_syn, dt),
                "threshold": _float64(f"threshold[{k}]", threshold[k], keep_graph).reshape(-1),
                "bias": _float64(f"bias[{k}]", bias[k], keep_graph).reshape(-1),
            }
        )
        n_sources = n_neurons

    hidden, readout = layers[:-1], layers[-1]
    n_hidden = sum(layer["dash_mem"].shape[0] for layer in hidden)
    n_out = readout["dash_mem"].shape[0]
    n_syn = max(layer["dash_syn"].shape[1] for layer in hidden)
    n_in = hidden[0]["weights"].shape[0]

    device = hidden[0]["weights"].device if keep_graph else None

    def zeros(*shape: int) -> Any:
        return torch.zeros(shape, dtype=torch.float64, device=device) if keep_graph \
            else np.zeros(shape)

    weights_in = zeros(n_in, n_hidden, n_syn)
    weights_rec = zeros(n_hidden, n_hidden, n_syn)
    weights_out = zeros(n_hidden, n_out)
    per_neuron = {name: zeros(n_hidden) for name in ("threshold", "bias")}
    per_neuron["dash_mem"] = np.zeros(n_hidden)
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
        "threshold_out": readout["threshold"],
        "bias": per_neuron["bias"],
        "bias_out": readout["bias"],
        "weight_shift_in": 0,
        "weight_shift_rec": 0,
        "weight_shift_out": 0,
        "aliases": [[] for _ in range(n_hidden)],
        "dt": float(dt),
    }


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
