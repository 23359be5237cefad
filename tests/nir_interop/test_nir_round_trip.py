"""synnet_triton.nir: round trips through NIR files (ours → ours: the same spikes and gradients,
bit for bit), ours → Rockpool's importer, ours → snnTorch's importer, and Rockpool's own
exporter on LIFTriton layers.

The test folder is ``nir_interop``, not ``nir``: a ``tests/nir`` folder would shadow the real
``nir`` package (see docs/layout.md).
"""

from __future__ import annotations

import warnings
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
from synnet_triton.nn.synnet import SynNet  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from synnet_triton.rockpool import LIFTriton  # noqa: E402
    from synnet_triton.rockpool import SynNet as DropInSynNet  # noqa: E402


def written_and_read(graph: Any, tmp_path: Path) -> Any:
    path = tmp_path / "graph.nir"
    nir.write(str(path), graph)
    return nir.read(str(path))


def random_lif(n_synapses: int, shared: bool, seed: int) -> LIF:
    generator = torch.Generator().manual_seed(seed)
    n = 5

    def positive(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator) * 0.02 + 0.002

    return LIF(
        n, n_synapses,
        tau_mem=torch.tensor(0.01) if shared else positive(n),
        tau_syn=positive(1, n_synapses) if shared else positive(n, n_synapses),
        threshold=torch.rand(n, generator=generator) + 0.5,
        bias=torch.tensor(0.05) if shared else torch.rand(n, generator=generator) * 0.1,
        train_tau_syn=not shared, train_bias=shared, dt=5e-4,
        surrogate="step_pwl" if shared else "periodic_exponential", learning_window=0.3,
        max_spikes_per_dt=3.0, backend="torch",
    )


def assert_same_spikes_and_gradients(a: torch.nn.Module, b: torch.nn.Module,
                                     x: torch.Tensor) -> None:
    x_a, x_b = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_a, out_b = a(x_a), b(x_b)
    out_a = out_a[0] if isinstance(out_a, tuple) else out_a
    out_b = out_b[0] if isinstance(out_b, tuple) else out_b
    assert out_a.sum() > 0, "the input must make the layer spike"
    assert bitwise_equal(out_a, out_b)
    weights = torch.randn(out_a.shape, generator=torch.Generator().manual_seed(3))
    (out_a * weights).sum().backward()
    (out_b * weights).sum().backward()
    assert bitwise_equal(x_a.grad, x_b.grad)
    params_b = dict(b.named_parameters())
    assert sorted(dict(a.named_parameters())) == sorted(params_b)
    for name, parameter in a.named_parameters():
        assert bitwise_equal(parameter.grad, params_b[name].grad), name


@pytest.mark.parametrize("n_synapses", [1, 3])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("convention", ["nir", "rockpool"])
def test_lif_round_trip_is_exact(n_synapses: int, shared: bool, convention: str, tmp_path: Path):
    layer = random_lif(n_synapses, shared, seed=n_synapses)
    graph = written_and_read(to_nir(layer, convention=convention), tmp_path)
    node = graph.nodes["layer"]
    assert isinstance(node, nir.CubaLIF if n_synapses == 1 else nir.NIRGraph)
    back = from_nir(graph, backend="torch")
    assert isinstance(back, LIF)
    for name in ("tau_mem", "tau_syn", "threshold", "bias"):
        assert bitwise_equal(getattr(back, name), getattr(layer, name)), name
    assert (back.dt, back.surrogate, back.learning_window, back.max_spikes_per_dt) == (
        layer.dt, layer.surrogate, layer.learning_window, layer.max_spikes_per_dt)
    x = torch.rand(2, 60, 5 * n_synapses, generator=torch.Generator().manual_seed(1)) * 1.5
    assert_same_spikes_and_gradients(layer, back, x)


def test_a_multi_synapse_layer_is_a_subgraph_nir_can_read():
    layer = random_lif(3, shared=False, seed=4)
    node = to_nir(layer).nodes["layer"]
    kinds = sorted(type(n).__name__ for n in node.nodes.values())
    assert kinds == ["Input", "LI", "LI", "LI", "LIF", "Linear", "Linear", "Linear", "Output"]
    # synapse s of neuron n is input channel n·S + s (Rockpool's layout)
    selection = node.nodes["synapse_2"].weight
    assert selection.shape == (5, 15) and selection[1, 1 * 3 + 2] == 1 and selection.sum() == 5
    assert node.nodes["current_2"].tau.tolist() == layer.tau_syn[:, 2].tolist()
    assert ("current_0", "membrane") in node.edges and ("membrane", "output") in node.edges


