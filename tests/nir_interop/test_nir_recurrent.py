"""Recurrent LIF layers through NIR: our export and import, Rockpool's importer on our export,
and graphs written by hand in NIR's documented recurrent form (a cycle CubaLIF → Linear →
CubaLIF)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from bits import bitwise_equal

nir = pytest.importorskip("nir")

from synnet_triton.nir import from_nir, to_nir  # noqa: E402
from synnet_triton.nn.lif import LIF  # noqa: E402
from synnet_triton.nn.linear import Linear  # noqa: E402

N = 6


def recurrent_lif(n_synapses: int, seed: int, **options: Any) -> LIF:
    g = torch.Generator().manual_seed(seed)
    settings: dict[str, Any] = dict(
        tau_mem=torch.rand(N, generator=g) * 0.02 + 0.004,
        tau_syn=torch.rand(N, n_synapses, generator=g) * 0.01 + 0.002,
        threshold=torch.rand(N, generator=g) + 0.5, bias=torch.rand(N, generator=g) * 0.1,
        max_spikes_per_dt=3.0, surrogate="step_pwl", learning_window=0.3, dt=5e-4,
        backend="torch",
    )
    settings.update(options)
    return LIF(N, n_synapses, has_rec=True,
               w_rec=torch.randn(N, N * n_synapses, generator=g) * 0.6, **settings)


def spikes_and_gradients(layer: torch.nn.Module, x: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    leaf = x.clone().requires_grad_()
    out = layer(leaf)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(3))
    (out * weights).sum().backward()
    return out.detach(), leaf.grad, {k: p.grad for k, p in layer.named_parameters()}


@pytest.mark.parametrize("n_synapses", [1, 2])
@pytest.mark.parametrize("convention", ["nir", "rockpool"])
def test_recurrent_round_trip_is_exact_in_spikes_and_gradients(n_synapses, convention,
                                                                 tmp_path: Path):
    layer = recurrent_lif(n_synapses, seed=n_synapses)
    path = tmp_path / "recurrent.nir"
    nir.write(str(path), to_nir(layer, convention=convention))
    back = from_nir(path)
    assert isinstance(back, LIF) and bitwise_equal(back.w_rec, layer.w_rec)
    assert (back.max_spikes_per_dt, back.surrogate, back.learning_window, back.dt) == (
        layer.max_spikes_per_dt, layer.surrogate, layer.learning_window, layer.dt)
    x = torch.rand(2, 80, N * n_synapses, generator=torch.Generator().manual_seed(1)) * 1.5
    ours, theirs = spikes_and_gradients(layer, x), spikes_and_gradients(back, x)
    assert ours[0].sum() > 0
    # the recurrence matters here: the same layer without it spikes differently
    plain = LIF(N, n_synapses, tau_mem=layer.tau_mem, tau_syn=layer.tau_syn,
                threshold=layer.threshold, bias=layer.bias, max_spikes_per_dt=3.0,
                dt=layer.dt, backend="torch")
    assert not torch.equal(plain(x), ours[0])
    assert bitwise_equal(ours[0], theirs[0]) and bitwise_equal(ours[1], theirs[1])
    assert sorted(ours[2]) == sorted(theirs[2])
    for name, grad in ours[2].items():
        assert bitwise_equal(grad, theirs[2][name]), name


def test_the_export_is_nirs_recurrent_form():
    """S = 1: input → lif → output with the cycle lif → recurrent → lif, the recurrent
    Linear's weight (out, in) = W_recᵀ; S = 2: the recurrent Linear leaves the membrane and
    joins the input of every synapse."""
    layer = recurrent_lif(1, seed=5)
    node = to_nir(layer).nodes["layer"]
    assert sorted(type(n).__name__ for n in node.nodes.values()) == [
        "CubaLIF", "Input", "Linear", "Output"]
    assert {("lif", "recurrent"), ("recurrent", "lif")} <= set(map(tuple, node.edges))
    assert np.array_equal(node.nodes["recurrent"].weight, layer.w_rec.detach().numpy().T)
    two = to_nir(recurrent_lif(2, seed=6)).nodes["layer"]
    assert {("membrane", "recurrent"), ("recurrent", "synapse_0"),
            ("recurrent", "synapse_1")} <= set(map(tuple, two.edges))
    assert two.nodes["recurrent"].weight.shape == (2 * N, N)


def test_rockpools_importer_builds_from_our_export_a_layer_with_our_spikes():
    """Rockpool's ``from_nir`` turns our recurrent subgraph into ``LIFTorch(has_rec=True)``
    with our parameters and W_rec. Its importer recovers dt as min τ/(1 + r), which is not
    the dt its own exporter (whose r we write) started from; at the dt it recovers, its
    layer's spikes are ours."""
    from rockpool.nn.modules import LIFTorch
    from rockpool.nn.modules import from_nir as rockpool_from_nir

    layer = recurrent_lif(1, seed=7, bias=0.0, max_spikes_per_dt=2.0**16,
                          surrogate="periodic_exponential", learning_window=0.5, dt=1e-3)
    imported = rockpool_from_nir(to_nir(layer, convention="rockpool"))
    (cell,) = [m for m in imported.modules() if isinstance(m, LIFTorch)]
    assert cell.dt == pytest.approx(layer.dt, rel=0.01)
    for name in ("w_rec", "tau_mem", "threshold", "bias"):
        theirs_value = getattr(cell, name).detach()
        mine_value = getattr(layer, name).detach().expand(theirs_value.shape)
        assert bitwise_equal(theirs_value, mine_value.contiguous()), name
    ours = LIF(N, tau_mem=layer.tau_mem, tau_syn=layer.tau_syn, threshold=layer.threshold,
               bias=0.0, dt=cell.dt, has_rec=True, w_rec=layer.w_rec, backend="torch")
    x = torch.rand(2, 100, N, generator=torch.Generator().manual_seed(8)) * 1.2
    theirs = imported(x)[0]
    mine = ours(x)
    assert mine.sum() > 0
    assert bitwise_equal(mine, theirs.to(mine.dtype))


