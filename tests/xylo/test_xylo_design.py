"""The design-rule check: each rule caught alone and named, several reported together, the
largest network that fits each target passing, and the check wired into to_xylo and XyloSim.

Limits are the documented ones (synnet_triton/xylo/targets.py cites each): inputs 16; hidden
1000 / 992 / 496; outputs 8 / 32 (warning above 16) / 16; synapses 2 / 2 / 1; expansion windows
128 on Audio 3 and IMU; IMU recurrent fan-out 512 and 31 744 recurrent weights in total.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from synnet_triton.nn.synnet import SynNet
from synnet_triton.xylo import TARGETS, DesignError, XyloSim, check_design, check_layout
from synnet_triton.xylo.spec import XyloSpec


def valid(n_in: int = 3, n_hidden: int = 6, n_out: int = 2, synapses: int = 1) -> dict[str, Any]:
    """A small spec every target holds."""
    return {
        "weights_in": np.ones((n_in, n_hidden, synapses), int),
        "weights_rec": np.zeros((n_hidden, n_hidden, synapses), int),
        "weights_out": np.ones((n_hidden, n_out), int),
        "threshold": np.full(n_hidden, 10), "threshold_out": np.full(n_out, 10),
        "bias": np.zeros(n_hidden, int), "bias_out": np.zeros(n_out, int),
        "dash_mem": np.ones(n_hidden, int), "dash_syn": np.ones(n_hidden, int),
        "dash_syn_2": np.ones(n_hidden, int), "dash_mem_out": np.ones(n_out, int),
        "dash_syn_out": np.ones(n_out, int),
        "weight_shift_in": 0, "weight_shift_rec": 0, "weight_shift_out": 0,
        "aliases": [[] for _ in range(n_hidden)],
    }


def with_(spec: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**spec, **changes}


def rec(n_hidden: int, fill: Callable[[np.ndarray], None]) -> np.ndarray:
    weights = np.zeros((n_hidden, n_hidden, 1), int)
    fill(weights)
    return weights


# (rule, target, spec violating that rule alone)
ALONE: list[tuple[str, str, dict[str, Any]]] = [
    ("input_channels", "xylo-audio2", valid(n_in=17)),
    ("hidden_neurons", "xylo-audio2", with_(valid(n_hidden=1001), weights_in=np.ones((3, 4, 1))
                                            .astype(int), weights_out=np.ones((4, 2), int))),
    ("hidden_neurons", "xylo-audio3", with_(valid(n_hidden=993), weights_in=np.ones((3, 4, 1))
                                            .astype(int), weights_out=np.ones((4, 2), int))),
    ("hidden_neurons", "xylo-imu", with_(valid(n_hidden=497), weights_in=np.ones((3, 4, 1))
                                         .astype(int), weights_out=np.ones((4, 2), int))),
    ("output_neurons", "xylo-audio2", valid(n_out=9)),
    ("output_neurons", "xylo-audio3", valid(n_out=33)),
    ("output_neurons", "xylo-imu", valid(n_out=17)),
    ("synapses_per_neuron", "xylo-imu", valid(synapses=2)),
    ("input_window", "xylo-audio3", with_(valid(n_hidden=200), weights_out=np.ones((5, 2), int))),
    ("input_window", "xylo-imu", with_(valid(n_hidden=200), weights_out=np.ones((5, 2), int))),
    ("output_window", "xylo-audio3", with_(valid(n_hidden=200),
                                           weights_in=np.ones((3, 5, 1), int))),
    ("readout_rows", "xylo-audio2", with_(valid(), weights_out=np.ones((7, 2), int))),
    ("input_columns", "xylo-audio2", with_(valid(), weights_in=np.ones((3, 7, 1), int))),
    ("recurrent_total", "xylo-imu", with_(valid(n_hidden=496), weights_in=np.ones((3, 4, 1))
                                          .astype(int), weights_out=np.ones((4, 2), int),
                                          weights_rec=rec(496, lambda w: w.__setitem__(
                                              (slice(0, 70), slice(0, 460), 0), 1)))),
    ("weight_range", "xylo-audio2", with_(valid(), weights_out=np.full((6, 2), 128))),
    ("integer_values", "xylo-audio2", with_(valid(), weights_in=np.full((3, 6, 1), 0.5))),
    ("weight_shift_range", "xylo-audio2", with_(valid(), weight_shift_rec=16)),
    ("threshold_range", "xylo-audio2", with_(valid(), threshold=np.full(6, 40000))),
    ("bias_range", "xylo-audio2", with_(valid(), bias_out=np.array([0, -40000]))),
    ("dash_range", "xylo-audio2", with_(valid(), dash_syn_2=np.full(6, 16))),
    ("aliases", "xylo-audio2", with_(valid(), aliases=[[6], [], [], [], [], []])),
    ("shape", "xylo-audio2", with_(valid(), threshold=np.full(5, 10))),
]


@pytest.mark.parametrize("rule, target, spec", ALONE,
                         ids=[f"{rule}-{target}" for rule, target, _ in ALONE])
def test_each_rule_alone_is_caught_and_named(rule: str, target: str, spec: dict[str, Any]):
    report = check_design(spec, target)
    assert report.rules() == {rule}, str(report)
    assert not report.fits and len(report.errors) == 1
    violation = report.errors[0]
    assert violation.limit and violation.found and violation.where and violation.source


def test_recurrent_fanout_is_counted_per_neuron():
    """On the IMU itself (496 hidden neurons, one synapse) no neuron can exceed 512 targets, so
    the rule is exercised on a core like the IMU's with a fan-out limit of 100."""
    core = dataclasses.replace(TARGETS["xylo-imu"], max_fanout=100)
    weights = np.zeros((200, 200, 1), int)
    weights[3, :101, 0] = 1
    weights[7, :100, 0] = 1
    spec = with_(valid(n_hidden=200), weights_in=np.ones((3, 4, 1), int),
                 weights_out=np.ones((4, 2), int), weights_rec=weights)
    report = check_design(spec, core)
    assert report.rules() == {"recurrent_fanout"}
    (violation,) = report.errors
    assert violation.found == "101 (1 neuron(s) over)" and "hidden neuron 3" in violation.where
    assert "512 fanout" in violation.source


