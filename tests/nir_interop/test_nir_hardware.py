"""A HardwareSynNet (a SynNet as quantised onto a Xylo chip) through NIR: its SynNet's standard
graph, with the chip's integers (bit-shift decays, integer weights, thresholds, shifts) in the
graph's metadata, and our importer giving back the same chip computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from bits import bitwise_equal

nir = pytest.importorskip("nir")

from synnet_triton.hardware import HardwareSynNet  # noqa: E402
from synnet_triton.nir import from_nir, to_nir  # noqa: E402
from synnet_triton.nir.nodes import METADATA_KEY  # noqa: E402
from synnet_triton.nn.synnet import SynNet  # noqa: E402


def chip_network(quantize: str, output: str) -> HardwareSynNet:
    torch.manual_seed(4)
    net = SynNet(n_classes=3, n_channels=5, size_hidden_layers=[8, 6],
                 time_constants_per_layer=[2, 2], output=output, backend="torch")
    with torch.no_grad():
        for linear in net.linear_layers():
            linear.weight.mul_(6.0)
    return HardwareSynNet(net, quantize=quantize, target="xylo-audio2", window=0.4)


@pytest.mark.parametrize("quantize, output", [("global", "spikes"), ("channel", "vmem")])
def test_the_chip_computation_comes_back_bit_for_bit(quantize: str, output: str,
                                                     tmp_path: Path) -> None:
    hardware = chip_network(quantize, output)
    path = tmp_path / "chip.nir"
    nir.write(str(path), to_nir(hardware))
    back = from_nir(path, backend="torch")
    assert isinstance(back, HardwareSynNet)
    assert (back.quantize, back.target, back.window) == (quantize, "xylo-audio2", 0.4)
    x = torch.poisson(torch.full((2, 80, 5), 1.5), generator=torch.Generator().manual_seed(1))
    ours, theirs = hardware(x), back(x)
    assert ours.abs().sum() > 0
    assert bitwise_equal(ours, theirs)
    weights = torch.randn(ours.shape, generator=torch.Generator().manual_seed(2))
    (ours * weights).sum().backward()
    (theirs * weights).sum().backward()
    back_parameters = dict(back.named_parameters())
    for name, parameter in hardware.named_parameters():
        if parameter.grad is not None:
            assert bitwise_equal(parameter.grad, back_parameters[name].grad), name


def test_the_bit_shift_decays_and_integers_travel_in_the_metadata(tmp_path: Path) -> None:
    """What NIR has no field for, as the chip has it: ``to_xylo``'s dashes (bit-shift decays)
    and integer values, readable by any NIR reader; the graph's nodes stay standard."""
    hardware = chip_network("global", "spikes")
    path = tmp_path / "chip.nir"
    nir.write(str(path), to_nir(hardware))
    graph = nir.read(str(path))
    metadata = graph.metadata[METADATA_KEY]
    spec = hardware.synnet.to_xylo("global", "xylo-audio2")
    for key in ("dash_mem", "dash_syn", "dash_syn_2", "dash_mem_out", "dash_syn_out",
                "weights_in", "weights_rec", "weights_out", "threshold", "threshold_out"):
        assert np.array_equal(np.asarray(metadata[f"xylo_{key}"]), np.asarray(spec[key])), key
    kinds = {type(node).__name__ for node in graph.nodes.values()}
    assert kinds <= {"Input", "Output", "Linear", "CubaLIF", "NIRGraph"}


def test_changed_chip_numbers_are_refused_by_name(tmp_path: Path) -> None:
    hardware = chip_network("global", "spikes")
    graph = to_nir(hardware)
    metadata = graph.metadata[METADATA_KEY]
    metadata["xylo_dash_syn"] = np.asarray(metadata["xylo_dash_syn"]) + 1
    with pytest.raises(ValueError, match="xylo_dash_syn"):
        from_nir(graph, backend="torch")
