"""NIR import refuses what it cannot represent, naming the node and the field, and answers
a damaged or foreign file with one ValueError naming the file: a foreign ``CubaLIF`` that
resets to a value other than 0 (the LIF here subtracts the threshold), NaN or infinite
parameters anywhere in the chain, a file that is not NIR, a node type the reader does not
know. (Each of these loaded, ran silently or raised h5py's errors before, #28.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

nir = pytest.importorskip("nir")
h5py = pytest.importorskip("h5py")

from synnet_triton.nir import from_nir, to_nir  # noqa: E402
from synnet_triton.nn.linear import Linear  # noqa: E402


def _full(value: float, n: int = 3) -> Any:
    return np.full(n, value, dtype=np.float32)


def _chain(**changes: Any) -> Any:
    """input → linear (2→3) → CubaLIF (3) → output, with ``changes`` to the LIF's fields."""
    fields = dict(tau_syn=_full(0.01), tau_mem=_full(0.02), r=_full(20.0), v_leak=_full(0.0),
                  v_threshold=_full(1.0), w_in=_full(10.0))
    fields.update(changes)
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([2])),
               "fc": nir.Linear(weight=np.ones((3, 2), dtype=np.float32)),
               "lif": nir.CubaLIF(**fields),
               "output": nir.Output(output_type=np.array([3]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
    )


def test_the_chain_itself_loads() -> None:
    assert len(from_nir(_chain(), dt=1e-3, backend="torch")) == 2


def test_a_reset_to_another_value_is_refused_by_node_and_field() -> None:
    with pytest.raises(ValueError, match=r"NIR node 'lif': NIR node field v_reset: \[0\.5"):
        from_nir(_chain(v_reset=_full(0.5)), dt=1e-3, backend="torch")


@pytest.mark.parametrize("field", ["tau_mem", "v_threshold", "w_in"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_lif_fields_are_refused_by_node_and_field(field: str, bad: float) -> None:
    values = _full(1.0)
    values[1] = bad
    with pytest.raises(ValueError, match=f"NIR node 'lif': {field} holds NaN or infinite"):
        from_nir(_chain(**{field: values}), dt=1e-3, backend="torch")


def test_a_non_finite_weight_is_refused_by_node_and_field() -> None:
    graph = _chain()
    graph.nodes["fc"].weight[2, 1] = np.nan
    with pytest.raises(ValueError, match="NIR node 'fc': weight holds NaN"):
        from_nir(graph, dt=1e-3, backend="torch")


def test_non_finite_values_inside_our_own_subgraphs_are_found(tmp_path: Path) -> None:
    graph = to_nir(Linear(2, 3))
    name = next(k for k, v in graph.nodes.items() if isinstance(v, nir.Linear))
    graph.nodes[name].weight[0, 0] = np.inf
    with pytest.raises(ValueError, match=f"NIR node '{name}': weight"):
        from_nir(graph, backend="torch")


def test_a_file_that_is_not_nir_is_one_value_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "model.nir"
    path.write_bytes(b"this is not HDF5\n")
    with pytest.raises(ValueError, match=f"{path}: not a readable NIR graph"):
        from_nir(path, dt=1e-3)


def test_an_unknown_node_type_in_a_file_is_one_value_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "model.nir"
    nir.write(path, _chain())
    with h5py.File(path, "r+") as handle:
        node = handle["node"]["nodes"]["lif"]
        del node["type"]
        node.create_dataset("type", data=np.bytes_("MysteryNeuron"))
    with pytest.raises(ValueError, match=f"{path}: not a readable NIR graph"):
        from_nir(path, dt=1e-3)
