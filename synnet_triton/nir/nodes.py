"""One layer ↔ one NIR node (or, for a multi-synapse LIF, one NIR subgraph).

NIR (https://neuroir.org, Pedersen et al. 2024) describes continuous-time dynamics. A
Rockpool-semantics LIF layer with time step ``dt``,

    isyn_s ← β_s · isyn_s + x_s,    v ← α · v + Σ_s isyn_s + b,
    α = e^{-dt/τ_mem},    β_s = e^{-dt/τ_syn,s}

(then spikes and a subtractive reset), is exported with NIR's field definitions read as the
forward-Euler step of gain 1 — the reading snnTorch's importer checks:

- S = 1: ``CubaLIF(tau_syn, tau_mem, r = τ_mem/dt, v_leak = b·τ_mem/dt, v_threshold,
  w_in = τ_syn/dt)``;
- S > 1: a subgraph ``input → synapse_s (Linear: picks channels n·S + s) → current_s
  (LI(tau = τ_syn[:, s], r = τ_syn[:, s]/dt)) → membrane (LIF(tau_mem, r = τ_mem/dt, v_leak,
  v_threshold)) → output``, the S currents summing at the membrane.

A recurrent layer (``w_rec`` (N, N·S), Rockpool's layout: s_{t−1}·W_rec joins the input at
step t) is a subgraph with a cycle, the form NIR's recurrent examples and Rockpool's importer
use: ``input → lif (CubaLIF) → output`` with ``lif → recurrent (Linear, weight W_recᵀ) → lif``
for S = 1; for S > 1 the recurrent ``Linear`` leaves ``membrane`` and joins the input at every
``synapse_s``. The recurrent input arrives one step late, as in every discrete-time reading
of such a cycle.

What NIR has no field for — ``dt``, the subtractive multi-spike reset and ``max_spikes_per_dt``,
the surrogate and its window, ``noise_std``, the exact bias, which parameters train and their
shapes — goes into ``metadata["synnet_triton"]``, from which :func:`lif_from_node` rebuilds the
layer exactly. A node from another library (no such metadata) needs ``dt`` and is read with
gains of 1, as Rockpool's and snnTorch's importers read theirs.

Linear layers: ``synnet_triton.nn.Linear`` ((in, out) weights, Rockpool's layout) ↔
``nir.Linear`` ((out, in)); ``torch.nn.Linear`` ↔ ``nir.Affine`` (``nir.Linear`` without bias).
"""

from __future__ import annotations

import warnings
from typing import Any

import nir
import numpy as np
import torch
from torch import Tensor, nn

from synnet_triton.nn.lif import LIF
from synnet_triton.nn.linear import Linear

METADATA_KEY = "synnet_triton"
"""The metadata entry holding what NIR has no field for."""

_LIF_PARAMETERS = ("tau_mem", "tau_syn", "threshold", "bias")


def _numpy(tensor: Tensor, n_neurons: int | None = None) -> np.ndarray:
    array = tensor.detach().cpu().numpy().astype(np.float32)
    return np.broadcast_to(array, (n_neurons,)).copy() if n_neurons is not None else array.copy()


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def _shape_of(text: str) -> tuple[int, ...]:
    return tuple(int(d) for d in text.split("x")) if text else ()


def lif_metadata(layer: LIF, *, source: str = "synnet_triton.nn.LIF") -> dict[str, Any]:
    """Everything of ``layer`` NIR has no field for (written as numbers and strings, which
    ``nir.write`` keeps)."""
    trainable = dict(layer.named_parameters(recurse=False))
    return {
        "class": source,
        "dt": float(layer.dt),
        "n_synapses": int(layer.n_synapses),
        "reset": "subtract",
        "max_spikes_per_dt": float(layer.max_spikes_per_dt),
        "surrogate": str(layer.surrogate.value),
        "learning_window": float(layer.learning_window),
        "noise_std": float(layer.noise_std),
        "bias": _numpy(layer.bias, layer.n_neurons),
        "trainable": ",".join(name for name in _LIF_PARAMETERS if name in trainable),
        "shapes": ",".join(
            f"{name}={_shape_text(tuple(getattr(layer, name).shape))}" for name in _LIF_PARAMETERS
        ),
    }


CONVENTIONS = ("nir", "rockpool")
"""How the gain fields ``r``, ``w_in`` and ``v_leak`` are written (see the module docstring)."""