def test_the_valid_spec_fits_every_target():
    for target in ("xylo-audio2", "xylo-audio3", "xylo-imu"):
        assert check_design(valid(), target).violations == ()


def test_limits_and_places_are_reported():
    report = check_design(valid(n_in=17), "xylo-audio2")
    (violation,) = report.errors
    assert (violation.limit, violation.found) == ("16", "17")
    total = check_design({r: s for r, _, s in ALONE}["recurrent_total"], "xylo-imu").errors[0]
    assert (total.rule, total.limit, total.found) == ("recurrent_total", "31744", str(70 * 460))
    assert "xylo-imu-intro" in total.source


def test_more_than_16_outputs_on_audio3_is_a_warning():
    report = check_design(valid(n_out=20), "xylo-audio3")
    assert report.fits and [v.rule for v in report.warnings] == ["output_neurons"]
    with pytest.warns(UserWarning, match="output_neurons"):
        report.enforce()


def test_several_violations_are_all_reported():
    spec = with_(valid(n_in=17, n_hidden=200, n_out=20, synapses=2),
                 weight_shift_in=20, dash_mem=np.full(200, 99), threshold=np.full(200, 1e6))
    report = check_design(spec, "xylo-imu")
    assert {"input_channels", "output_neurons", "synapses_per_neuron", "input_window",
            "output_window", "weight_shift_range", "dash_range",
            "threshold_range"} <= report.rules()
    text = str(report)
    assert text.splitlines()[0].startswith("Xylo IMU (SYNS63300) design check: ")
    assert len(text.splitlines()) == 1 + len(report.violations)


LARGEST = {
    "xylo-audio2": (16, [1000], 8),
    "xylo-audio3": (16, [128, 736, 128], 32),
    "xylo-imu": (16, [128, 124, 128], 16),   # 2·128·124 = 31 744 recurrent weights
}


@pytest.mark.parametrize("target", sorted(LARGEST))
def test_the_largest_synnet_that_fits_passes_and_one_more_neuron_does_not(target: str):
    n_in, hidden, n_out = LARGEST[target]
    assert check_layout(n_in, hidden, n_out, target).fits
    bigger = [*hidden[:-2], hidden[-2] + 1, hidden[-1]] if len(hidden) > 1 else [hidden[0] + 1]
    assert not check_layout(n_in, bigger, n_out, target).fits
    assert not check_layout(n_in + 1, hidden, n_out, target).fits
    assert not check_layout(n_in, hidden, n_out + 1, target).fits