def cycle_graph(weight: np.ndarray, *, affine_bias: np.ndarray | None = None,
                nested: bool = False) -> Any:
    """A recurrent CubaLIF written by hand as NIR documents it, gains of 1 at dt = 1 ms."""
    def full(value: float) -> np.ndarray:
        return np.full(N, value, dtype=np.float32)

    dt = 1e-3
    tau_mem, tau_syn = full(0.02), full(0.005)
    recurrent = (nir.Linear(weight=weight) if affine_bias is None
                 else nir.Affine(weight=weight, bias=affine_bias))
    cell = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([N])),
               "cell": nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt,
                                   v_leak=full(0.0), v_threshold=full(1.0), w_in=tau_syn / dt),
               "feedback": recurrent, "output": nir.Output(output_type=np.array([N]))},
        edges=[("input", "cell"), ("cell", "feedback"), ("feedback", "cell"),
               ("cell", "output")],
    )
    if not nested:
        return cell
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([3])),
               "dense": nir.Linear(weight=np.full((N, 3), 0.7, dtype=np.float32)),
               "rnn": cell, "output": nir.Output(output_type=np.array([N]))},
        edges=[("input", "dense"), ("dense", "rnn"), ("rnn", "output")],
    )


def test_a_hand_written_recurrent_graph_imports_and_runs_as_its_definition():
    g = torch.Generator().manual_seed(11)
    weight = (torch.randn(N, N, generator=g) * 0.5).numpy()
    expected = LIF(N, tau_mem=0.02, tau_syn=0.005, threshold=1.0, bias=0.0, dt=1e-3,
                   has_rec=True, w_rec=torch.from_numpy(weight.T.copy()), backend="torch")
    x = torch.rand(2, 120, N, generator=g) * 1.5
    with pytest.raises(ValueError, match="dt"):
        from_nir(cycle_graph(weight))
    layer = from_nir(cycle_graph(weight), dt=1e-3, backend="torch")
    assert isinstance(layer, LIF) and layer.w_rec is not None
    assert expected(x).sum() > 0
    assert bitwise_equal(layer(x), expected(x))
    chain = from_nir(cycle_graph(weight, nested=True), dt=1e-3, backend="torch")
    assert isinstance(chain[0], Linear) and isinstance(chain[1], LIF)
    events = torch.randint(0, 3, (2, 60, 3), generator=g).float()
    assert bitwise_equal(chain(events), expected(chain[0](events)))


def test_a_recurrent_affine_with_a_bias_is_refused_by_name():
    weight = np.eye(N, dtype=np.float32)
    with pytest.raises(ValueError, match="recurrent Affine has a non-zero bias"):
        from_nir(cycle_graph(weight, affine_bias=np.ones(N, dtype=np.float32)), dt=1e-3)
    bias_free = from_nir(cycle_graph(weight, affine_bias=np.zeros(N, dtype=np.float32)),
                         dt=1e-3)
    assert bitwise_equal(bias_free.w_rec, torch.eye(N))