def _gains(tau: Tensor, dt: float, convention: str) -> np.ndarray:
    """``r`` for a time constant: τ/dt (NIR's Euler reading) or Rockpool's exporter's
    τ·e^{-dt/τ}/dt, computed as Rockpool computes it (float32 torch) so that Rockpool's
    importer recovers the time step from it as from its own exports."""
    if convention == "rockpool":
        return _numpy(tau * torch.exp(-dt / tau) / dt)
    return _numpy(tau) / np.float32(dt)


def lif_to_node(
    layer: LIF, *, source: str = "synnet_triton.nn.LIF", convention: str = "nir"
) -> nir.NIRNode:
    """A ``CubaLIF`` node (S = 1) or a per-synapse subgraph (S > 1) for ``layer``.

    ``convention="nir"`` writes NIR's reading (``r = τ_mem/dt``, ``w_in = τ_syn/dt``,
    ``v_leak = b·τ_mem/dt``; snnTorch's importer checks it); ``"rockpool"`` writes what
    Rockpool's exporter writes (``r = τ_mem·e^{-dt/τ_mem}/dt``, ``w_in = 1``) with
    ``v_leak = b``, which Rockpool's importer reads as the bias. Our own importer reads both
    exactly, from the metadata.

    A recurrent layer is the subgraph of the module docstring around either form.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    n, s, dt = layer.n_neurons, layer.n_synapses, float(layer.dt)
    tau_mem_t = layer.tau_mem.detach().cpu().float().expand(n)
    tau_syn_t = layer.tau_syn.detach().cpu().float()
    tau_syn_t = (tau_syn_t.reshape(-1, s) if tau_syn_t.ndim > 0 else tau_syn_t).expand(n, s)
    tau_mem, tau_syn = _numpy(tau_mem_t), _numpy(tau_syn_t)
    threshold = _numpy(layer.threshold, n)
    bias = _numpy(layer.bias, n)
    r_mem = _gains(tau_mem_t, dt, convention)
    v_leak = bias if convention == "rockpool" else bias * tau_mem / np.float32(dt)
    metadata = {METADATA_KEY: {**lif_metadata(layer, source=source), "convention": convention}}
    recurrent = None if layer.w_rec is None else nir.Linear(weight=_numpy(layer.w_rec).T.copy())
    if s == 1:
        w_in = (np.ones(n, dtype=np.float32) if convention == "rockpool"
                else tau_syn[:, 0] / np.float32(dt))
        cuba = nir.CubaLIF(
            tau_syn=tau_syn[:, 0].copy(), tau_mem=tau_mem, r=r_mem, v_leak=v_leak,
            v_threshold=threshold, w_in=w_in, metadata=metadata,
        )
        if recurrent is None:
            return cuba
        return nir.NIRGraph(
            nodes={"input": nir.Input(input_type=np.array([n])), "lif": cuba,
                   "recurrent": recurrent, "output": nir.Output(output_type=np.array([n]))},
            edges=[("input", "lif"), ("lif", "recurrent"), ("recurrent", "lif"),
                   ("lif", "output")],
            metadata=metadata,
        )
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array([n * s]))}
    edges = []
    for synapse in range(s):
        selection = np.zeros((n, n * s), dtype=np.float32)
        selection[np.arange(n), np.arange(n) * s + synapse] = 1.0
        nodes[f"synapse_{synapse}"] = nir.Linear(weight=selection)
        nodes[f"current_{synapse}"] = nir.LI(
            tau=tau_syn[:, synapse].copy(), r=_gains(tau_syn_t[:, synapse], dt, convention),
            v_leak=np.zeros(n, dtype=np.float32),
        )
        edges += [("input", f"synapse_{synapse}"), (f"synapse_{synapse}", f"current_{synapse}"),
                  (f"current_{synapse}", "membrane")]
    nodes["membrane"] = nir.LIF(tau=tau_mem, r=r_mem, v_leak=v_leak, v_threshold=threshold)
    nodes["output"] = nir.Output(output_type=np.array([n]))
    edges.append(("membrane", "output"))
    if recurrent is not None:
        nodes["recurrent"] = recurrent
        edges += [("membrane", "recurrent")] + [
            ("recurrent", f"synapse_{synapse}") for synapse in range(s)]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def recurrent_cycle(graph: nir.NIRGraph) -> tuple[str, str] | None:
    """(the CubaLIF's name, the recurrent Linear/Affine's name) when ``graph`` is one
    recurrent CubaLIF in NIR's form: input, output, a CubaLIF and one Linear or Affine that
    takes the CubaLIF's output back to its input; None otherwise."""
    kinds: dict[type, list[str]] = {}
    for name, node in graph.nodes.items():
        kinds.setdefault(type(node), []).append(name)
    cubas = kinds.get(nir.CubaLIF, [])
    weights = kinds.get(nir.Linear, []) + kinds.get(nir.Affine, [])
    if len(graph.nodes) != 4 or len(cubas) != 1 or len(weights) != 1 \
            or len(kinds.get(nir.Input, [])) != 1 or len(kinds.get(nir.Output, [])) != 1:
        return None
    cycle = {(cubas[0], weights[0]), (weights[0], cubas[0])}
    return (cubas[0], weights[0]) if cycle <= set(map(tuple, graph.edges)) else None