@pytest.mark.parametrize("target", sorted(LARGEST))
def test_check_design_of_the_largest_synnet_itself(target: str):
    n_in, hidden, n_out = LARGEST[target]
    torch.manual_seed(0)
    net = SynNet(n_out, n_in, size_hidden_layers=hidden, time_constants_per_layer=[2] * len(hidden))
    assert check_design(net, target).fits
    assert check_layout(n_in, hidden, n_out, target).rules() == check_design(net, target).rules()


def test_a_synnet_the_chip_cannot_hold_is_refused_by_to_xylo_and_xylosim_naming_its_layers():
    torch.manual_seed(1)
    net = SynNet(4, 8, size_hidden_layers=[200, 30], time_constants_per_layer=[2, 2])
    report = check_design(net, "xylo-imu")
    assert report.rules() == {"input_window"}
    assert "'0_neurons' neuron 199" in report.errors[0].where
    with pytest.raises(DesignError, match="input_window"):
        net.to_xylo(target="xylo-imu")
    spec = net.to_xylo(target="xylo-imu", check=False)
    with pytest.raises(DesignError, match="input_window") as raised:
        XyloSim.from_specification(**spec, target="xylo-imu")
    assert raised.value.report.rules() == {"input_window"}
    XyloSim.from_specification(**spec, target="xylo-imu", verify_config=False)
    assert net.to_xylo(target="xylo-audio2")["weights_in"].shape[1] == 230


def test_an_unknown_target_is_refused_listing_the_known_ones():
    with pytest.raises(ValueError, match="xylo-audio3"):
        check_design(valid(), "xylo-audio4")


def test_a_design_of_another_type_is_named() -> None:
    for design, name in ((42, "int"), ("spec.json", "str"), (XyloSpec, "type")):
        with pytest.raises(TypeError, match=f"^design must be a dict of XyloSim.from_"
                           f"specification arguments, a XyloSpec or a network with to_xylo "
                           rf"\(e.g. a SynNet\); got {name}$"):
            check_design(design)


def test_a_specification_without_its_required_weights_is_named() -> None:
    spec = {"weights_in": np.ones((2, 3), int), "weights_out": np.ones((3, 1), int)}
    for missing in ("weights_in", "weights_out"):
        with pytest.raises(ValueError, match=f"^the specification has no {missing} "
                           r"\(XyloSim.from_specification needs weights_in and weights_out\)$"):
            check_design({k: v for k, v in spec.items() if k != missing})


def test_a_network_with_nan_parameters_is_refused_as_nan() -> None:
    """Not as the integer −2^63 an out-of-range weight (what the cast made of it)."""
    net = SynNet(n_classes=2, n_channels=4, size_hidden_layers=[8], time_constants_per_layer=[2])
    with torch.no_grad():
        net.seq[0].weight[1, 2] = float("nan")
        net.seq[0].weight[3, 0] = float("inf")
    for convert in (net.to_xylo, lambda: check_design(net)):
        with pytest.raises(ValueError, match=r"^weights\[0\] holds 2 non-finite value\(s\), "
                           r"first nan at \[1, 2\]: the network's parameters are not finite"):
            convert()


def test_global_quantisation_warns_when_one_outlier_erases_a_layer() -> None:
    """One input weight of 1e6 sets the shared scale 127 / 1e6: every other weight (|w| < 1)
    rounds to 0, i.e. 127 of the 128; channel quantisation scales each neuron alone."""
    net = SynNet(n_classes=2, n_channels=16, size_hidden_layers=[8], time_constants_per_layer=[2])
    with torch.no_grad():
        assert bool((net.seq[0].weight != 0).all()) and float(net.seq[0].weight.abs().max()) < 1
        net.seq[0].weight[0, 0] = 1e6
    with pytest.warns(UserWarning, match=r"^global quantisation rounds 127 of 128 non-zero "
                      r"weights_in to 0: .* \(1e\+06\) sets it; channel quantisation "
                      r"\(quantize='channel'\) scales each neuron on its own$"):
        net.to_xylo(quantize="global", check=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.to_xylo(quantize="channel", check=False)
        with torch.no_grad():
            net.seq[0].weight[0, 0] = 0.5
        net.to_xylo(quantize="global", check=False)
