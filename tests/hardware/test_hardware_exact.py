"""Hardware-exact SynNet: outputs bitwise Rockpool's XyloSim on Rockpool's own mapping and
quantisation of the network; gradients equal a literal event-by-event float64 autograd loop
(tests/hardware/literal_xylo.py) that applies the documented straight-through rules."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from bits import bitwise_equal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from literal_xylo import literal_xylo
from xylo_oracle import (
    TARGET_MAPPERS,
    TARGET_SIMULATORS,
    rockpool_channel_quantize,
    rockpool_global_quantize,
)

from synnet_triton.hardware import INTEGER_KEYS, HardwareSynNet, to_hardware, xylo_dynamics
from synnet_triton.hardware import sweep as hardware_sweep
from synnet_triton.nn.synnet import SynNet
from synnet_triton.rockpool import synnet_to_rockpool
from synnet_triton.xylo import XyloSim


def random_net(seed: int, layers: list[int], gain: float, output: str = "spikes",
               n_channels: int = 6, n_classes: int = 3) -> SynNet:
    """A SynNet with Rockpool's initial weights times ``gain`` (large gains saturate)."""
    torch.manual_seed(seed)
    net = SynNet(n_classes=n_classes, n_channels=n_channels, size_hidden_layers=layers,
                 time_constants_per_layer=[min(2, n) for n in layers], output=output,
                 train_threshold=True, backend="torch")
    with torch.no_grad():
        for linear in net.linear_layers():
            linear.weight.mul_(gain)
        for layer in net.neuron_layers()[:-1]:
            layer.threshold.mul_(torch.rand(layer.threshold.shape) + 0.5)
    return net


