"""XyloSim layer by layer (``backend="triton"``: one Triton launch per layer, here under the
Triton interpreter on the CPU) against Rockpool's XyloSim sample by sample, and against the
step-by-step engine for what Rockpool does not show (carried state across calls, the
saturated deliveries hardware-exact training reads).

Specs have a SynNet's structure (inputs → layer 1 → … → layer L → readout, from 1 to 3 hidden
layers) and are drawn to be hard: full int8 weights with weight shifts (currents on the int16
rails), every dash 0–15, thresholds ≤ 0 (xylosim's wrapping loop), biases, up to 40 input
events per channel-step (clipped to 15), hidden neurons reaching the 31-spike cap.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from bits import bitwise_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_xylo_sim import assert_matches_rockpool, rockpool_run

from synnet_triton.xylo import XyloSim
from synnet_triton.xylo.layers import layer_slices, spike_levels


@st.composite
def layered_specs(draw: st.DrawFn) -> tuple[dict[str, Any], list[int], np.ndarray]:
    """A SynNet-shaped spec, its layer sizes and events (B, T, Nin)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layers = draw(st.lists(st.integers(1, 7), min_size=1, max_size=3))
    n_in, n_out = draw(st.integers(1, 16)), draw(st.integers(1, 4))
    n_hidden = sum(layers)
    synapses = draw(st.sampled_from([1, 2]))
    scale = draw(st.sampled_from([4, 128]))
    shifts = st.integers(0, 6) if scale == 128 else st.integers(0, 2)

    def weights(shape: tuple[int, ...], density: float) -> np.ndarray:
        return rng.integers(-scale, scale, shape) * (rng.random(shape) < density)

    def thresholds(count: int) -> np.ndarray:
        positive = rng.integers(1, 3000, count) // rng.integers(1, 40, count) + 1
        return np.where(rng.random(count) < 0.15, rng.integers(-3000, 1, count), positive)

    syn = (synapses,) if synapses == 2 else ()
    weights_in = np.zeros((n_in, n_hidden, *syn), dtype=np.int64)
    weights_in[:, :layers[0]] = weights((n_in, layers[0], *syn), 0.8)
    weights_rec = np.zeros((n_hidden, n_hidden, *syn), dtype=np.int64)
    starts = np.cumsum([0, *layers])
    for a, b, c in zip(starts[:-2], starts[1:-1], starts[2:], strict=True):
        weights_rec[a:b, b:c] = weights((b - a, c - b, *syn), 0.8)
    n_readout = int(draw(st.integers(1, layers[-1])))
    spec: dict[str, Any] = {
        "weights_in": weights_in, "weights_rec": weights_rec,
        "weights_out": weights((n_readout, n_out), 0.9),
        "dash_mem": rng.integers(0, 16, n_hidden), "dash_syn": rng.integers(0, 16, n_hidden),
        "dash_syn_2": rng.integers(0, 16, n_hidden),
        "dash_mem_out": rng.integers(0, 16, n_out), "dash_syn_out": rng.integers(0, 16, n_out),
        "threshold": thresholds(n_hidden), "threshold_out": thresholds(n_out),
        "weight_shift_in": draw(shifts), "weight_shift_rec": draw(shifts),
        "weight_shift_out": draw(shifts), "verify_config": False,
        "output_mode": draw(st.sampled_from(["Spike", "Vmem", "Isyn"])),
    }
    if draw(st.booleans()):
        spec["bias"] = rng.integers(-2000, 2000, n_hidden)
        spec["bias_out"] = rng.integers(-2000, 2000, n_out)
    batch, steps = draw(st.integers(1, 3)), draw(st.integers(1, 20))
    events = rng.integers(0, 40, (batch, steps, n_in)) * (rng.random((batch, steps, n_in)) < 0.5)
    return spec, layers, events


ENGINE_BACKENDS = {"steps": "torch", "layers": "triton"}