def test_nir_fields_follow_the_euler_reading_of_gain_one():
    layer = random_lif(1, shared=False, seed=5)
    node = to_nir(layer).nodes["layer"]
    tau_mem = layer.tau_mem.detach().numpy()
    tau_syn = layer.tau_syn.detach().numpy().reshape(-1)
    # NIR CubaLIF: τ_mem v' = (v_leak − v) + r·I, τ_syn I' = −I + w_in·x; one Euler step of dt
    # with gain 1 needs r = τ_mem/dt, w_in = τ_syn/dt and v_leak·dt/τ_mem = the bias
    assert abs(node.r / (tau_mem / layer.dt) - 1).max() < 1e-6
    assert abs(node.w_in / (tau_syn / layer.dt) - 1).max() < 1e-6
    assert abs(node.v_leak * layer.dt / tau_mem - layer.bias.detach().numpy()).max() < 1e-6


@pytest.mark.parametrize("output", ["spikes", "vmem"])
def test_synnets_round_trip_exactly(output: str, tmp_path: Path):
    torch.manual_seed(0)
    net = SynNet(3, 4, size_hidden_layers=[8, 6], time_constants_per_layer=[3, 2],
                 p_dropout=0.2, train_time_constants=True, output=output, backend="torch")
    net.eval()
    graph = written_and_read(to_nir(net), tmp_path)
    assert [n for n in graph.nodes if n not in ("input", "output")] == [
        "0_linear", "0_neurons", "1_linear", "1_neurons", "out_linear", "out_neurons"]
    back = from_nir(graph, backend="torch")
    assert isinstance(back, SynNet) and not back.training
    assert (back.output, back.p_dropout) == (output, 0.2)
    x = torch.randint(0, 4, (2, 50, 4), generator=torch.Generator().manual_seed(2)).float()
    assert_same_spikes_and_gradients(net, back, x)


def test_drop_in_synnet_and_lif_triton_come_back_as_themselves(tmp_path: Path):
    torch.manual_seed(1)
    net = DropInSynNet(2, 3, size_hidden_layers=[6], time_constants_per_layer=[2],
                       backend="torch")
    net.eval()
    back = from_nir(written_and_read(to_nir(net), tmp_path), backend="torch")
    assert type(back) is DropInSynNet
    x = torch.randint(0, 4, (2, 40, 3), generator=torch.Generator().manual_seed(3)).float()
    assert bitwise_equal(back(x)[0], net(x)[0])

    layer = LIFTriton((6, 3), tau_mem=0.01, tau_syn=torch.full((3, 2), 0.004), backend="torch")
    layer_back = from_nir(to_nir(layer), backend="torch")
    assert type(layer_back) is LIFTriton
    assert bitwise_equal(layer_back(x.repeat(1, 1, 2))[0], layer(x.repeat(1, 1, 2))[0])


def test_sequential_and_linear_layers(tmp_path: Path):
    torch.manual_seed(2)
    affine = torch.nn.Linear(4, 3)
    model = torch.nn.Sequential(Linear(2, 4), affine, LIF(3, backend="torch"))
    graph = written_and_read(to_nir(model), tmp_path)
    assert isinstance(graph.nodes["0"], nir.Linear) and isinstance(graph.nodes["1"], nir.Affine)
    assert graph.nodes["0"].weight.shape == (4, 2)  # NIR's (out, in)
    back = from_nir(graph, backend="torch")
    assert isinstance(back, torch.nn.Sequential) and len(back) == 3
    assert bitwise_equal(back[0].weight, model[0].weight)
    assert bitwise_equal(back[1].weight, affine.weight) and bitwise_equal(back[1].bias, affine.bias)
    x = torch.rand(2, 30, 2, generator=torch.Generator().manual_seed(4)) * 4
    assert bitwise_equal(back(x), model(x))


def test_unsupported_modules_and_graphs_are_named():
    with pytest.raises(TypeError, match="Conv1d"):
        to_nir(torch.nn.Sequential(torch.nn.Conv1d(2, 2, 1)))
    def full(value: float) -> Any:
        return np.full(3, value, dtype=np.float32)

    foreign = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([3])),
               "lif": nir.CubaLIF(tau_syn=full(0.01), tau_mem=full(0.02), r=full(20.0),
                                  v_leak=full(0.0), v_threshold=full(1.0), w_in=full(10.0)),
               "output": nir.Output(output_type=np.array([3]))},
        edges=[("input", "lif"), ("lif", "output")],
    )
    with pytest.raises(ValueError, match="dt"):
        from_nir(foreign)
    layer = from_nir(foreign, dt=1e-3, backend="torch")
    assert isinstance(layer, LIF) and float(layer.tau_mem[0]) == pytest.approx(0.02)