def rockpool_chip(net: SynNet, quantize: str, target: str, output_mode: str) -> Any:
    """Rockpool's flow: its mapper on its SynNet's graph, its quantiser, its simulator."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = TARGET_MAPPERS[target](synnet_to_rockpool(net).as_graph())
        spec.pop("mapped_graph")
        quantizer = rockpool_global_quantize if quantize == "global" else rockpool_channel_quantize
        spec.update(quantizer(**spec))
        return TARGET_SIMULATORS[target].from_specification(**spec, output_mode=output_mode)


def events(seed: int, batch: int, steps: int, channels: int, rate: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((batch, steps, channels), rate), generator=generator)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), layers=st.lists(st.integers(2, 9), min_size=1, max_size=3),
       gain=st.sampled_from([1.0, 6.0, 40.0]), output=st.sampled_from(["spikes", "vmem"]),
       quantize=st.sampled_from(["global", "channel"]),
       target=st.sampled_from(["xylo-audio2", "xylo-audio3"]), rate=st.sampled_from([0.3, 4.0]))
def test_forward_is_bitwise_rockpools_xylosim_on_rockpools_spec(
        seed, layers, gain, output, quantize, target, rate):
    net = random_net(seed, layers, gain, output)
    hardware = HardwareSynNet(net, quantize=quantize, target=target)
    x = events(seed, 3, 40, 6, rate)
    ours = hardware(x)
    mode = "Vmem" if output == "vmem" else "Spike"
    chip = rockpool_chip(net, quantize, target, mode)
    for sample in range(x.shape[0]):
        chip.reset_state()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference, _, _ = chip(x[sample].numpy().astype(int))
        expected = torch.as_tensor(np.asarray(reference), dtype=torch.float32)
        assert torch.equal(ours[sample].view(torch.int32), expected.view(torch.int32)), sample


def test_its_spec_is_to_xylos_key_for_key():
    for quantize in ("global", "channel"):
        net = random_net(3, [7, 5], 20.0)
        hardware = HardwareSynNet(net, quantize=quantize)
        _, spec = hardware.integer_values()
        expected = net.to_xylo(quantize)
        assert set(spec) == set(expected)
        for key, value in expected.items():
            assert np.array_equal(np.asarray(spec[key]), np.asarray(value)), key


def test_simulator_and_to_xylo_keep_quantize_target_and_output_mode():
    """``to_hardware``'s settings reach ``simulator()`` and ``to_xylo()``: the simulator
    computes what Rockpool's Xylo Audio 3 simulator computes on Rockpool's channel-quantised
    spec, membranes out, and records that chip's keys; ``to_xylo`` is the SynNet's spec for
    the same quantiser and target."""
    net = random_net(5, [5, 4], 6.0, output="vmem")
    hardware = to_hardware(net, "channel", "xylo-audio3")
    x = events(5, 1, 30, 6, 1.0)
    ours, _, record = hardware.simulator()(x.long(), record=True)
    chip = rockpool_chip(net, "channel", "xylo-audio3", "Vmem")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference, _, reference_record = chip(x[0].numpy().astype(int), record=True)
    assert np.array_equal(ours[0].numpy(), np.asarray(reference))
    assert set(record) == set(reference_record)
    spec = hardware.to_xylo()
    for key, value in net.to_xylo("channel", "xylo-audio3").items():
        assert np.array_equal(np.asarray(spec[key]), np.asarray(value)), key
    assert not np.array_equal(spec["weights_in"], net.to_xylo("global")["weights_in"])
    default = to_hardware(net)  # SynNet.to_xylo's defaults
    assert (default.quantize, default.target) == ("global", "xylo-audio2")


# ``rails``: (synapses fed, bias, θ) of every second input-fed neuron, whose currents settle
# near 17 000 each (no delivery clips): i_1 + i_2 leaves int16 and the membrane change clips
# alone (a 10 000 threshold's three spikes keep the membrane below the rail); one current,
# the membrane clips alone; the bias addition clips alone (θ = 32767 resets the membrane to
# 0 after every step at the rail); both currents and a positive bias: every clamp clips;
# −127 on both and a negative bias: the clamps clip at the lower rail.
RAILED = [(2, -3000, 10000, 40), (1, 1000, 32767, 40), (1, 30000, 32767, 40),
          (2, 3000, 20000, 40), (2, -3000, 20000, -127)]


def _integer_leaves(hardware: HardwareSynNet, saturate: bool, recurrent: bool = False,
                    rails: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The network's integer values as float64 leaves, and its spec. ``saturate``: input
    weights 127 (channel 0: −127, so the order of events matters), shifted left by 2: currents
    run along the int16 rails (quantisation alone keeps SynNet's currents inside int16); the
    first layer's thresholds 20000, so its membranes stay off the rails and its gradient flows
    through the saturated deliveries' neighbours. ``recurrent``: every hidden neuron also
    feeds a third of all hidden neurons, itself included (spikes form cycles), with recurrent
    and readout weights shifted left by one. ``rails``
    (with ``saturate``): every second input-fed neuron takes one of the ``RAILED`` settings, so
    that the clamps at int16's upper rail clip, the membrane change's and the membrane's each
    alone somewhere, where the surrogate is large (u = 32767 is 0.36 θ from 2θ at θ = 20000)."""
    _, spec = hardware.integer_values()
    if recurrent:
        rng = np.random.default_rng(0)
        shape = spec["weights_rec"].shape
        extra = rng.integers(-40, 41, shape) * (rng.random(shape) < 0.33)
        # shifted left by one, as a hand-written spec may be (the quantisers' shifts are 0)
        spec = {**spec, "weights_rec": np.clip(spec["weights_rec"] + extra, -128, 127),
                "weight_shift_rec": 1, "weight_shift_out": 1}
    if saturate:
        weights_in = np.where(spec["weights_in"] != 0, 127, 0)
        weights_in[0] *= -1
        threshold = np.where(weights_in.any(axis=(0, 2)), 20000, spec["threshold"])
        spec = {**spec, "weight_shift_in": 2, "weights_in": weights_in, "threshold": threshold}
        if rails:
            # a second synapse (a copy of the first's decay), so that i_1 + i_2 can leave int16
            weights_in = np.concatenate([weights_in, np.zeros_like(weights_in)], axis=2)
            railed = np.flatnonzero(weights_in.any(axis=(0, 2)))[1::2]
            bias, threshold = np.array(spec["bias"]), np.array(spec["threshold"])
            for k, neuron in enumerate(railed):
                synapses, bias[neuron], threshold[neuron], weight = RAILED[k % len(RAILED)]
                weights_in[:, neuron] = 0
                weights_in[:, neuron, :synapses] = weight
            spec = {**spec, "weights_in": weights_in, "bias": bias, "threshold": threshold,
                    "weights_rec": np.concatenate([spec["weights_rec"],
                                                   np.zeros_like(spec["weights_rec"])], axis=2),
                    "dash_syn_2": spec["dash_syn"]}
    leaves = {key: torch.tensor(np.asarray(spec[key]), dtype=torch.float64, requires_grad=True)
              for key in INTEGER_KEYS}
    return leaves, spec