def simulator(spec: dict[str, Any], engine: str) -> XyloSim:
    """The simulator running ``engine``: "steps" (backend torch) or "layers" (triton)."""
    return XyloSim.from_specification(**spec, backend=ENGINE_BACKENDS[engine])


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(layered_specs())
def test_layer_by_layer_matches_rockpool_sample_by_sample(drawn) -> None:
    spec, layers, events = drawn
    sim = simulator(spec, "layers")
    assert sim._layers is not None  # levels: fewer than the layers where weights are zero
    ours = sim(torch.from_numpy(events), record=True)
    assert_matches_rockpool(ours, [runs[0] for runs in rockpool_run(spec, events)])


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(layered_specs())
def test_layer_by_layer_equals_step_by_step_across_calls_with_its_clip_log(drawn) -> None:
    """Two calls (the second continues from the carried state, pending spikes included), every
    output, record and state bitwise, and the same saturated deliveries."""
    spec, _, events = drawn
    x = torch.from_numpy(events)
    results = {}
    for engine in ("steps", "layers"):
        sim = simulator(spec, engine)
        outputs, clipped = [], []
        for _ in range(2):
            sim.clip_log = []
            output, state, record = sim(x, record=True)
            outputs += [output, *state.values(), *record.values()]
            clipped.append({(step, int(r), int(c)) for step, rows, cols in sim.clip_log
                            for r, c in zip(rows, cols, strict=True)})
        results[engine] = (outputs, clipped)
    (steps_out, steps_clips), (layers_out, layers_clips) = results["steps"], results["layers"]
    for got, want in zip(layers_out, steps_out, strict=True):
        assert torch.equal(got.view(torch.int16), want.view(torch.int16))
    assert layers_clips == steps_clips


def test_a_saturating_spec_really_clips_and_caps() -> None:
    """The strategy reaches what it is meant to test: deliveries that saturation changes and
    hidden neurons at the 31-spike cap, and the layer engine reports them as the steps do."""
    rng = np.random.default_rng(0)
    layers = [6, 5]
    spec = {
        "weights_in": np.concatenate([np.full((4, 6), 127), np.zeros((4, 5), int)], 1),
        "weights_rec": np.zeros((11, 11), int), "weights_out": rng.integers(-60, 60, (5, 2)),
        "dash_mem": np.full(11, 6), "dash_syn": np.full(11, 6), "dash_syn_2": np.full(11, 6),
        "threshold": np.full(11, 40), "threshold_out": np.full(2, 300),
        "weight_shift_in": 4, "verify_config": False,
    }
    spec["weights_rec"][:6, 6:] = rng.integers(-100, 100, (6, 5))
    events = torch.full((2, 12, 4), 15)
    sim = simulator(spec, "layers")
    sim.clip_log = []
    _, _, record = sim(events, record=True)
    assert sim._layers == [slice(0, 6), slice(6, 11), slice(11, 13)]
    assert len(layers) + 1 == len(sim._layers)
    assert sum(len(rows) for _, rows, _ in sim.clip_log) > 0
    assert int(record["Spikes"].max()) == 31


# Two inputs, three hidden neurons, one readout: fed forward, or with spikes in a cycle.
TINY_LAYERED: dict[str, Any] = {
    "weights_in": np.ones((2, 3), int), "weights_out": np.ones((3, 1), int),
    "threshold": np.full(3, 5), "threshold_out": np.full(1, 5), "verify_config": False,
}
TINY_CYCLIC = {**TINY_LAYERED, "weights_rec": np.eye(3, dtype=int)[[1, 2, 0]]}


