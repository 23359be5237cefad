"""Validation of Xylo specifications and the integer building blocks of the simulator."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from synnet_triton.xylo import DesignError, XyloSim
from synnet_triton.xylo.saturating import bitshift_decay, ordered_saturating_sum


def valid_spec() -> dict[str, Any]:
    """A small valid spec: 3 inputs, 4 hidden neurons with 2 synapses, 2 outputs."""
    return {
        "weights_in": np.ones((3, 4, 2), dtype=np.int8),
        "weights_rec": np.zeros((4, 4, 2), dtype=np.int64),
        "weights_out": np.ones((4, 2), dtype=np.int64),
        "dash_mem": np.full(4, 2),
        "dash_syn": np.full(4, 2),
        "dash_syn_2": np.full(4, 3),
        "dash_mem_out": np.full(2, 2),
        "dash_syn_out": np.full(2, 2),
        "threshold": np.full(4, 100),
        "threshold_out": np.full(2, 100),
        "bias": np.zeros(4, dtype=np.int64),
        "bias_out": np.zeros(2, dtype=np.int64),
    }


def test_valid_spec_builds_with_numpy_torch_and_lists() -> None:
    spec = valid_spec()
    XyloSim.from_specification(**spec)
    XyloSim.from_specification(**{k: torch.as_tensor(v) for k, v in spec.items()})
    XyloSim.from_specification(**{k: v.tolist() for k, v in spec.items()})


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"weights_in": np.full((3, 4, 2), 0.5)}, TypeError, "weights_in must hold integers"),
        ({"weights_out": np.ones((4, 2), dtype=np.float32)}, TypeError, "weights_out"),
        ({"weights_in": np.full((3, 4, 2), 128)}, ValueError, r"weights_in values .*\[-128, 127\]"),
        ({"weights_rec": np.full((4, 4), -129)}, ValueError, "weights_rec values"),
        ({"weights_in": np.ones((3, 4, 3), dtype=int)}, ValueError, "weights_in must have shape"),
        ({"weights_in": np.ones(3, dtype=int)}, ValueError, "weights_in must have shape"),
        ({"weights_rec": np.zeros((4, 5), dtype=int)}, ValueError, "weights_rec must have shape"),
        ({"weights_rec": np.zeros((3, 3), dtype=int)}, ValueError, "targets 4 hidden neurons"),
        ({"weights_out": np.ones((5, 2), dtype=int)}, ValueError, "5 source rows"),
        ({"weights_out": np.ones(4, dtype=int)}, ValueError, r"weights_out must have shape"),
        ({"threshold": np.full(4, 40000)}, ValueError, r"threshold values .*\[-32768, 32767\]"),
        ({"bias_out": np.full(2, -40000)}, ValueError, "bias_out values"),
        ({"dash_mem": np.full(4, 16)}, ValueError, r"dash_mem values .*\[0, 15\]"),
        ({"dash_syn_2": np.full(4, -1)}, ValueError, "dash_syn_2 values"),
        ({"dash_syn_out": np.full(3, 1)}, ValueError, r"dash_syn_out must have shape \(2,\)"),
        ({"threshold": np.full(5, 1)}, ValueError, r"threshold must have shape \(4,\)"),
        ({"weight_shift_in": 16}, ValueError, r"weight_shift_in must lie in \[0, 15\]"),
        ({"weight_shift_out": 1.0}, TypeError, "weight_shift_out must be an integer"),
        ({"aliases": [[1], [], []]}, ValueError, "one list per hidden neuron"),
        ({"aliases": [[4], [], [], []]}, ValueError, "outside"),
        ({"aliases": [[1.0], [], [], []]}, TypeError, "integer neuron indices"),
        ({"dt": 0.0}, ValueError, "dt must be positive"),
        ({"weights_out": np.ones((4, 0), dtype=int)}, ValueError, "at least one hidden and one"),
        ({"output_mode": "spikes"}, ValueError, "output_mode must be one of"),
    ],
)
def test_malformed_specs_raise_clear_errors(
    changes: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        XyloSim.from_specification(**{**valid_spec(), **changes})


def test_networks_beyond_the_chip_are_refused_unless_verification_is_off() -> None:
    spec = {**valid_spec(), "weights_in": np.ones((17, 4, 2), dtype=int)}
    with pytest.raises(DesignError, match="input_channels: .*found 17, limit 16"):
        XyloSim.from_specification(**spec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        XyloSim.from_specification(**spec, verify_config=False)


def test_defaults_follow_rockpool_zero_dashes_and_thresholds() -> None:
    sim = XyloSim.from_specification(
        weights_in=np.ones((1, 2), dtype=int), weights_out=np.ones((2, 1), dtype=int)
    )
    spec = sim.spec
    for name in ("dash_mem", "dash_syn", "threshold", "bias", "dash_mem_out", "threshold_out"):
        assert not getattr(spec, name).any(), name
    assert spec.weights_rec.shape == (2, 2, 2) and not spec.weights_rec.any()


def decay_like_xylosim(value: int, dash: int) -> int:
    """xylosim's `decay`: arithmetic shift, at least 1 in magnitude (plain Python integers)."""
    shifted = value >> dash
    if shifted == 0 and value != 0:
        return 1 if value > 0 else -1
    return shifted


@given(st.lists(st.integers(-32768, 32767), min_size=1, max_size=50), st.integers(0, 15))
def test_bitshift_decay_matches_xylosim_formula(values: list[int], dash: int) -> None:
    expected = [decay_like_xylosim(v, dash) for v in values]
    for dtype in (np.float32, np.float64):
        x = np.array(values, dtype=dtype)
        out, scratch = np.empty_like(x), np.empty_like(x)
        bitshift_decay(x, np.full_like(x, 2.0**-dash), np.ones_like(x), out, scratch, np)
        assert out.astype(np.int64).tolist() == expected
        t = torch.from_numpy(x.copy())
        t_out, t_scratch = torch.empty_like(t), torch.empty_like(t)
        t_scale = torch.full_like(t, 2.0**-dash)
        bitshift_decay(t, t_scale, torch.ones_like(t), t_out, t_scratch, torch)
        assert t_out.to(torch.int64).tolist() == expected


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.integers(-32768, 32767),
            st.lists(st.integers(-(2**20), 2**20), max_size=40),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_ordered_saturating_sum_matches_an_event_loop(rows: list[tuple[int, list[int]]]) -> None:
    width = max(len(events) for _, events in rows)
    increments = torch.tensor([events + [0] * (width - len(events)) for _, events in rows])
    start = torch.tensor([value for value, _ in rows])
    expected = []
    for value, events in rows:
        for event in events:
            value = min(max(value + event, -32768), 32767)
        expected.append(value)
    assert ordered_saturating_sum(start, increments.reshape(len(rows), width)).tolist() == expected


@pytest.mark.parametrize("start, increments", [
    (torch.zeros(3, dtype=torch.int64), torch.zeros(3, dtype=torch.int64)),
    (torch.zeros(3, dtype=torch.int64), torch.zeros(2, 4, dtype=torch.int64)),
])
def test_ordered_saturating_sum_refuses_mismatched_shapes_naming_both(start, increments):
    message = (f"increments must have shape (F, P) with F = len(start); got start (3,) and "
               f"increments {tuple(increments.shape)}")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ordered_saturating_sum(start, increments)