@pytest.mark.parametrize("case", [
    # (seed, layers, gain, events per channel-step, output, saturate): quiet, busy, saturating
    # (currents on the int16 rails, 31-spike caps), two and three layers, vmem readout
    (0, [5], 1.0, 0.5, "spikes", False),
    (1, [6, 4], 6.0, 2.0, "spikes", False),
    (2, [4, 5, 3], 40.0, 6.0, "spikes", True),
    (3, [5, 4], 3.0, 1.0, "vmem", False),
    (4, [6], 8.0, 6.0, "spikes", True),
])
@pytest.mark.parametrize("sweep", ["layered", "layered-segments", "stepwise-segments"])
def test_gradients_equal_the_literal_loop(case, sweep, monkeypatch):
    """Each way the backward can run: the layered sweep (levels of a feedforward network) in
    one segment or in segments of 5 steps (with carries across), and the step-by-step sweep
    (which networks whose spikes form a cycle take), forced here on feedforward ones."""
    seed, layers, gain, rate, output, saturate = case
    if sweep.endswith("segments"):
        monkeypatch.setattr(hardware_sweep, "steps_per_chunk", lambda elements: 5)
    if sweep.startswith("stepwise"):
        monkeypatch.setattr(hardware_sweep, "spike_levels", lambda weights, n_hidden: None)
    _check_gradients_against_the_literal_loop(seed, layers, gain, rate, output, saturate)


@pytest.mark.parametrize("segment_steps", [5, 128])
@pytest.mark.parametrize("saturate", [False, True])
def test_gradients_with_recurrent_cycles_equal_the_literal_loop(segment_steps, saturate,
                                                                monkeypatch):
    """A spec whose hidden spikes form cycles (self-links included) takes the step-by-step
    sweep by itself; also with currents on the int16 rails."""
    monkeypatch.setattr(hardware_sweep, "steps_per_chunk", lambda elements: segment_steps)
    assert hardware_sweep.spike_levels(torch.ones(3, 8), 3) is None
    _check_gradients_against_the_literal_loop(8, [6, 4], 4.0, 1.0, "spikes", saturate,
                                              recurrent=True)


@pytest.mark.parametrize("sweep", ["layered", "stepwise"])
def test_gradients_through_the_readout_currents_equal_the_literal_loop(sweep, monkeypatch):
    """Xylo's third output mode (``output_mode="Isyn"``: the readout's first synaptic
    current), which ``xylo_dynamics`` differentiates for any simulator (a SynNet reads spikes
    or membranes)."""
    if sweep == "stepwise":
        monkeypatch.setattr(hardware_sweep, "spike_levels", lambda weights, n_hidden: None)
    _check_gradients_against_the_literal_loop(6, [5, 4], 3.0, 1.0, "spikes", False,
                                              mode="Isyn")


def test_levels_of_a_synnet_are_its_layers_then_the_readout():
    net = random_net(9, [4, 3, 2], 1.0)
    sim = HardwareSynNet(net).simulator()
    n_in = sim.spec.n_inputs
    levels = hardware_sweep.spike_levels(sim.drive_weights[n_in:], sim.spec.n_hidden)
    assert levels == [slice(0, 4), slice(4, 7), slice(7, 9), slice(9, 12)]


