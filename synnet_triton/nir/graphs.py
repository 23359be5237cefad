"""``to_nir`` / ``from_nir``: whole modules ↔ NIR graphs.

Exported: a :class:`synnet_triton.nn.LIF`, a Rockpool-API ``LIFTriton``, a linear layer, an
``nn.Sequential`` of these, the torch-native :class:`synnet_triton.nn.SynNet` and the drop-in
:class:`synnet_triton.rockpool.SynNet`. A SynNet is the chain ``input → 0_linear → 0_neurons →
... → out_linear → out_neurons → output`` (its dropout layers are the identity at inference and
leave no node; ``p_dropout`` and ``output`` are kept in the graph's metadata). Each node is
described in :mod:`synnet_triton.nir.nodes`. A ``HardwareSynNet`` is its SynNet's graph with the
chip's integer spec (bit-shift decays, integer weights and thresholds, shifts) and its
quantisation settings in the graph's metadata. ``from_nir`` gives back the class that was
exported (the same spikes and gradients), and reads chains of ``Linear``/``Affine``/``CubaLIF``
nodes from other libraries as an ``nn.Sequential``.
"""

from __future__ import annotations

import os
from typing import Any

import nir
import numpy as np
import torch
from torch import nn

from synnet_triton.nir.nodes import (
    METADATA_KEY,
    is_lif_node,
    lif_from_node,
    lif_to_node,
    linear_from_node,
    linear_to_node,
    recurrent_cycle,
)
from synnet_triton.nn.lif import LIF
from synnet_triton.nn.linear import Linear
from synnet_triton.nn.synnet import SynNet
from synnet_triton.nn.synnet_conventions import synnet_skeleton

_DROP_IN_SYNNET = "synnet_triton.rockpool.SynNet"
_HARDWARE = "synnet_triton.hardware.HardwareSynNet"
_CHIP_PREFIX = "xylo_"
"""Graph metadata keys of a HardwareSynNet's integer spec: ``xylo_dash_mem`` (the bit-shift
decays), ``xylo_weights_in``, ... (NIR has no field for them)."""
_LIF_TRITON = "synnet_triton.rockpool.LIFTriton"


def to_nir(module: nn.Module, *, convention: str = "nir") -> nir.NIRGraph:
    """A NIR graph of ``module``.

    Args:
        module: ``LIF``, ``LIFTriton``, ``Linear``/``torch.nn.Linear``, an ``nn.Sequential`` of
            these (``TimeStepDropout`` is skipped), either SynNet, or a ``HardwareSynNet``.
        convention: how LIF gains are written: ``"nir"`` (NIR's definitions; snnTorch's and
            Norse's importers) or ``"rockpool"`` (what Rockpool's exporter writes, so that
            Rockpool's ``from_nir`` reads it as its own); see :mod:`synnet_triton.nir.nodes`.

    Returns:
        a graph with an ``input`` and an ``output`` node; write it with ``nir.write``.

    Raises:
        TypeError: a module (or a submodule) that has no NIR form here, named.
    """
    from synnet_triton.hardware.network import HardwareSynNet

    if isinstance(module, HardwareSynNet):
        return _hardware_graph(module, convention)
    kind = _kind(module)
    if kind == _DROP_IN_SYNNET:
        from synnet_triton.rockpool.conversion import synnet_from_rockpool

        return _synnet_graph(synnet_from_rockpool(module), _DROP_IN_SYNNET, convention)
    if isinstance(module, SynNet):
        return _synnet_graph(module, "synnet_triton.nn.SynNet", convention)
    if isinstance(module, nn.Sequential):
        named = [(name, child) for name, child in module.named_children()
                 if not _is_dropout(child)]
        return _chain([(name, _node(child, name, convention)) for name, child in named],
                      metadata={})
    return _chain([("layer", _node(module, type(module).__name__, convention))], metadata={})