def test_specs_whose_spikes_form_cycles_have_no_layers() -> None:
    sim = XyloSim.from_specification(**TINY_CYCLIC, backend="triton")
    assert spike_levels(sim.drive_weights[2:], 3) is None
    assert layer_slices(sim.drive_weights[2:], 3) is None
    with pytest.raises(ValueError, match="only go forward"):
        sim(torch.ones(1, 3, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"^backend must be one of \('auto', 'torch', "
                       r"'triton'\), got 'fastest'$"):
        XyloSim.from_specification(**TINY_CYCLIC, backend="fastest")


def test_auto_runs_steps_on_the_cpu_without_a_warning() -> None:
    sim = XyloSim.from_specification(**TINY_LAYERED)
    assert sim.backend == "auto" and sim.resolved_backend(torch.device("cpu")) == "torch"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sim(torch.ones(1, 4, 2, dtype=torch.int64))


def test_which_backend_runs_on_which_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dispatch decides from the device's type alone, so a CUDA device object stands in
    for a GPU: "auto" runs the layer kernels on CUDA for a layered spec with Triton installed,
    and steps otherwise, warning once (a cyclic spec, or no Triton); "torch"/"triton" force
    (Triton on the CPU here because the tests run under the Triton interpreter)."""
    import synnet_triton.ops.dispatch as dispatch

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    expected = {("auto", cuda): "triton", ("auto", cpu): "torch", ("torch", cuda): "torch",
                ("torch", cpu): "torch", ("triton", cuda): "triton", ("triton", cpu): "triton"}
    for (backend, device), resolved in expected.items():
        layered = XyloSim.from_specification(**TINY_LAYERED, backend=backend)
        assert layered.resolved_backend(device) == resolved, (backend, device)

    def steps_with_one_warning(sim: XyloSim) -> None:
        with pytest.warns(UserWarning, match="^XyloSim on CUDA runs one step at a time: the "
                          "layer-by-layer kernels need a spec whose spikes only go forward "
                          "from layer to layer, no aliases, and Triton$"):
            assert sim.resolved_backend(cuda) == "torch"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert sim.resolved_backend(cuda) == "torch"

    steps_with_one_warning(XyloSim.from_specification(**TINY_CYCLIC))
    monkeypatch.setattr(dispatch, "triton_available", lambda: False)
    steps_with_one_warning(XyloSim.from_specification(**TINY_LAYERED))
    aliased = {**TINY_LAYERED, "aliases": [[1], [], []]}
    for spec in (TINY_CYCLIC, aliased):
        sim = XyloSim.from_specification(**spec, backend="triton")
        with pytest.raises(ValueError, match=r"^backend='triton' needs a spec whose spikes only "
                           r"go forward from layer to layer \(as a SynNet's\) and no "
                           r"aliases$"):
            sim.resolved_backend(cpu)


def test_thresholds_at_zero_and_below_follow_xylosims_loop() -> None:
    """θ = 0 spikes the cap on every step whose membrane is ≥ 0 (xylosim's loop never lowers
    it); θ < 0 wraps the membrane; against Rockpool and the step engine."""
    spec = {
        "weights_in": np.array([[60, -60, 60, 90], [-30, 30, 20, 90]]),
        "weights_rec": np.zeros((4, 4), int), "weights_out": np.array([[40], [-40], [40], [9]]),
        "dash_mem": np.array([2, 2, 1, 3]), "dash_syn": np.array([1, 1, 2, 2]),
        "threshold": np.array([0, -5, 0, 700]), "threshold_out": np.array([0]),
        "verify_config": False,
    }
    events = np.random.default_rng(0).integers(0, 4, (2, 12, 2))
    ours = simulator(spec, "layers")(torch.from_numpy(events), record=True)
    assert int(ours[2]["Spikes"][..., 0].max()) == 31
    assert_matches_rockpool(ours, [runs[0] for runs in rockpool_run(spec, events)])
    steps = simulator(spec, "steps")(torch.from_numpy(events), record=True)
    assert torch.equal(ours[0], steps[0])


def test_layer_engine_without_record_gives_the_step_engines_output() -> None:
    """Without a record only the readout is traced: the layer engine must hand back the
    output neurons' spikes, not the whole population's."""
    rng = np.random.default_rng(4)
    # inputs → neurons 0, 1 → neurons 2, 3 → the readout
    weights_in, weights_rec = np.zeros((3, 4), int), np.zeros((4, 4), int)
    weights_in[:, :2] = rng.integers(20, 60, (3, 2))
    weights_rec[:2, 2:] = rng.integers(20, 60, (2, 2))
    spec = {"weights_in": weights_in, "weights_rec": weights_rec,
            "weights_out": np.array([[0], [0], [60], [60]]), "threshold": np.full(4, 40),
            "threshold_out": np.full(1, 40), "dash_mem": np.full(4, 2), "dash_syn": np.full(4, 2),
            "dash_mem_out": np.full(1, 2), "dash_syn_out": np.full(1, 2), "verify_config": False}
    events = torch.from_numpy(rng.integers(0, 4, (2, 15, 3)))
    outputs = []
    for engine in ("steps", "layers"):
        sim = simulator(spec, engine)
        outputs.append(sim(events)[0])
    assert int(outputs[0].sum()) > 0 and bitwise_equal(outputs[0], outputs[1])