def _check_gradients_against_the_literal_loop(seed, layers, gain, rate, output, saturate,
                                              recurrent=False, mode=None, rails=False):
    net = random_net(seed, layers, gain, output)
    hardware = HardwareSynNet(net, quantize="channel" if output == "vmem" else "global")
    leaves, spec = _integer_leaves(hardware, saturate, recurrent, rails)
    x = events(seed, 2, 24, 6, rate)
    mode = mode or hardware.output_mode
    sim = XyloSim.from_specification(**spec, verify_config=False, output_mode=mode)
    ours = xylo_dynamics(x.long(), sim, leaves, hardware.window)
    weights = torch.randn(ours.shape, generator=torch.Generator().manual_seed(seed))
    ours_grads = torch.autograd.grad((ours * weights).sum(), list(leaves.values()))

    oracle_leaves = {key: value.detach().clone().requires_grad_() for key, value in leaves.items()}
    oracle = literal_xylo(spec, oracle_leaves, x.numpy().astype(int), hardware.window, mode)
    assert torch.equal(ours.double(), oracle.detach())
    oracle_grads = torch.autograd.grad((oracle * weights.double()).sum(),
                                       list(oracle_leaves.values()), allow_unused=True)
    for key, mine, theirs in zip(INTEGER_KEYS, ours_grads, oracle_grads, strict=True):
        theirs = torch.zeros_like(mine) if theirs is None else theirs
        # weights: the tolerance scales with each target neuron's own gradients (a layer with
        # high thresholds has gradients 10⁷ times smaller than the next one's), down to 10⁻⁹
        # of the largest (float32 underflows where the float64 oracle has 10⁻¹⁵⁷)
        largest = theirs.abs().max() + 1e-12
        scale = (theirs.abs().amax(dim=(0, 2), keepdim=True) if theirs.dim() == 3 else largest)
        tolerance = 1e-4 * theirs.abs() + 1e-5 * scale + 1e-9 * largest
        assert bool(((mine - theirs).abs() <= tolerance).all()), (key, mine, theirs)
        if key.startswith("weights") and not saturate:
            assert float(mine.abs().sum()) > 0, key
    assert sum(float(grad.abs().sum()) for grad in ours_grads) > 0


def test_saturating_case_exercises_every_straight_through_rule():
    """The saturating case of the gradient test really clips deliveries and hits the 31-spike
    cap (otherwise it would not test those rules)."""
    net = random_net(2, [4, 5, 3], 40.0)
    _, spec = _integer_leaves(HardwareSynNet(net), saturate=True)
    sim = XyloSim.from_specification(**spec, verify_config=False)
    sim.clip_log = []
    _, _, record = sim(events(2, 2, 24, 6, 6.0).long(), record=True)
    assert sum(len(rows) for _, rows, _ in sim.clip_log) > 0
    assert int(record["Spikes"].max()) == 31


@pytest.mark.parametrize("sweep", ["layered", "stepwise"])
def test_gradients_with_membranes_on_the_int16_rails_equal_the_literal_loop(sweep, monkeypatch):
    """Membrane change, bias addition and membrane clipped at 32767 (``rails``): the clamps
    pass no gradient there, as the literal loop's ``torch.clamp``. One hidden layer and
    membranes out: the readout's gradient reaches the railed neurons' spikes without passing
    through a surrogate (a second layer at its 31-spike cap would pass almost none)."""
    net = random_net(5, [10], 8.0, "vmem")
    _, spec = _integer_leaves(HardwareSynNet(net, "channel"), saturate=True, rails=True)
    sim = XyloSim.from_specification(**spec, verify_config=False)
    _, _, record = sim(events(5, 2, 24, 6, 6.0).long(), record=True)
    isyn = record["Isyn"].long() + record["Isyn2"].long()
    before_spikes = record["Vmem"].long() + record["Spikes"].long() * torch.as_tensor(
        spec["threshold"])
    assert int(isyn.max()) > 32767 and int(before_spikes.max()) == 32767
    assert int(isyn.min()) < -32768 and int(record["Vmem"].min()) == -32768
    if sweep == "stepwise":
        monkeypatch.setattr(hardware_sweep, "spike_levels", lambda weights, n_hidden: None)
    _check_gradients_against_the_literal_loop(5, [10], 8.0, 6.0, "vmem", True, rails=True)


def test_float_gradients_are_the_quantisers_scale_times_the_integer_ones():
    """Global quantisation: w_int = round(w · 127 / max|w|); straight through, ∂L/∂w is that
    scale times ∂L/∂w_int (hand-derived; the scale itself is held constant)."""
    net = random_net(4, [6], 1.0)
    hardware = HardwareSynNet(net)
    values, _ = hardware.integer_values()
    first = net.linear_layers()[0].weight
    grad_int, = torch.autograd.grad((values["weights_in"] * 1.0).sum() * 0 + (
        values["weights_in"][0, 0, 0] * 3.0), [values["weights_in"]], retain_graph=True)
    grad_float, = torch.autograd.grad(values["weights_in"][0, 0, 0] * 3.0, [first])
    largest = max(float(layer.weight.abs().max()) for layer in net.linear_layers()[:-1])
    assert float(grad_int[0, 0, 0]) == 3.0
    assert float(grad_float[0, 0]) == pytest.approx(3.0 * 127 / largest, rel=1e-6)
    assert int((grad_float != 0).sum()) == 1