def from_nir(
    graph: nir.NIRGraph | str | os.PathLike[str], *, dt: float | None = None,
    backend: str = "auto",
) -> nn.Module:
    """The module ``graph`` describes (a path is read with ``nir.read``).

    Args:
        graph: a graph :func:`to_nir` wrote, or a chain of ``Linear``/``Affine``/``CubaLIF``
            nodes from another library, whose LIF nodes may be recurrent CubaLIF subgraphs
            (:func:`synnet_triton.nir.nodes.recurrent_cycle`); such a subgraph alone is read
            as its layer.
        dt: time step for LIF nodes without our metadata (required when there are any).
        backend: LIF backend of the new layers.

    Returns:
        the class that was exported (a one-layer graph gives that layer), or an
        ``nn.Sequential`` for a foreign chain.

    Raises:
        ValueError: the file cannot be read as NIR (naming it); the graph is not a chain from
            ``input`` to ``output``; ``dt`` is missing; a node holds NaN or infinite values or
            a ``v_reset`` other than 0 (naming the node and the field).
        TypeError: a node type with no counterpart here, named.
    """
    if not isinstance(graph, nir.NIRGraph):
        graph = _read(graph)
    if recurrent_cycle(graph) is not None:
        # the whole graph is one recurrent CubaLIF in NIR's flat form
        _check_finite("graph", graph)
        layer, source = lif_from_node(graph, dt=dt, backend=backend)
        return _as_exported(layer, source)
    names = _chain_order(graph)
    layers: list[tuple[str, nn.Module, str]] = []
    for name in names:
        node = graph.nodes[name]
        _check_finite(name, node)
        if is_lif_node(node):
            try:
                layer, source = lif_from_node(node, dt=dt, backend=backend)
            except ValueError as error:
                raise ValueError(f"NIR node {name!r}: {error}") from None
            layers.append((name, layer, source))
        elif isinstance(node, (nir.Linear, nir.Affine)):
            layers.append((name, linear_from_node(node), "linear"))
        else:
            raise TypeError(f"NIR node {name!r} is a {type(node).__name__}, which has no "
                            f"counterpart in synnet_triton (LIF, Linear, Affine)")
    synnet = graph.metadata.get(METADATA_KEY)
    if synnet is not None and str(synnet.get("class", "")) == _HARDWARE:
        return _hardware_from_layers(synnet, layers, backend)
    if synnet is not None and str(synnet.get("class", "")).endswith("SynNet"):
        return _synnet_from_layers(synnet, layers, backend)
    if len(layers) == 1:
        return _as_exported(layers[0][1], layers[0][2])
    return nn.Sequential(*[_as_exported(layer, source) for _, layer, source in layers])


def _read(path: str | os.PathLike[str]) -> nir.NIRGraph:
    """``nir.read``, its failures on a damaged or foreign file (h5py's OSError, a KeyError
    for a missing field, an AssertionError for an unknown node type) as one ValueError."""
    try:
        return nir.read(path)
    except (OSError, KeyError, AssertionError, ValueError, TypeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(f"{os.fspath(path)}: not a readable NIR graph "
                         f"({type(error).__name__}{': ' + reason if reason else ''})") from None


def _check_finite(name: str, node: nir.NIRNode) -> None:
    """ValueError naming the node and the field that holds NaN or an infinity."""
    if isinstance(node, nir.NIRGraph):
        for inner, child in node.nodes.items():
            _check_finite(f"{name}.{inner}", child)
        return
    for field, value in vars(node).items():
        if field in ("input_type", "output_type", "metadata"):
            continue
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if not np.isfinite(array).all():
            raise ValueError(f"NIR node {name!r}: {field} holds NaN or infinite values")


def _kind(module: nn.Module) -> str:
    cls = type(module)
    for base in cls.__mro__:
        if f"{base.__module__}.{base.__qualname__}" == "synnet_triton.rockpool.synnet.SynNet":
            return _DROP_IN_SYNNET
        if f"{base.__module__}.{base.__qualname__}" == "synnet_triton.rockpool.lif.LIFTriton":
            return _LIF_TRITON
    return ""


def _is_dropout(module: nn.Module) -> bool:
    return type(module).__name__ == "TimeStepDropout"


def _node(module: nn.Module, name: str, convention: str) -> nir.NIRNode:
    if _kind(module) == _LIF_TRITON:
        from synnet_triton.rockpool.conversion import lif_from_rockpool

        return lif_to_node(lif_from_rockpool(module, "auto"), source=_LIF_TRITON,
                           convention=convention)
    if isinstance(module, LIF):
        return lif_to_node(module, convention=convention)
    if isinstance(module, (Linear, nn.Linear)):
        return linear_to_node(module)
    raise TypeError(f"module {name!r} is a {type(module).__name__}, which has no NIR export "
                    f"(LIF, LIFTriton, Linear, torch.nn.Linear, SynNet)")


def _width(node: nir.NIRNode, side: str) -> int:
    if isinstance(node, (nir.Linear, nir.Affine)):
        return int(np.asarray(node.weight).shape[1 if side == "in" else 0])
    if isinstance(node, nir.NIRGraph):
        key = "input" if side == "in" else "output"
        types = node.nodes[key].input_type if side == "in" else node.nodes[key].output_type
        return int(np.asarray(next(iter(types.values()))).prod())
    return int(np.asarray(node.v_threshold).size)


def _chain(nodes: list[tuple[str, nir.NIRNode]], metadata: dict[str, Any]) -> nir.NIRGraph:
    if not nodes:
        raise TypeError("module: nothing to export (an empty Sequential)")
    names = [name for name, _ in nodes]
    graph_nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type=np.array([_width(nodes[0][1], "in")])),
        **dict(nodes),
        "output": nir.Output(output_type=np.array([_width(nodes[-1][1], "out")])),
    }
    path = ["input", *names, "output"]
    return nir.NIRGraph(nodes=graph_nodes, edges=list(zip(path, path[1:], strict=False)),
                        metadata=metadata)