def is_lif_node(node: nir.NIRNode) -> bool:
    """A ``CubaLIF`` node, a subgraph :func:`lif_to_node` wrote, or a recurrent CubaLIF in
    NIR's form (:func:`recurrent_cycle`)."""
    if isinstance(node, nir.CubaLIF):
        return True
    if not isinstance(node, nir.NIRGraph):
        return False
    return ("membrane" in node.nodes and METADATA_KEY in node.metadata) or \
        recurrent_cycle(node) is not None


def lif_from_node(
    node: nir.NIRNode, *, dt: float | None = None, backend: str = "auto"
) -> tuple[LIF, str]:
    """The LIF layer of a node :func:`is_lif_node` accepts, and the class name it was exported
    from (``"synnet_triton.nn.LIF"`` for foreign nodes).

    Args:
        node: a ``CubaLIF`` or a multi-synapse subgraph.
        dt: time step for a node without our metadata (required then); ignored otherwise.
        backend: LIF backend of the new layer.
    """
    w_rec = None
    if isinstance(node, nir.NIRGraph) and "membrane" not in node.nodes:
        # a recurrent CubaLIF: the cell and its recurrent weights
        cuba_name, weights_name = recurrent_cycle(node)  # type: ignore[misc]
        w_rec = _recurrent_weights(node.nodes[weights_name])
        node = node.nodes[cuba_name]  # which carries our metadata when we wrote it
    elif isinstance(node, nir.NIRGraph) and "recurrent" in node.nodes:
        w_rec = _recurrent_weights(node.nodes["recurrent"])
    metadata = node.metadata.get(METADATA_KEY)
    if isinstance(node, nir.CubaLIF):
        tau_mem, threshold = node.tau_mem, node.v_threshold
        tau_syn = np.asarray(node.tau_syn).reshape(-1, 1)
        v_leak, gains = node.v_leak, {"r": (node.r, tau_mem), "w_in": (node.w_in, node.tau_syn)}
    else:
        membrane = node.nodes["membrane"]
        n_synapses = int(metadata["n_synapses"])
        tau_mem, threshold, v_leak = membrane.tau, membrane.v_threshold, membrane.v_leak
        tau_syn = np.stack([node.nodes[f"current_{s}"].tau for s in range(n_synapses)], axis=1)
        gains = {"r": (membrane.r, tau_mem)}
    n_neurons = int(np.asarray(threshold).size)
    if metadata is None:
        v_reset = np.asarray(getattr(node, "v_reset", 0.0))
        if np.any(v_reset != 0):
            raise ValueError(
                f"NIR node field v_reset: {v_reset.ravel()[:4].tolist()}: a reset to a value "
                "other than 0 has no counterpart here (the LIF subtracts the threshold)")
        if dt is None:
            raise ValueError(
                "dt: this NIR node has no synnet_triton metadata, so its time step is unknown; "
                "pass dt="
            )
        for name, (gain, tau) in gains.items():
            if not np.allclose(gain, np.asarray(tau) / dt, rtol=1e-3):
                warnings.warn(
                    f"NIR node field {name} is not tau/dt (a gain of 1 at dt={dt}); it is read "
                    f"as a gain of 1, as Rockpool's and snnTorch's importers read it",
                    stacklevel=3,
                )

        def vector(values: Any) -> Tensor:
            return torch.tensor(np.asarray(values, dtype=np.float32).reshape(n_neurons))

        layer = LIF(
            n_neurons, tau_syn.shape[1], dt=dt, backend=backend,
            tau_mem=vector(tau_mem), threshold=vector(threshold),
            tau_syn=torch.tensor(np.asarray(tau_syn, dtype=np.float32)),
            bias=vector(np.asarray(v_leak) * dt / np.asarray(tau_mem)),
            has_rec=w_rec is not None, w_rec=w_rec,
        )
        return layer, "synnet_triton.nn.LIF"

    shapes = dict(item.split("=") for item in str(metadata["shapes"]).split(","))
    trainable = set(filter(None, str(metadata["trainable"]).split(",")))
    arrays = {"tau_mem": tau_mem, "tau_syn": tau_syn, "threshold": threshold,
              "bias": metadata["bias"]}
    value = {name: _restore_shape(np.asarray(arrays[name]), _shape_of(shapes[name]))
             for name in _LIF_PARAMETERS}
    layer = LIF(
        n_neurons, tau_syn.shape[1], dt=float(metadata["dt"]),
        tau_mem=value["tau_mem"], tau_syn=value["tau_syn"], threshold=value["threshold"],
        bias=value["bias"], train_tau_mem="tau_mem" in trainable,
        train_tau_syn="tau_syn" in trainable, train_threshold="threshold" in trainable,
        train_bias="bias" in trainable, surrogate=str(metadata["surrogate"]),
        learning_window=float(metadata["learning_window"]),
        max_spikes_per_dt=float(metadata["max_spikes_per_dt"]),
        noise_std=float(metadata["noise_std"]), backend=backend,
        has_rec=w_rec is not None, w_rec=w_rec,
    )
    return layer, str(metadata["class"])