def _saved_for_backward(forward) -> list[torch.Tensor]:  # type: ignore[no-untyped-def]
    """Every tensor autograd saves for the backward while ``forward()`` runs."""
    saved: list[torch.Tensor] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward()
    return saved


def test_backward_saves_at_most_8_bytes_per_neuron_step():
    net = random_net(5, [40, 20], 3.0)
    hardware = HardwareSynNet(net)
    x = events(5, 4, 60, 6, 1.0)
    saved = _saved_for_backward(lambda: hardware(x))
    neuron_steps = x.shape[0] * x.shape[1] * (60 + 3)
    stored = {t.data_ptr(): t.numel() * t.element_size() for t in saved
              if t.dim() == 3 and t.shape[:2] == x.shape[:2] and t.shape[2] != x.shape[2]}
    assert 0 < sum(stored.values()) <= 8 * neuron_steps


@pytest.mark.parametrize("bad, error, words", [
    (torch.full((2, 5, 6), 0.5), ValueError, "^x must hold integer event counts"),
    (torch.full((2, 5, 6), -1.0), ValueError, "^x must hold non-negative event counts"),
    (torch.full((2, 5, 6), float("nan")), ValueError, "^x must be finite"),
    (torch.zeros(2, 5, 4), ValueError, r"^x must have shape \(B, T, 6\) or \(T, 6\); got \(2, 5"),
    (torch.zeros(1, 2, 5, 6), ValueError, r"^x must have shape .*; got \(1, 2, 5, 6\)"),
    (torch.zeros(2, 5, 6, dtype=torch.bool), TypeError, "^x must hold event counts .*torch.bool"),
    (np.zeros((2, 5, 6)), TypeError, "^x must be a torch.Tensor; got ndarray"),
])
def test_bad_input_names_x_and_what_was_expected(bad, error, words):
    hardware = HardwareSynNet(random_net(6, [4], 1.0))
    with pytest.raises(error, match=words):
        hardware(bad)


def test_one_unbatched_sequence_is_a_batch_of_one():
    hardware = HardwareSynNet(random_net(6, [4], 6.0))
    x = events(6, 1, 30, 6, 1.0)
    assert bitwise_equal(hardware(x[0]), hardware(x))


def test_bad_arguments_are_refused():
    net = random_net(7, [4], 1.0)
    with pytest.raises(ValueError, match="quantize"):
        HardwareSynNet(net, quantize="per-layer")
    with pytest.raises(ValueError, match="backend must be one of"):
        HardwareSynNet(net, backend="gpu")
    with pytest.raises(TypeError, match="^net must be a synnet_triton.nn.SynNet; got Linear"):
        HardwareSynNet(torch.nn.Linear(2, 2))  # type: ignore[arg-type]
    for window in (0.0, -0.5):
        with pytest.raises(ValueError, match="^window must be positive; got"):
            HardwareSynNet(net, window=window)
    assert HardwareSynNet(net, window=0.25).window == 0.25
    assert HardwareSynNet(net, checkpoint_every=1).checkpoint_every == 1  # every step kept
    from synnet_triton.xylo import DesignError

    wide = random_net(7, [500], 1.0)  # fits Xylo Audio 2 (1000 hidden), not Xylo IMU (496)
    HardwareSynNet(wide)
    with pytest.raises(DesignError):
        HardwareSynNet(wide, target="xylo-imu")


def test_xylo_dynamics_default_window_is_half_a_threshold():
    hardware = HardwareSynNet(random_net(8, [5, 4], 6.0))
    values, spec = hardware.integer_values()
    sim = XyloSim.from_specification(**spec, verify_config=False)
    x = events(8, 2, 20, 6, 1.0).long()
    grads = []
    for window in ((), (0.5,)):
        leaves = {key: values[key].detach().clone().requires_grad_() for key in INTEGER_KEYS}
        out = xylo_dynamics(x, sim, leaves, *window)
        grads.append(torch.autograd.grad(out.sum(), list(leaves.values())))
    for default, half in zip(*grads, strict=True):
        assert bitwise_equal(default, half)


