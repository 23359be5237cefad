"""The batched Xylo simulator against Rockpool's XyloSim (SynSense's `xylosim`), sample by sample.

Every output and every recorded trace must be equal. Specs are drawn to saturate (full int8
weights, large weight shifts, many events per step), with 1 and 2 synapses, recurrence, biases,
aliases, every dash 0–15, thresholds ≤ 0 and input counts above 15.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any
from unittest.mock import patch

import numpy as np
import pytest
import torch
from bits import bitwise_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xylo_oracle import RockpoolXyloSim

from synnet_triton.xylo import RECORD_KEYS, XyloSim


def rockpool_run(
    spec: dict[str, Any], events: np.ndarray, calls: int = 1
) -> list[list[tuple[np.ndarray, dict[str, np.ndarray]]]]:
    """Run each sample of ``events`` (B, T, Nin) through a fresh Rockpool XyloSim.

    With ``calls`` > 1 the same sample is fed again without resetting, to follow carried state.
    returns, per sample, the (output, record) of each call
    """
    results = []
    for sample in events:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = RockpoolXyloSim.from_specification(**spec)
        runs = []
        for _ in range(calls):
            output, _, record = reference(sample, record=True)
            runs.append((np.asarray(output), record))
        results.append(runs)
    return results


def assert_matches_rockpool(
    ours: tuple[torch.Tensor, dict, dict], reference: list[tuple[np.ndarray, dict]]
) -> None:
    """Compare our batched (out, state, record) with Rockpool's per-sample results."""
    output, _, record = ours
    for sample, (ref_output, ref_record) in enumerate(reference):
        # the keys are Rockpool's, not our own list of them
        assert set(record) == set(ref_record), (set(record), set(ref_record))
        assert np.array_equal(output[sample].numpy(), ref_output), f"output of sample {sample}"
        for key in ref_record:
            assert np.array_equal(record[key][sample].numpy(), ref_record[key]), (
                f"record {key} of sample {sample}"
            )


