"""Hardware-exact training builds its Xylo simulator once and refreshes its integer buffers
in place every step, on the parameters' device (#27 item 8). The oracle is a simulator built
from scratch (``XyloSim.from_specification`` of ``net.to_xylo()``, fully checked): after
every step of training, and for specs whose non-zero pattern, layer structure, non-positive
thresholds and product scaling differ from the one the simulator was built for, the
refreshed simulator's buffers and outputs are bitwise the fresh one's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from bits import bitwise_equal

from synnet_triton.hardware import INTEGER_KEYS, HardwareSynNet
from synnet_triton.kws.training import NetworkConfig, build_network, spike_count_logits
from synnet_triton.xylo import XyloSim
from synnet_triton.xylo.spec import XyloSpec

BUFFERS = ("input_shift", "spike_shift", "input_bound", "spike_bound", "drive_weights",
           "signed_projection", "dash_syn", "dash_mem", "bias", "threshold", "spike_cap",
           "threshold_divisor", "nonpositive_neurons", "alias_forward", "alias_late",
           "input_projection", "spike_projection")


def _spec(seed: int, weight_range: int, zero_block: bool = False, shift: int = 0,
          nonpositive: bool = False) -> dict:
    """Two hidden layers (5 then 4 neurons, the second fed by the first through
    weights_rec) and 3 outputs, as a SynNet maps them."""
    rng = np.random.default_rng(seed)
    w_in = np.zeros((4, 9, 2), dtype=int)
    w_in[:, :5] = rng.integers(-weight_range, weight_range + 1, (4, 5, 2))
    w_rec = np.zeros((9, 9, 2), dtype=int)
    if not zero_block:
        w_rec[:5, 5:] = rng.integers(-weight_range, weight_range + 1, (5, 4, 2))
    threshold = rng.integers(1, 400, 9)
    if nonpositive:
        threshold[2] = 0
    return dict(weights_in=w_in, weights_rec=w_rec,
                weights_out=rng.integers(-weight_range, weight_range + 1, (4, 3)),
                dash_mem=np.full(9, 3), dash_syn=np.full(9, 2), dash_syn_2=np.full(9, 4),
                dash_mem_out=np.full(3, 2), dash_syn_out=np.full(3, 1), threshold=threshold,
                threshold_out=rng.integers(1, 100, 3), bias=rng.integers(-5, 6, 9),
                bias_out=rng.integers(-5, 6, 3), weight_shift_in=shift,
                weight_shift_rec=shift, weight_shift_out=shift)


def _values(spec: XyloSpec) -> dict[str, torch.Tensor]:
    return {"weights_in": spec.weights_in, "weights_rec": spec.weights_rec,
            "weights_out": spec.weights_out, "threshold": spec.threshold,
            "threshold_out": spec.threshold_out, "bias": spec.bias, "bias_out": spec.bias_out}


def _same_simulation(refreshed: XyloSim, fresh: XyloSim, events: torch.Tensor) -> None:
    for name in BUFFERS:
        assert bitwise_equal(getattr(refreshed, name), getattr(fresh, name)), name
    assert refreshed._layers == fresh._layers
    assert refreshed._layer_nonpositive == fresh._layer_nonpositive
    assert refreshed._scaled_product == fresh._scaled_product
    for record in (False, True):
        ours = refreshed.reset_state()(events, record=record)
        theirs = fresh.reset_state()(events, record=record)
        assert bitwise_equal(ours[0], theirs[0])
        for key in theirs[2]:
            assert bitwise_equal(ours[2][key], theirs[2][key]), key


@pytest.mark.parametrize("changed", [
    dict(seed=1, weight_range=20),                     # other values, same pattern
    dict(seed=2, weight_range=20, zero_block=True),    # layer 2 unfed: one layer fewer
    dict(seed=3, weight_range=20, nonpositive=True),   # a threshold of 0: xylosim's loop
    dict(seed=4, weight_range=127, shift=10),          # sums past 2^24: scaled products
])
def test_a_refreshed_simulator_is_the_freshly_built_one(changed: dict) -> None:
    events = torch.poisson(torch.full((3, 40, 4), 2.0),
                           generator=torch.Generator().manual_seed(0)).long()
    start = dict(seed=0, weight_range=20, zero_block=changed.get("zero_block") is None,
                 shift=changed.get("shift", 0))
    sim = XyloSim.from_specification(**_spec(**start), verify_config=False)
    sim(events)  # fills what the engines cache from the first values
    new = _spec(**changed)
    fresh = XyloSim.from_specification(**new, verify_config=False)
    refreshed = sim.refresh(sim.spec.with_values(**_values(fresh.spec)))
    assert refreshed is sim
    _same_simulation(refreshed, fresh, events)


def test_refresh_refuses_a_spec_of_other_sizes() -> None:
    sim = XyloSim.from_specification(**_spec(0, 20), verify_config=False)
    other = XyloSim.from_specification(**{**_spec(0, 20), "weights_in": np.ones((5, 9, 2), int)},
                                       verify_config=False)
    with pytest.raises(ValueError, match="own sizes"):
        sim.refresh(other.spec)
    with pytest.raises(TypeError, match="XyloSpec"):
        sim.refresh(dataclasses.asdict(sim.spec))  # type: ignore[arg-type]


def test_with_values_lays_out_the_quantisers_shapes_as_from_arguments() -> None:
    spec = _spec(5, 30)
    built = XyloSpec.from_arguments(**{k: v for k, v in spec.items()})
    narrow = {key: torch.as_tensor(np.asarray(spec[key]), dtype=torch.float64)
              for key in ("weights_out", "threshold", "threshold_out", "bias", "bias_out")}
    laid = built.with_values(weights_in=torch.as_tensor(spec["weights_in"][:, :5, :1]),
                             weights_rec=torch.as_tensor(spec["weights_rec"][:, :, :1]),
                             **narrow)
    expected = XyloSpec.from_arguments(**{**spec, "weights_in": spec["weights_in"][:, :5, :1],
                                          "weights_rec": spec["weights_rec"][:, :, :1]})
    for field in ("weights_in", "weights_rec", "weights_out", "threshold", "bias",
                  "threshold_out", "bias_out", "dash_syn"):
        assert bitwise_equal(getattr(laid, field), getattr(expected, field)), field


@pytest.mark.parametrize("quantize", ["global", "channel"])
def test_training_through_the_chip_refreshes_one_simulator_that_stays_exact(
        quantize: str) -> None:
    """Five Adam steps through the chip: one simulator object throughout, and after each
    step its output is bitwise that of a simulator built from ``to_xylo`` afresh."""
    config = NetworkConfig(n_classes=3, n_channels=16, hidden=(12,), time_constants=(2,))
    net = build_network(config, backend="torch", seed=1, init_gain=0.6)
    hardware = HardwareSynNet(net, quantize=quantize)
    generator = torch.Generator().manual_seed(2)
    events = torch.poisson(torch.full((4, 60, 16), 0.6), generator=generator)
    labels = torch.tensor([0, 1, 2, 0])
    optimiser = torch.optim.Adam(net.parameters(), lr=5e-2)
    simulators = set()
    for _ in range(5):
        out = hardware(events)
        simulators.add(id(hardware._simulation["sim"]))
        fresh = XyloSim.from_specification(**net.to_xylo(quantize), verify_config=False)
        assert bitwise_equal(out, fresh(events.long())[0].float())
        loss = torch.nn.functional.cross_entropy(spike_count_logits(out, 0.1), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert len(simulators) == 1
    values, _ = hardware.integer_values()
    device = next(net.parameters()).device
    assert all(values[key].device == device for key in INTEGER_KEYS)