@pytest.mark.parametrize("case", [
    (0, [5], 1.0, 0.5, "spikes"), (2, [4, 5, 3], 40.0, 6.0, "spikes"),
    (3, [5, 4], 3.0, 1.0, "vmem"),
])
def test_the_cuda_path_is_bitwise_the_cpu_path(case):
    """What runs on CUDA — the forward one Triton launch per layer, the backward's sweeps
    Triton scans (here under the interpreter on the CPU) — gives the CPU path's outputs and
    gradients bit for bit."""
    seed, layers, gain, rate, output = case
    x = events(seed, 2, 30, 6, rate)

    def run(backend: str) -> list[torch.Tensor]:
        net = random_net(seed, layers, gain, output)
        out = HardwareSynNet(net, backend=backend)(x)
        out.mul(torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        return [out, *(p.grad for p in net.parameters() if p.grad is not None)]

    expected = run("torch")
    ours = run("triton")
    assert len(ours) == len(expected) > 1
    for got, want in zip(ours, expected, strict=True):
        assert bitwise_equal(got, want)


@pytest.mark.parametrize("case", [
    (1, [6, 4], 6.0, 2.0, "spikes", False), (2, [4, 5, 3], 40.0, 6.0, "spikes", True),
    (3, [5, 4], 3.0, 1.0, "vmem", False),
])
@pytest.mark.parametrize("every", [1, 7, 24, 100])
def test_checkpointing_replays_the_same_gradients(case, every, monkeypatch):
    """checkpoint_every=K keeps the state every K steps and re-simulates each segment in the
    backward: outputs and gradients bit for bit those of the recorded forward swept in the
    same segments (K = 1, K not dividing T, K = T, K > T), whatever the cache-sized segment
    length (5 steps during the checkpointed run) would have been."""
    seed, layers, gain, rate, output, saturate = case
    hardware = HardwareSynNet(random_net(seed, layers, gain, output))
    leaves, spec = _integer_leaves(hardware, saturate)
    x = events(seed, 2, 24, 6, rate).long()
    sim = XyloSim.from_specification(**spec, verify_config=False,
                                     output_mode=hardware.output_mode)
    weights = torch.randn(2, 24, 3, generator=torch.Generator().manual_seed(seed))
    results = []
    for checkpoint_every in (None, every):
        segment = every if checkpoint_every is None else 5
        monkeypatch.setattr(hardware_sweep, "steps_per_chunk",
                            lambda elements, segment=segment: segment)
        run_leaves = {k: v.detach().clone().requires_grad_() for k, v in leaves.items()}
        out = xylo_dynamics(x, sim, run_leaves, hardware.window, checkpoint_every)
        grads = torch.autograd.grad((out * weights).sum(), list(run_leaves.values()))
        results.append([out, *grads])
    for got, want in zip(*results, strict=True):
        assert bitwise_equal(got, want)


def test_checkpointing_saves_the_state_every_k_steps_only():
    net = random_net(5, [40, 20], 3.0)
    x = events(5, 4, 64, 6, 1.0)
    saved = _saved_for_backward(lambda: HardwareSynNet(net, checkpoint_every=16)(x))
    population = 60 + 3
    per_step = [t for t in saved if t.dim() == 3 and t.shape[:2] == x.shape[:2]
                and t.shape[2] != x.shape[2]]
    assert per_step == []  # no record of every step
    states = sum(t.numel() * t.element_size() for t in saved if t.shape[0] == x.shape[0]
                 and t.dim() in (2, 3) and t.shape[-1] == population)
    # isyn (B, 2, P), vmem and spikes (B, P), int32, at steps 0, 16, 32, 48
    assert states == 4 * x.shape[0] * population * 4 * 4


def test_checkpoint_every_comes_from_the_synnet_and_is_checked():
    net = SynNet(n_classes=3, n_channels=6, size_hidden_layers=[4], time_constants_per_layer=[2],
                 backend="torch", checkpoint_every=9)
    assert HardwareSynNet(net).checkpoint_every == 9
    assert HardwareSynNet(net, checkpoint_every=3).checkpoint_every == 3
    with pytest.raises(ValueError, match="checkpoint_every"):
        HardwareSynNet(net, checkpoint_every=0)