def test_ours_to_rockpools_importer_matches_rockpools_own_round_trip():
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LinearTorch
    from rockpool.nn.modules import from_nir as rockpool_from_nir
    from rockpool.nn.modules import to_nir as rockpool_to_nir

    from synnet_triton.rockpool.conversion import lif_to_rockpool

    torch.manual_seed(3)
    linear = Linear(3, 4)
    lif = LIF(4, tau_mem=torch.rand(4) * 0.02 + 0.005, tau_syn=torch.rand(4) * 0.01 + 0.003,
              threshold=0.8, bias=0.0, backend="torch")
    ours = rockpool_from_nir(to_nir(torch.nn.Sequential(linear, lif), convention="rockpool"))
    rockpool_net = Sequential(LinearTorch((3, 4), weight=linear.weight.detach().clone(),
                                          has_bias=False), lif_to_rockpool(lif))
    theirs = rockpool_from_nir(rockpool_to_nir(rockpool_net))
    x = torch.randint(0, 3, (2, 50, 3), generator=torch.Generator().manual_seed(5)).float()
    our_out, their_out = ours(x)[0], theirs(x)[0]
    assert their_out.sum() > 0
    assert bitwise_equal(our_out, their_out)


def test_ours_to_snntorchs_importer():
    """snnTorch reads NIR's Euler definitions at its fixed dt = 1e-4: decays 1 − dt/τ, the same
    weights and threshold. Its neurons reset to zero where ours subtract and decay by 1 − dt/τ
    where ours decay by e^{−dt/τ}, so the spikes agree on most steps, not all."""
    import_from_nir = pytest.importorskip("snntorch.import_nir").import_from_nir
    torch.manual_seed(4)
    linear = Linear(6, 16)
    lif = LIF(16, tau_mem=0.02, tau_syn=0.005, threshold=0.5, max_spikes_per_dt=1.0, dt=1e-4,
              backend="torch")
    theirs = import_from_nir(to_nir(torch.nn.Sequential(linear, lif)))
    their_linear, synaptic = theirs.get_submodule("0"), theirs.get_submodule("1")
    assert bitwise_equal(their_linear.weight.detach(), linear.weight.detach().T.contiguous())
    assert float(synaptic.alpha) == pytest.approx(1 - 1e-4 / 0.005, abs=1e-6)
    assert float(synaptic.beta) == pytest.approx(1 - 1e-4 / 0.02, abs=1e-6)
    assert float(synaptic.threshold) == pytest.approx(0.5)

    x = (torch.rand(4, 400, 6, generator=torch.Generator().manual_seed(6)) < 0.1).float()
    state, steps = None, []
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, state = theirs(x[:, t], state)
            steps.append(out[0] if isinstance(out, tuple) else out)
        their_spikes, our_spikes = torch.stack(steps, 1), lif(linear(x))
    assert our_spikes.sum() > 1000
    agreement = (their_spikes == our_spikes).float().mean().item()
    assert agreement >= 0.9, agreement


def test_rockpools_exporter_knows_lif_triton():
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch
    from rockpool.nn.modules import to_nir as rockpool_to_nir

    torch.manual_seed(5)
    weight = torch.rand(3, 4)
    kwargs = dict(tau_mem=torch.rand(4) * 0.02 + 0.005, threshold=torch.rand(4) + 0.5)
    ours = rockpool_to_nir(Sequential(LinearTorch((3, 4), weight=weight, has_bias=False),
                                      LIFTriton(4, **kwargs, backend="torch")))
    theirs = rockpool_to_nir(Sequential(LinearTorch((3, 4), weight=weight, has_bias=False),
                                        LIFTorch(4, **kwargs)))
    our_lif = next(n for n in ours.nodes.values() if isinstance(n, nir.CubaLIF))
    their_lif = next(n for n in theirs.nodes.values() if isinstance(n, nir.CubaLIF))
    for field in ("tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "w_in"):
        assert (getattr(our_lif, field) == getattr(their_lif, field)).all(), field
    assert len(ours.nodes) == len(theirs.nodes) and len(ours.edges) == len(theirs.edges)

    with pytest.raises(NotImplementedError, match="synnet_triton.nir.to_nir"):
        rockpool_to_nir(Sequential(LIFTriton((4, 2), backend="torch")))


def test_rockpools_exporter_on_the_drop_in_synnet_writes_rockpools_graph():
    from rockpool.nn.modules import to_nir as rockpool_to_nir
    from synnet_oracle import RockpoolSynNet

    config = dict(n_classes=2, n_channels=3, size_hidden_layers=[6, 4],
                  time_constants_per_layer=[3, 2])
    torch.manual_seed(6)
    ours = rockpool_to_nir(DropInSynNet(**config, backend="torch"))
    torch.manual_seed(6)
    theirs = rockpool_to_nir(RockpoolSynNet(**config))
    assert sorted(ours.nodes) == sorted(theirs.nodes) and ours.edges == theirs.edges
    for name, node in theirs.nodes.items():
        for field in ("weight", "tau_mem", "tau_syn", "r", "v_threshold"):
            if hasattr(node, field):
                assert (getattr(ours.nodes[name], field) == getattr(node, field)).all(), name