def _chain_order(graph: nir.NIRGraph) -> list[str]:
    """The node names from ``input`` to ``output``, which must form a single chain."""
    successors: dict[str, list[str]] = {}
    for source, target in graph.edges:
        successors.setdefault(source, []).append(target)
    inputs = [name for name, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(f"graph must have one Input node, got {len(inputs)}")
    order, current = [], inputs[0]
    while True:
        following = successors.get(current, [])
        if len(following) != 1:
            raise ValueError(f"graph is not a chain: node {current!r} feeds {following}")
        current = following[0]
        if isinstance(graph.nodes[current], nir.Output):
            break
        if current in order:
            raise ValueError(f"graph is not a chain: node {current!r} is reached twice")
        order.append(current)
    return order


def _synnet_graph(net: SynNet, source: str, convention: str) -> nir.NIRGraph:
    nodes = [(name, _node(child, name, convention)) for name, child in net.seq.named_children()
             if not _is_dropout(child)]
    metadata = {METADATA_KEY: {
        "class": source, "output": net.output, "p_dropout": float(net.p_dropout),
        "dt": float(net.dt), "training": int(net.training),
    }}
    return _chain(nodes, metadata)


def _chip_spec(module: Any) -> dict[str, Any]:
    """The integer spec of a HardwareSynNet (its chip's numbers), as NIR metadata values."""
    _, spec = module.integer_values()
    # arrays as arrays, numbers as numbers: nir.write cannot store a 0-d array
    return {f"{_CHIP_PREFIX}{key}": np.asarray(value) if np.ndim(value) else value
            for key, value in spec.items() if key not in ("aliases", "dt")}


def _hardware_graph(module: Any, convention: str) -> nir.NIRGraph:
    """A HardwareSynNet: its SynNet's graph, and in the graph's metadata how it is quantised,
    for which chip, and the integer spec that gives (bit-shift decays, integer weights,
    thresholds), which NIR has no fields for."""
    graph = _synnet_graph(module.synnet, _HARDWARE, convention)
    graph.metadata[METADATA_KEY].update({
        "quantize": module.quantize, "target": module.target, "window": float(module.window),
        "checkpoint_every": int(module.checkpoint_every or 0), **_chip_spec(module),
    })
    return graph


def _hardware_from_layers(metadata: dict[str, Any], layers: list[tuple[str, nn.Module, str]],
                          backend: str) -> nn.Module:
    """The HardwareSynNet of a graph :func:`_hardware_graph` wrote; ValueError naming the
    first number of the chip's spec that its quantisation here does not give again."""
    from synnet_triton.hardware.network import HardwareSynNet

    net = _synnet_from_layers({**metadata, "class": "synnet_triton.nn.SynNet"}, layers, backend)
    assert isinstance(net, SynNet)
    hardware = HardwareSynNet(net, str(metadata["quantize"]), str(metadata["target"]),
                              window=float(metadata["window"]), backend=backend,
                              checkpoint_every=int(metadata["checkpoint_every"]) or None)
    for key, value in _chip_spec(hardware).items():
        recorded = np.asarray(metadata.get(key))
        if recorded.shape != np.shape(value) or not np.array_equal(recorded, value):
            raise ValueError(f"NIR graph metadata {key}: the recorded chip values differ from "
                             f"those its SynNet quantises to here ({METADATA_KEY} metadata "
                             "changed, or another quantiser wrote it)")
    return hardware


def _synnet_from_layers(metadata: dict[str, Any], layers: list[tuple[str, nn.Module, str]],
                        backend: str) -> nn.Module:
    neurons = [(name, layer) for name, layer, _ in layers if isinstance(layer, LIF)]
    linears = [layer for _, layer, _ in layers if isinstance(layer, Linear)]
    if len(neurons) != len(linears) or len(neurons) < 2:
        raise ValueError("graph metadata says SynNet, but its nodes are not SynNet's chain")
    sizes = [layer.n_neurons for _, layer in neurons]
    dt = float(metadata["dt"])
    net = synnet_skeleton(SynNet, sizes, linears[0].in_features, dt, str(metadata["output"]),
                          float(metadata["p_dropout"]), backend=backend)
    with torch.no_grad():
        for ours, linear in zip(net.linear_layers(), linears, strict=True):
            ours.weight.copy_(linear.weight)
    for name, layer in neurons:
        setattr(net.seq, name, layer)
    net.train(bool(metadata["training"]))
    if str(metadata["class"]) == _DROP_IN_SYNNET:
        from synnet_triton.rockpool.conversion import synnet_to_rockpool
        from synnet_triton.rockpool.synnet import SynNet as DropInSynNet

        return DropInSynNet.from_rockpool(synnet_to_rockpool(net), backend=backend)
    return net


def _as_exported(layer: nn.Module, source: str) -> nn.Module:
    if source == _LIF_TRITON:
        from synnet_triton.rockpool.conversion import lif_to_rockpool
        from synnet_triton.rockpool.lif import LIFTriton, copy_lif

        assert isinstance(layer, LIF)
        return copy_lif(lif_to_rockpool(layer), LIFTriton, backend=layer.backend)
    return layer