@st.composite
def specs_and_events(draw: st.DrawFn) -> tuple[dict[str, Any], np.ndarray]:
    """A random Xylo spec (as keyword arguments) and a batch of event counts (B, T, Nin)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_in = draw(st.integers(1, 18))
    n_hidden = draw(st.integers(1, 10))
    n_out = draw(st.integers(1, 4))
    n_readout = draw(st.integers(1, n_hidden))
    synapses = draw(st.sampled_from([1, 2]))
    weight_scale = draw(st.sampled_from([2, 16, 128]))
    shifts = st.integers(0, 15) if weight_scale == 128 else st.integers(0, 4)

    def weights(shape: tuple[int, ...], density: float) -> np.ndarray:
        values = rng.integers(-weight_scale, weight_scale, shape)
        return values * (rng.random(shape) < density)

    def thresholds(count: int) -> np.ndarray:
        positive = rng.integers(1, 20000, count) // rng.integers(1, 50, count)
        return np.where(rng.random(count) < 0.2, rng.integers(-32768, 1, count), positive)

    syn_shape = (synapses,) if synapses == 2 else ()
    spec: dict[str, Any] = {
        "weights_in": weights((n_in, n_hidden, *syn_shape), 0.7),
        "weights_out": weights((n_readout, n_out), 0.8),
        "dash_mem": rng.integers(0, 16, n_hidden),
        "dash_syn": rng.integers(0, 16, n_hidden),
        "dash_syn_2": rng.integers(0, 16, n_hidden),
        "dash_mem_out": rng.integers(0, 16, n_out),
        "dash_syn_out": rng.integers(0, 16, n_out),
        "threshold": thresholds(n_hidden),
        "threshold_out": thresholds(n_out),
        "weight_shift_in": draw(shifts),
        "weight_shift_rec": draw(shifts),
        "weight_shift_out": draw(shifts),
        "verify_config": False,
    }
    if draw(st.booleans()):
        spec["weights_rec"] = weights((n_hidden, n_hidden, *syn_shape), 0.4)
    if draw(st.booleans()):
        spec["bias"] = rng.integers(-2000, 2000, n_hidden) * (rng.random(n_hidden) < 0.6)
        spec["bias_out"] = rng.integers(-2000, 2000, n_out)
    if draw(st.booleans()):
        spec["aliases"] = [
            [int(t) for t in rng.integers(0, n_hidden, rng.integers(1, 3))]
            if rng.random() < 0.4
            else []
            for _ in range(n_hidden)
        ]
    batch = draw(st.integers(2, 3))
    steps = draw(st.integers(1, 25))
    events = rng.integers(0, 40, (batch, steps, n_in)) * (rng.random((batch, steps, n_in)) < 0.4)
    return spec, events


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(specs_and_events())
def test_random_specs_match_rockpool_sample_by_sample(
    drawn: tuple[dict[str, Any], np.ndarray],
) -> None:
    spec, events = drawn
    ours = XyloSim.from_specification(**spec)(torch.from_numpy(events), record=True)
    assert_matches_rockpool(ours, [runs[0] for runs in rockpool_run(spec, events)])


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(specs_and_events())
def test_torch_operations_path_equals_the_numpy_path(
    drawn: tuple[dict[str, Any], np.ndarray],
) -> None:
    """Off the CPU the step loop runs torch operations instead of numpy's ufuncs; both must give
    the same outputs, records and carried state, bit for bit (here both on the CPU)."""
    import synnet_triton.xylo.step_engine as sim_module

    spec, events = drawn
    x = torch.from_numpy(events)

    def run() -> list[torch.Tensor]:
        sim = XyloSim.from_specification(**spec)
        results = []
        for _ in range(2):  # the second call continues from the carried state
            output, state, record = sim(x, record=True)
            results += [output, *state.values(), *record.values()]
        return results

    expected = run()
    with patch.object(sim_module, "array_namespace", lambda t: (torch, lambda a: a)):
        ours = run()
    assert len(ours) == len(expected)
    for got, want in zip(ours, expected):
        assert torch.equal(got, want)


def moderate_spec(rng: np.random.Generator, n_in: int = 16, n_hidden: int = 24) -> dict:
    """A spec with small weights and high thresholds: currents rarely approach saturation."""
    return {
        "weights_in": rng.integers(-10, 10, (n_in, n_hidden, 2)),
        "weights_rec": rng.integers(-30, 30, (n_hidden, n_hidden, 2))
        * (rng.random((n_hidden, n_hidden, 2)) < 0.3),
        "weights_out": rng.integers(-40, 40, (n_hidden, 3)),
        "dash_mem": np.full(n_hidden, 3),
        "dash_syn": np.full(n_hidden, 2),
        "dash_syn_2": rng.integers(2, 6, n_hidden),
        "dash_mem_out": np.full(3, 3),
        "dash_syn_out": np.full(3, 2),
        "threshold": np.full(n_hidden, 600),
        "threshold_out": np.full(3, 300),
        "weight_shift_in": 3,
        "weight_shift_rec": 2,
    }


def test_unsaturated_network_matches_rockpool() -> None:
    rng = np.random.default_rng(7)
    spec = moderate_spec(rng)
    events = rng.integers(0, 4, (3, 60, 16)) * (rng.random((3, 60, 16)) < 0.3)
    ours = XyloSim.from_specification(**spec)(torch.from_numpy(events), record=True)
    assert int(ours[2]["Spikes"].sum()) > 0, "the network must spike for the test to mean much"
    assert_matches_rockpool(ours, [runs[0] for runs in rockpool_run(spec, events)])


@pytest.mark.parametrize("output_mode", ["Vmem", "Isyn", "Spike"])
def test_output_modes_match_rockpool(output_mode: str) -> None:
    rng = np.random.default_rng(11)
    spec = {**moderate_spec(rng, n_hidden=8), "output_mode": output_mode}
    events = rng.integers(0, 5, (2, 30, 16))
    ours = XyloSim.from_specification(**spec)(torch.from_numpy(events), record=True)
    assert_matches_rockpool(ours, [runs[0] for runs in rockpool_run(spec, events)])


@pytest.mark.parametrize("output_mode", ["Spike", "Vmem", "Isyn"])
def test_without_record_the_output_is_the_same_int16_and_the_record_empty(
        output_mode: str) -> None:
    """As documented: every returned tensor int16, the record empty unless asked for; the
    output does not depend on recording (Vmem and Isyn outputs come from the states)."""
    rng = np.random.default_rng(12)
    spec = {**moderate_spec(rng, n_hidden=8), "output_mode": output_mode}
    events = torch.from_numpy(rng.integers(0, 5, (2, 30, 16)))
    sim = XyloSim.from_specification(**spec)
    out, state, record = sim(events)
    sim.reset_state()
    recorded, _, full_record = sim(events, record=True)
    assert record == {} and bitwise_equal(out, recorded)
    returned = [out, *state.values(), *full_record.values()]
    assert all(tensor.dtype == torch.int16 for tensor in returned)


def test_state_carries_across_calls_like_rockpool() -> None:
    rng = np.random.default_rng(3)
    spec = moderate_spec(rng, n_hidden=10)
    events = rng.integers(0, 6, (2, 15, 16))
    reference = rockpool_run(spec, events, calls=2)
    sim = XyloSim.from_specification(**spec)
    first = sim(torch.from_numpy(events), record=True)
    second = sim(torch.from_numpy(events), record=True)
    assert_matches_rockpool(first, [runs[0] for runs in reference])
    assert_matches_rockpool(second, [runs[1] for runs in reference])
    assert not torch.equal(first[2]["Vmem"], second[2]["Vmem"]), "carried state must matter"
    sim.reset_state()
    assert_matches_rockpool(
        sim(torch.from_numpy(events), record=True), [runs[0] for runs in reference]
    )


def test_boolean_and_large_counts_are_accepted_and_clipped() -> None:
    """Spike rasters may come as bools; counts above 15 act as 15, as in xylosim."""
    rng = np.random.default_rng(6)
    sim = XyloSim.from_specification(**moderate_spec(rng, n_hidden=6))
    raster = torch.from_numpy(rng.random((2, 20, 16)) < 0.3)
    as_bool = sim(raster, record=True)
    as_counts = sim.reset_state()(raster.to(torch.int64), record=True)
    for key in RECORD_KEYS:
        assert torch.equal(as_bool[2][key], as_counts[2][key]), key
    large = raster.to(torch.int64) * 1000
    clipped = sim.reset_state()(large, record=True)
    fifteen = sim.reset_state()(raster.to(torch.int64) * 15, record=True)
    for key in RECORD_KEYS:
        assert torch.equal(clipped[2][key], fifteen[2][key]), key


def test_unbatched_input_drops_the_batch_dimension() -> None:
    rng = np.random.default_rng(5)
    spec = moderate_spec(rng, n_hidden=6)
    events = rng.integers(0, 5, (20, 16))
    output, state, record = XyloSim.from_specification(**spec)(events, record=True)
    (ref_output, ref_record) = rockpool_run(spec, events[None])[0][0]
    assert output.shape == (20, 3) and state["Vmem"].shape == (6,)
    assert np.array_equal(output.numpy(), ref_output)
    for key in RECORD_KEYS:
        assert np.array_equal(record[key].numpy(), ref_record[key]), key


@pytest.mark.parametrize("aliases_of_4, threshold_5", [([1, 3], -20000), ([1, 3, 5], -30000)])
def test_extreme_corner_cases_match_rockpool(aliases_of_4: list[int], threshold_5: int) -> None:
    """Membranes driven to −32768 with dash 0 (int16 wrap of the decay), θ ≤ 0 neurons whose
    membrane wraps while spiking, alias chains in both directions and self-aliases. In the
    second case neuron 4's own 31 spikes reach neuron 5 through an alias before neuron 5
    evolves: its own loop (v ≥ θ = −30000) may add none, so its membrane is not raised."""
    n_hidden = 6
    spec = {
        "weights_in": np.array([[-128, -128, 127, 127, -128, 100], [127, -128, -128, 127, 90, -7]]),
        "weights_rec": np.array(
            [[0, 0, 0, 0, 0, 0], [-128] * 6, [127] * 6, [0] * 6, [5] * 6, [0] * 6]
        ),
        "weights_out": np.array([[127, -128], [-128, 127], [90, 90]]),
        "dash_mem": np.array([0, 0, 1, 15, 0, 4]),
        "dash_syn": np.array([0, 1, 0, 2, 15, 0]),
        "dash_syn_2": np.zeros(n_hidden, int),
        "dash_mem_out": np.array([0, 1]),
        "dash_syn_out": np.array([1, 0]),
        "threshold": np.array([-5, 0, 700, -32768, 1, threshold_5]),
        "threshold_out": np.array([-1, 0]),
        "bias": np.array([-32768, 32767, 0, 5, -5, 0]),
        "weight_shift_in": 8,
        "weight_shift_rec": 9,
        "weight_shift_out": 15,
        "aliases": [[3, 1], [0], [2, 5], [4], aliases_of_4, []],
    }
    rng = np.random.default_rng(0)
    events = rng.integers(0, 30, (3, 40, 2))
    ours = XyloSim.from_specification(**spec)(torch.from_numpy(events), record=True)
    assert_matches_rockpool(ours, [runs[0] for runs in rockpool_run(spec, events)])


def test_batch_size_change_without_reset_is_rejected() -> None:
    rng = np.random.default_rng(1)
    sim = XyloSim.from_specification(**moderate_spec(rng, n_hidden=4))
    sim(torch.zeros((2, 3, 16), dtype=torch.int64))
    with pytest.raises(ValueError, match="reset_state"):
        sim(torch.zeros((3, 3, 16), dtype=torch.int64))
    sim.reset_state()
    assert sim(torch.zeros((3, 3, 16), dtype=torch.int64))[0].shape == (3, 3, 3)


@pytest.mark.parametrize(
    ("events", "error", "match"),
    [
        (torch.zeros((4, 16)), TypeError, "integer event counts"),
        (torch.zeros((4, 15), dtype=torch.int64), ValueError, r"\(T, 16\)"),
        (torch.zeros((1, 2, 4, 16), dtype=torch.int64), ValueError, r"\(B, T, 16\)"),
        (-torch.ones((4, 16), dtype=torch.int64), ValueError, "non-negative"),
        ([[0] * 16], TypeError, "^x must be a torch.Tensor or numpy array; got list$"),
    ],
)
def test_malformed_input_is_rejected(events: Any, error: type, match: str) -> None:
    sim = XyloSim.from_specification(**moderate_spec(np.random.default_rng(2), n_hidden=4))
    with pytest.raises(error, match=match):
        sim(events)


def test_dash_zero_decay_of_int16_minimum_wraps_like_xylosim() -> None:
    """With dash_mem 0 a membrane at −32768 decays by −(−32768), which wraps to −32768 in
    xylosim's int16 arithmetic: it stays at −32768 under a moderate positive input instead of
    jumping to about 0."""
    spec = {
        "weights_in": np.array([[[-128, -128]], [[127, 0]]]),
        "weights_out": np.array([[1]]),
        "dash_syn": np.array([15]),
        "dash_syn_2": np.array([1]),
        "threshold": np.array([30000]),
        "threshold_out": np.array([30000]),
        "weight_shift_in": 8,
    }
    # Step 0 drives the membrane to −32768; step 1 adds a net positive current of about 24000.
    events = np.array([[[1, 0], [0, 2], [0, 0]]])
    ours = XyloSim.from_specification(**spec)(torch.from_numpy(events), record=True)
    assert ours[2]["Vmem"][0, 1, 0] == -32768
    assert_matches_rockpool(ours, [runs[0] for runs in rockpool_run(spec, events)])


def test_reduced_float32_matmul_precision_keeps_results_exact() -> None:
    """Under "medium" float32 matmul precision (bf16 products on capable CPUs, TF32 on CUDA) the
    simulator switches its step product to float64 and still matches Rockpool."""
    rng = np.random.default_rng(9)
    spec = moderate_spec(rng, n_hidden=12)
    events = rng.integers(0, 6, (2, 30, 16))
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        ours = XyloSim.from_specification(**spec)(torch.from_numpy(events), record=True)
    finally:
        torch.set_float32_matmul_precision(previous)
    assert_matches_rockpool(ours, [runs[0] for runs in rockpool_run(spec, events)])


def saturating_spec(rng: np.random.Generator, n_hidden: int = 20) -> dict[str, Any]:
    """Full-range weights with shifts, recurrence and events: most currents hit the int16 rails."""
    return {
        "weights_in": rng.integers(-128, 128, (16, n_hidden, 2)),
        "weights_rec": rng.integers(-128, 128, (n_hidden, n_hidden, 2)),
        "weights_out": rng.integers(-128, 128, (n_hidden, 3)),
        "dash_mem": rng.integers(0, 16, n_hidden),
        "dash_syn": rng.integers(0, 16, n_hidden),
        "dash_syn_2": rng.integers(0, 16, n_hidden),
        "threshold": rng.integers(100, 5000, n_hidden),
        "threshold_out": rng.integers(100, 5000, 3),
        "weight_shift_in": 6,
        "weight_shift_rec": 4,
        "weight_shift_out": 2,
    }


COMPILED = [False] + ([True] if importlib.util.find_spec("numba") else [])
"""Whether the step engine may deliver in order with the compiled loop of the [cpu] extra
(``compiled_delivery``): with it, every step with a flagged current takes that loop, so the
torch paths are tested with it switched off."""


@pytest.mark.parametrize("saturating", [True, False])
@pytest.mark.parametrize("tight_bound_after", [0, 10**9])
@pytest.mark.parametrize("scaled_product", [False, True])
@pytest.mark.parametrize("in_order_share", [0.0, 2.0])
@pytest.mark.parametrize("compiled", COMPILED)
def test_every_summation_path_is_exact(
    monkeypatch: pytest.MonkeyPatch, tight_bound_after: int, scaled_product: bool,
    saturating: bool, in_order_share: float, compiled: bool,
) -> None:
    """The per-step sum has two products (on effective weights, or on weights ÷ 2^shift then
    scaled) and five ways to add it: plainly where a cheap bound allows, else replaying every
    candidate of a per-current bound or only those a tight bound flags, or (many flagged)
    every current in order, source run by source run, or every current in order in the
    compiled loop; each combination must match Rockpool, in a network that saturates on
    most steps and in one that never does."""
    import synnet_triton.xylo.step_engine as sim_module

    monkeypatch.setattr(sim_module, "numba_available", lambda: compiled)
    monkeypatch.setattr(sim_module, "_TIGHT_BOUND_AFTER", tight_bound_after)
    monkeypatch.setattr(sim_module, "_IN_ORDER_SHARE", in_order_share)
    rng = np.random.default_rng(21)
    spec = saturating_spec(rng) if saturating else moderate_spec(rng)
    events = rng.integers(0, 20, (2, 25, 16)) * (rng.random((2, 25, 16)) < 0.5)
    sim = XyloSim.from_specification(**spec)
    sim._use_product(scaled=scaled_product)
    ours = sim(torch.from_numpy(events), record=True)
    assert_matches_rockpool(ours, [runs[0] for runs in rockpool_run(spec, events)])


def test_empty_batch_or_time_gives_empty_outputs() -> None:
    sim = XyloSim.from_specification(**moderate_spec(np.random.default_rng(5)))
    for shape in ((0, 7, 16), (2, 0, 16)):
        out, _, record = sim(torch.zeros(shape, dtype=torch.int64), record=True)
        sim.reset_state()
        assert out.shape == (shape[0], shape[1], sim.spec.n_outputs)
        assert record["Vmem"].shape == (shape[0], shape[1], sim.spec.n_hidden)


def test_the_returned_state_is_the_last_recorded_step() -> None:
    """Rockpool's XyloSim returns an empty state; ours returns the final state, which must be
    the last step of the (Rockpool-checked) record, key for key."""
    rng = np.random.default_rng(12)
    sim = XyloSim.from_specification(**moderate_spec(rng, n_hidden=6))
    _, state, record = sim(torch.from_numpy(rng.integers(0, 5, (2, 25, 16))), record=True)
    assert set(state) == {"Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out"}
    for key, value in state.items():
        assert torch.equal(value.to(torch.int64), record[key][:, -1].to(torch.int64)), key


def test_in_order_delivery_groups_only_sources_that_reach_disjoint_currents() -> None:
    """The source runs of the in-order delivery cover every source once, in order, and no two
    sources of a run reach the same current; with sparse weights some runs hold several
    sources, and the sparse network still matches Rockpool when every step goes in order."""
    import synnet_triton.xylo.step_engine as sim_module

    rng = np.random.default_rng(31)
    spec = saturating_spec(rng)
    for name in ("weights_in", "weights_rec"):
        spec[name] = spec[name] * (rng.random(spec[name].shape) < 0.08)
    sim = XyloSim.from_specification(**spec)
    runs = sim_module.disjoint_runs(sim)
    assert [start for start, _, _ in runs] == [0] + [stop for _, stop, _ in runs[:-1]]
    assert runs[-1][1] == sim.drive_weights.shape[0]
    assert any(stop - start > 1 for start, stop, _ in runs)
    for start, stop, weights in runs:
        assert int((weights != 0).sum(0).max()) <= 1, (start, stop)
    events = rng.integers(0, 20, (2, 25, 16)) * (rng.random((2, 25, 16)) < 0.5)
    with patch.object(sim_module, "_IN_ORDER_SHARE", 0.0), \
            patch.object(sim_module, "numba_available", lambda: False):
        ours = sim(torch.from_numpy(events), record=True)
    assert_matches_rockpool(ours, [runs_[0] for runs_ in rockpool_run(spec, events)])


def test_a_carried_state_restored_in_another_simulator_continues_the_run() -> None:
    """carried_state/carry (what hardware-exact training's checkpoints use): the second half
    of a run from the state after the first equals the second half of one whole run."""
    rng = np.random.default_rng(8)
    spec = moderate_spec(rng, n_hidden=10)
    events = torch.from_numpy(rng.integers(0, 6, (3, 30, 16)))
    whole = XyloSim.from_specification(**spec)(events, record=True)
    first = XyloSim.from_specification(**spec)
    assert all(not value.any() for value in first.carried_state(3).values())
    first(events[:, :11])
    second = XyloSim.from_specification(**spec).carry(first.carried_state(3))
    rest = second(events[:, 11:], record=True)
    assert torch.equal(rest[0], whole[0][:, 11:])
    for key, value in rest[2].items():
        assert torch.equal(value, whole[2][key][:, 11:]), key


def test_currents_driven_to_the_negative_rail_match_rockpool() -> None:
    """Inhibitory input only: every current heads for −32768 while the largest current stays
    near 0, so the cheap bound on |current| must come from the most negative one."""
    spec = {
        "weights_in": np.full((2, 3), -100), "weights_out": np.full((3, 1), 1),
        "dash_mem": np.full(3, 4), "dash_syn": np.full(3, 8), "dash_syn_2": np.full(3, 8),
        "threshold": np.full(3, 1000), "threshold_out": np.full(1, 1000),
        "weight_shift_in": 3,
    }
    events = np.full((1, 12, 2), 10)
    events[0, :, 1] = np.arange(12) % 3
    ours = XyloSim.from_specification(**spec)(torch.from_numpy(events), record=True)
    # on the rail: −32768 after the events, minus its decay −32768 >> 8 = −128, recorded
    assert int(ours[2]["Isyn"].min()) == -32768 + 128
    assert_matches_rockpool(ours, [runs[0] for runs in rockpool_run(spec, events)])


def test_steps_in_several_chunks_match_rockpool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Input events are projected a chunk of steps at a time; 25 steps in chunks of 7 (the
    last one short) must give Rockpool's run."""
    import synnet_triton.xylo.step_engine as sim_module

    monkeypatch.setattr(sim_module, "steps_per_chunk", lambda elements: 7)
    rng = np.random.default_rng(5)
    spec = moderate_spec(rng)
    events = rng.integers(0, 6, (2, 25, 16)) * (rng.random((2, 25, 16)) < 0.5)
    ours = XyloSim.from_specification(**spec)(torch.from_numpy(events), record=True)
    assert_matches_rockpool(ours, [runs[0] for runs in rockpool_run(spec, events)])


def test_the_simulator_keeps_dt_and_refuses_a_spec_of_another_type() -> None:
    sim = XyloSim.from_specification(**moderate_spec(np.random.default_rng(3), n_hidden=4),
                                     dt=2e-3)
    assert sim.dt == 2e-3
    # Rockpool's XyloSim steps 1 ms unless told otherwise
    assert XyloSim.from_specification(**moderate_spec(np.random.default_rng(3))).dt == 1e-3
    with pytest.raises(TypeError, match="^spec must be a XyloSpec; got dict$"):
        XyloSim({"weights_in": np.ones((2, 2))})


@pytest.mark.parametrize("tight_bound_after", [0, 10**9])
@pytest.mark.parametrize("compiled", COMPILED)
def test_a_current_two_below_the_rail_at_one_partial_sum_is_replayed(
    monkeypatch: pytest.MonkeyPatch, tight_bound_after: int, compiled: bool,
) -> None:
    """Current −31970, then input 0's event (−800) and input 1's two (+96 each), in xylosim's
    order: −32770 saturates to −32768, then −32576 (hand-derived); the plain sum −32578 is
    off by 2. Both bounds must flag it: the tight one may not let the positive events offset
    the negative ones."""
    import synnet_triton.xylo.step_engine as sim_module

    monkeypatch.setattr(sim_module, "numba_available", lambda: compiled)
    monkeypatch.setattr(sim_module, "_TIGHT_BOUND_AFTER", tight_bound_after)
    monkeypatch.setattr(sim_module, "_IN_ORDER_SHARE", 2.0)
    spec = {"weights_in": np.array([[-100], [12]]), "weights_out": np.ones((1, 1), int),
            "threshold": np.full(1, 1000), "threshold_out": np.full(1, 1000),
            "dash_syn": np.full(1, 15), "weight_shift_in": 3}
    sim = XyloSim.from_specification(**spec)
    state = sim.carried_state(1)
    state["isyn"][0, 0, 0] = -31970
    sim.carry(state)
    _, _, record = sim(torch.tensor([[[1, 2]]]), record=True)
    # after the step's events the current decays by −32576 >> 15 = −1
    assert int(record["Isyn"][0, 0, 0]) == -32576 + 1