def _recurrent_weights(node: nir.NIRNode) -> Tensor:
    """W_rec (N, N·S) from the recurrent ``Linear`` (or bias-free ``Affine``) of a cycle."""
    if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
        raise ValueError("the recurrent Affine has a non-zero bias, which a recurrent LIF "
                         "layer has no counterpart for (a constant input belongs to bias)")
    if not isinstance(node, (nir.Linear, nir.Affine)):
        raise ValueError(f"the recurrent node is a {type(node).__name__}, not a Linear")
    return torch.from_numpy(np.asarray(node.weight, dtype=np.float32).T.copy())


def _restore_shape(values: np.ndarray, shape: tuple[int, ...]) -> Tensor:
    """The exported (N,) or (N, S) array back in the parameter's own shape: a shared value
    ((), (1, S)) is the first row, every copy of it being equal."""
    array = np.asarray(values, dtype=np.float32)
    if int(np.prod(shape)) == array.size:
        return torch.from_numpy(array.reshape(shape).copy())
    return torch.from_numpy(array.reshape(array.shape[0], -1)[0].reshape(shape).copy())


def linear_to_node(layer: nn.Module) -> nir.NIRNode:
    """``nir.Linear`` for our ``Linear``, ``nir.Affine``/``nir.Linear`` for ``torch.nn.Linear``."""
    if isinstance(layer, Linear):
        return nir.Linear(weight=_numpy(layer.weight).T.copy())
    if isinstance(layer, nn.Linear):
        weight = _numpy(layer.weight)
        if layer.bias is None:
            return nir.Linear(weight=weight)
        return nir.Affine(weight=weight, bias=_numpy(layer.bias))
    raise TypeError(f"not a linear layer: {type(layer).__name__}")


def linear_from_node(node: nir.Linear | nir.Affine) -> nn.Module:
    """Our ``Linear`` for ``nir.Linear`` (no bias), ``torch.nn.Linear`` for ``nir.Affine``."""
    weight = torch.from_numpy(np.asarray(node.weight, dtype=np.float32).copy())
    out_features, in_features = weight.shape
    if isinstance(node, nir.Affine):
        affine = nn.Linear(in_features, out_features)
        with torch.no_grad():
            affine.weight.copy_(weight)
            affine.bias.copy_(torch.from_numpy(np.asarray(node.bias, dtype=np.float32)))
        return affine
    with torch.random.fork_rng(devices=[]):
        linear = Linear(in_features, out_features)
    with torch.no_grad():
        linear.weight.copy_(weight.T)
    return linear
