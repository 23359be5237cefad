"""Bad input to the public entry points beyond ``lif``/``LIF`` (``test_lif_validation.py``):
``lif_decays``, ``SynNet``, ``XyloSim``, ``LIFTriton``, the audio front end and the data
helpers. Each error must be a TypeError/ValueError whose message names the argument. Then: no
public function modifies its inputs (or a module's parameters) in place.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from synnet_triton import LIF, LIFState, lif_decays
from synnet_triton.kws.audio import FrontEndConfig, audio_to_events
from synnet_triton.kws.data import EventSet, KeywordSetConfig, load_wav_folder, synthetic_audio
from synnet_triton.nn.synnet import SynNet
from synnet_triton.rockpool import LIFTriton, synnet_from_rockpool, synnet_to_rockpool
from synnet_triton.xylo import XyloSim

X = torch.zeros(2, 5, 6)
SPEC = dict(weights_in=np.ones((3, 4, 2), dtype=np.int64), weights_out=np.ones((4, 2), np.int64))


def _net(**kwargs) -> SynNet:
    arguments = dict(n_classes=2, n_channels=3, size_hidden_layers=[4],
                     time_constants_per_layer=[2])
    return SynNet(**{**arguments, **kwargs})


def _state(n: int, batch: int = 1) -> LIFState:
    return LIFState(torch.zeros(batch, n), torch.zeros(batch, n, 1), torch.zeros(batch, n))


def _xylo(**kwargs) -> XyloSim:
    return XyloSim.from_specification(**{**SPEC, **kwargs})


def _int_array(shape, value=0):
    return np.full(shape, value, dtype=np.int64)


CASES = [
    # lif_decays: decays instead of time constants
    ("lif_decays alpha nan", lambda: lif_decays(X, float("nan"), 0.5), ValueError, "alpha"),
    ("lif_decays beta shape", lambda: lif_decays(X, 0.5, torch.ones(5, 1)), ValueError, "beta"),
    ("lif_decays beta inf", lambda: lif_decays(X, 0.5, float("inf")), ValueError, "beta"),
    ("lif_decays alpha int", lambda: lif_decays(X, torch.ones(6, dtype=torch.int64), 0.5),
     TypeError, "alpha"),
    ("lif_decays threshold", lambda: lif_decays(X, 0.5, 0.5, -1.0), ValueError, "threshold"),
    ("lif_decays bias nan", lambda: lif_decays(X, 0.5, 0.5, 1.0, float("nan")), ValueError,
     "bias"),
    ("lif_decays noise shape", lambda: lif_decays(X, 0.5, 0.5, noise=torch.zeros(2, 4, 6)),
     ValueError, "noise"),
    ("lif_decays noise numpy", lambda: lif_decays(X, 0.5, 0.5, noise=np.zeros((2, 5, 6))),
     TypeError, "noise"),
    ("lif_decays x int", lambda: lif_decays(X.int(), 0.5, 0.5), TypeError, r"\bx\b"),
    ("lif_decays x empty width", lambda: lif_decays(torch.zeros(2, 5, 0), 0.5, 0.5),
     ValueError, r"\bx\b"),
    ("lif_decays window", lambda: lif_decays(X, 0.5, 0.5, learning_window="a"), TypeError,
     "learning_window"),
    ("lif_decays max_spikes", lambda: lif_decays(X, 0.5, 0.5, max_spikes_per_dt=torch.ones(2)),
     ValueError, "max_spikes_per_dt"),
    ("lif_decays isyn dtype", lambda: lif_decays(X, 0.5, 0.5, initial_state=LIFState(
        torch.zeros(2, 6), torch.zeros(2, 6, 1, dtype=torch.int64), torch.zeros(2, 6))),
     TypeError, "initial_state.isyn"),
    ("lif_decays lengths dtype", lambda: lif_decays(X, 0.5, 0.5, lengths=torch.ones(2)),
     TypeError, "lengths"),
    ("lif_decays w_rec", lambda: lif_decays(X, 0.5, 0.5, w_rec=torch.zeros(6, 5)), ValueError,
     "w_rec"),
    # LIF constructor arguments not in test_lif_validation.py
    ("LIF n_synapses", lambda: LIF(3, 0), ValueError, "n_synapses"),
    ("LIF n_neurons float", lambda: LIF(3.0), ValueError, "n_neurons"),
    ("LIF tau_syn shape", lambda: LIF(3, 2, tau_syn=torch.ones(3)), ValueError, "tau_syn"),
    ("LIF threshold", lambda: LIF(3, threshold=-1.0), ValueError, "threshold"),
    ("LIF backend", lambda: LIF(3, backend="gpu"), ValueError, "backend"),
    ("LIF dt", lambda: LIF(3, dt=-1.0), ValueError, r"\bdt\b"),
    ("LIF noise_std", lambda: LIF(3, noise_std=-1.0), ValueError, "noise_std"),
    ("LIF checkpoint_every", lambda: LIF(3, checkpoint_every=0), ValueError,
     "checkpoint_every"),
    ("LIF state batch", lambda: LIF(3)(torch.zeros(1, 4, 3), _state(3, batch=2)), ValueError,
     "initial_state.vmem"),
    # SynNet constructor
    ("SynNet n_classes", lambda: _net(n_classes=0), ValueError, "n_classes"),
    ("SynNet n_channels", lambda: _net(n_channels=-1), ValueError, "n_channels"),
    ("SynNet n_channels float", lambda: _net(n_channels=3.0), ValueError, "n_channels"),
    ("SynNet size_hidden_layers", lambda: _net(size_hidden_layers=[0],
                                               time_constants_per_layer=[1]),
     ValueError, r"size_hidden_layers\[0\]"),
    ("SynNet no hidden layer", lambda: _net(size_hidden_layers=[], time_constants_per_layer=[]),
     ValueError, "size_hidden_layers"),
    ("SynNet time_constants_per_layer", lambda: _net(time_constants_per_layer=[0]), ValueError,
     r"time_constants_per_layer\[0\]"),
    ("SynNet p_dropout", lambda: _net(p_dropout=-0.1), ValueError, "p_dropout"),
    ("SynNet p_dropout nan", lambda: _net(p_dropout=float("nan")), ValueError, "p_dropout"),
    ("SynNet threshold", lambda: _net(threshold=0.0), ValueError, "threshold"),
    ("SynNet threshold nan", lambda: _net(threshold=float("nan")), ValueError, "threshold"),
    ("SynNet threshold_out count", lambda: _net(threshold_out=[1.0, 1.0, 1.0]), ValueError,
     "threshold_out"),
    ("SynNet tau_mem", lambda: _net(tau_mem=0.0), ValueError, "tau_mem"),
    ("SynNet dt negative", lambda: _net(dt=-1e-3), ValueError, r"\bdt\b"),
    ("SynNet max_spikes_per_dt", lambda: _net(max_spikes_per_dt=0), ValueError,
     "max_spikes_per_dt"),
    ("SynNet backend", lambda: _net(backend="gpu"), ValueError, "backend"),
    ("SynNet checkpoint_every", lambda: _net(checkpoint_every=0), ValueError,
     "checkpoint_every"),
    ("SynNet neuron_kwargs key", lambda: _net(neuron_kwargs={"foo": 1}), ValueError,
     "neuron_kwargs"),
    ("SynNet learning_window", lambda: _net(neuron_kwargs={"learning_window": -1.0}),
     ValueError, "learning_window"),
    ("SynNet output", lambda: _net(output="x"), ValueError, "output"),
    # SynNet.forward
    ("SynNet x list", lambda: _net()([[0.0] * 3]), TypeError, r"\bx\b"),
    ("SynNet x 4-d", lambda: _net()(torch.zeros(1, 1, 4, 3)), ValueError, r"\bx\b"),
    ("SynNet x 1-d", lambda: _net()(torch.zeros(3)), ValueError, r"\bx\b"),
    ("SynNet state entries", lambda: _net()(torch.zeros(1, 4, 3), [1, 2]), ValueError, "state"),
    ("SynNet state shapes", lambda: _net()(torch.zeros(1, 4, 3), [_state(5), _state(2)]),
     ValueError, "vmem"),
    # XyloSim.from_specification
    ("Xylo float weights", lambda: XyloSim.from_specification(
        weights_in=np.full((3, 4), 0.5), weights_out=_int_array((4, 2))), TypeError,
     "weights_in"),
    ("Xylo nan weights", lambda: XyloSim.from_specification(
        weights_in=np.full((3, 4), np.nan), weights_out=_int_array((4, 2))), TypeError,
     "weights_in"),
    ("Xylo int8 range", lambda: XyloSim.from_specification(
        weights_in=_int_array((3, 4), 200), weights_out=_int_array((4, 2))), ValueError,
     "weights_in"),
    ("Xylo weights_out range", lambda: XyloSim.from_specification(
        weights_in=_int_array((3, 4)), weights_out=_int_array((4, 2), -129)), ValueError,
     "weights_out"),
    ("Xylo weights_in 1-d", lambda: XyloSim.from_specification(
        weights_in=_int_array(3), weights_out=_int_array((4, 2))), ValueError, "weights_in"),
    ("Xylo weights_rec square", lambda: _xylo(weights_rec=_int_array((4, 3))), ValueError,
     "weights_rec"),
    ("Xylo weights_out rows", lambda: XyloSim.from_specification(
        weights_in=_int_array((3, 4)), weights_out=_int_array((5, 2))), ValueError,
     "weights_out"),
    ("Xylo dash_mem", lambda: _xylo(dash_mem=_int_array(4, 16)), ValueError, "dash_mem"),
    ("Xylo dash_syn_2", lambda: _xylo(dash_syn_2=_int_array(4, -1)), ValueError, "dash_syn_2"),
    ("Xylo dash_mem_out shape", lambda: _xylo(dash_mem_out=_int_array(3, 1)), ValueError,
     "dash_mem_out"),
    ("Xylo threshold shape", lambda: _xylo(threshold=_int_array(5, 1)), ValueError,
     "threshold"),
    ("Xylo threshold range", lambda: _xylo(threshold=_int_array(4, 40000)), ValueError,
     "threshold"),
    ("Xylo bias float", lambda: _xylo(bias=np.full(4, 0.5)), TypeError, "bias"),
    ("Xylo bias_out range", lambda: _xylo(bias_out=_int_array(2, -40000)), ValueError,
     "bias_out"),
    ("Xylo weight_shift_in", lambda: _xylo(weight_shift_in=16), ValueError, "weight_shift_in"),
    ("Xylo weight_shift_rec", lambda: _xylo(weight_shift_rec=1.5), TypeError,
     "weight_shift_rec"),
    ("Xylo weight_shift_out", lambda: _xylo(weight_shift_out=-1), ValueError,
     "weight_shift_out"),
    ("Xylo dt", lambda: _xylo(dt=0.0), ValueError, r"\bdt\b"),
    ("Xylo output_mode", lambda: _xylo(output_mode="spikes"), ValueError, "output_mode"),
    ("Xylo aliases target", lambda: _xylo(aliases=[[9], [], [], []]), ValueError, "aliases"),
    ("Xylo aliases length", lambda: _xylo(aliases=[[1]]), ValueError, "aliases"),
    ("Xylo spec", lambda: XyloSim({"weights_in": 1}), TypeError, "spec"),
    ("Xylo x float", lambda: _xylo()(torch.zeros(4, 3)), TypeError, r"\bx\b"),
    ("Xylo x channels", lambda: _xylo()(torch.zeros(4, 5, dtype=torch.int64)), ValueError,
     r"\bx\b"),
    # LIFTriton (Rockpool drop-in)
    ("LIFTriton backend", lambda: LIFTriton(3, backend="gpu")(torch.zeros(1, 4, 3)),
     ValueError, "backend"),
    ("LIFTriton x int", lambda: LIFTriton(3)(torch.zeros(1, 4, 3, dtype=torch.int64)),
     TypeError, r"\bx\b"),
    ("LIFTriton checkpoint_every", lambda: LIFTriton(3, checkpoint_every=0)(
        torch.zeros(1, 4, 3)), ValueError, "checkpoint_every"),
    ("LIFTriton threshold", lambda: LIFTriton(3, threshold=0.0)(torch.zeros(1, 4, 3)),
     ValueError, "threshold"),
    # audio front end and data helpers
    ("audio list", lambda: audio_to_events([0.0] * 100), TypeError, "audio"),
    ("audio empty", lambda: audio_to_events(torch.zeros(0)), ValueError, "audio"),
    ("audio too short", lambda: audio_to_events(torch.zeros(5)), ValueError, "audio"),
    ("FrontEndConfig n_channels", lambda: FrontEndConfig(n_channels=0), ValueError,
     "n_channels"),
    ("FrontEndConfig sample_rate", lambda: FrontEndConfig(sample_rate=0), ValueError,
     "sample_rate"),
    ("FrontEndConfig f_min", lambda: FrontEndConfig(f_min=5000.0, f_max=1000.0), ValueError,
     "f_min"),
    ("FrontEndConfig filter_order", lambda: FrontEndConfig(filter_order=0), ValueError,
     "filter_order"),
    ("FrontEndConfig bandwidth", lambda: FrontEndConfig(bandwidth=0.0), ValueError,
     "bandwidth"),
    ("FrontEndConfig smoothing_tau", lambda: FrontEndConfig(smoothing_tau=-1.0), ValueError,
     "smoothing_tau"),
    ("FrontEndConfig event_threshold", lambda: FrontEndConfig(event_threshold=0.0), ValueError,
     "event_threshold"),
    ("FrontEndConfig max_events", lambda: FrontEndConfig(max_events=0), ValueError,
     "max_events"),
    ("KeywordSetConfig n_classes", lambda: KeywordSetConfig(n_classes=1), ValueError,
     "n_classes"),
    ("KeywordSetConfig syllables", lambda: KeywordSetConfig(syllables=0), ValueError,
     "syllables"),
    ("synthetic_audio n_clips", lambda: synthetic_audio(0, 0, KeywordSetConfig()), ValueError,
     "n_clips"),
    ("EventSet shapes", lambda: EventSet(torch.zeros(2, 3), torch.zeros(2), ["a"]), ValueError,
     "events"),
    ("EventSet batch_size", lambda: list(EventSet(torch.zeros(2, 3, 4), torch.zeros(2),
                                                  ["a"]).batches(0)),
     ValueError, "batch_size"),
    ("load_wav_folder root", lambda: load_wav_folder("/nonexistent/folder", 1.0), ValueError,
     "root"),
    ("load_wav_folder seconds", lambda: load_wav_folder(Path(__file__).parent, 0.0),
     ValueError, "seconds"),    # found by the review of this table, fixed in the package
    ("lif_decays alpha > 1", lambda: lif_decays(X, 1.5, 0.5), ValueError, "alpha"),
    ("lif_decays alpha < 0", lambda: lif_decays(X, -0.5, 0.5), ValueError, "alpha"),
    ("lif_decays beta > 1", lambda: lif_decays(X, 0.5, 1.5), ValueError, "beta"),
    ("LIF x width", lambda: LIF(3)(torch.zeros(1, 4, 4)), ValueError, r"\bx\b"),
    ("LIF surrogate", lambda: LIF(3, surrogate="sigmoid"), ValueError, "surrogate"),
    ("SynNet dt zero", lambda: _net(dt=0.0), ValueError, r"\bdt\b"),
    ("SynNet x int64", lambda: _net()(torch.zeros(1, 4, 3, dtype=torch.int64)), TypeError,
     r"\bx\b"),
    ("SynNet x float64", lambda: _net()(torch.zeros(1, 4, 3, dtype=torch.float64)), TypeError,
     r"\bx\b"),
    ("SynNet tau_syn_out", lambda: _net(tau_syn_out=0.0, quantize_time_constants=False),
     ValueError, "tau_syn_out"),
    ("SynNet max_spikes_per_dt_out", lambda: _net(max_spikes_per_dt_out=0), ValueError,
     "max_spikes_per_dt_out"),
    ("SynNet threshold_out", lambda: _net(threshold_out=-1.0), ValueError, "threshold_out"),
    # (a negative tau_mem is not refused: LIFTriton computes it as Rockpool does, with a warning;
    # see tests/rockpool_interop/test_synnet_drop_in.py)
    ("LIFTriton threshold", lambda: LIFTriton(3, threshold=float("nan"))(torch.zeros(1, 4, 3)),
     ValueError, "threshold"),
    ("audio nan", lambda: audio_to_events(torch.full((1000,), float("nan"))), ValueError,
     "audio"),
    ("audio config", lambda: audio_to_events(torch.zeros(1000), config="x"), TypeError,
     "config"),
    ("KeywordSetConfig sample_rate", lambda: KeywordSetConfig(sample_rate=0), ValueError,
     "sample_rate"),
]


@pytest.mark.parametrize("call, error, argument", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_raises_an_error_naming_the_argument(call, error, argument):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=argument):
            call()


def _snapshot(values):
    return [v.clone() if isinstance(v, torch.Tensor) else np.array(v, copy=True) for v in values]


def _assert_unchanged(before, after):
    for index, (a, b) in enumerate(zip(before, after, strict=True)):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), f"input {index} was modified"
        else:
            assert np.array_equal(a, b), f"input {index} was modified"


def test_lif_decays_does_not_modify_its_inputs():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 20, 6, generator=g) * 2
    alpha, beta = torch.full((3,), 0.9), torch.full((3, 2), 0.8)
    threshold, bias = torch.full((3,), 0.7), torch.full((3,), 0.1)
    noise, w_rec = torch.randn(2, 20, 3, generator=g), torch.randn(3, 6, generator=g) * 0.2
    state = LIFState(torch.randn(2, 3, generator=g), torch.randn(2, 3, 2, generator=g),
                     torch.ones(2, 3))
    lengths = torch.tensor([20, 7])
    for t in (x, alpha, beta, threshold, bias, w_rec, state.vmem):
        t.requires_grad_()
    inputs = [x, alpha, beta, threshold, bias, noise, w_rec, *state, lengths]
    before = _snapshot(inputs)
    out, final = lif_decays(x, alpha, beta, threshold, bias, n_synapses=2, noise=noise,
                            w_rec=w_rec, initial_state=state, output_final_state=True,
                            record=True, lengths=lengths, backend="torch")
    assert out.spikes.sum() > 0
    (out.spikes.sum() + out.vmem.sum() + final.vmem.sum()).backward()
    assert x.grad.abs().sum() > 0 and w_rec.grad.abs().sum() > 0
    _assert_unchanged(before, inputs)


def test_modules_do_not_modify_inputs_state_or_parameters():
    torch.manual_seed(0)
    net = _net(threshold=0.5, train_threshold=True)
    x = torch.randint(0, 6, (2, 30, 3)).float()
    first = net(x, return_state=True)
    state = first.state
    inputs = [x, *(t for layer in state for t in layer)]
    before = _snapshot(inputs)
    params = _snapshot(list(net.state_dict().values()))
    result = net(x, state, return_state=True, record=True)
    result.output.sum().backward()
    _assert_unchanged(before, inputs)
    _assert_unchanged(params, list(net.state_dict().values()))

    layer = LIF(4, 2, has_rec=True, backend="torch")
    xl = torch.rand(2, 25, 8) * 2
    layer_state = LIFState(torch.rand(2, 4), torch.rand(2, 4, 2), torch.ones(2, 4))
    inputs = [xl, *layer_state]
    before = _snapshot(inputs)
    layer_params = _snapshot(list(layer.state_dict().values()))
    out, _ = layer(xl, layer_state, return_state=True)
    out.spikes.sum().backward()
    _assert_unchanged(before, inputs)
    _assert_unchanged(layer_params, list(layer.state_dict().values()))


def test_xylo_sim_audio_front_end_and_lif_triton_do_not_modify_their_inputs():
    rng = np.random.default_rng(0)
    events_numpy = rng.integers(0, 30, (2, 20, 3))  # above the 15-event clip
    events_torch = torch.from_numpy(events_numpy.copy())
    before = _snapshot([events_numpy, events_torch])
    sim = _xylo(threshold=_int_array(4, 3), threshold_out=_int_array(2, 3))
    sim(events_numpy, record=True)
    sim.reset_state()
    sim(events_torch, record=True)
    _assert_unchanged(before, [events_numpy, events_torch])

    audio = torch.randn(2, 1600, generator=torch.Generator().manual_seed(1)) * 0.2
    before = _snapshot([audio])
    audio_to_events(audio)
    _assert_unchanged(before, [audio])

    layer = LIFTriton(3, backend="torch")
    x = torch.rand(2, 20, 3) * 2
    before = _snapshot([x])
    layer(x)
    _assert_unchanged(before, [x])


def test_rockpool_conversions_do_not_modify_the_source_network():
    torch.manual_seed(0)
    net = _net(threshold=0.5, train_threshold=True)
    before = {key: value.clone() for key, value in net.state_dict().items()}
    theirs = synnet_to_rockpool(net)
    _assert_unchanged(list(before.values()), list(net.state_dict().values()))
    with torch.no_grad():
        for parameter in torch.nn.Module.parameters(theirs):
            parameter.mul_(1.5)
    their_before = {key: value.clone() for key, value in theirs.state_dict().items()}
    converted = synnet_from_rockpool(theirs)
    _assert_unchanged(list(their_before.values()), list(theirs.state_dict().values()))
    # the conversion copies: changing the copy leaves the source alone
    with torch.no_grad():
        for parameter in converted.parameters():
            parameter.zero_()
    _assert_unchanged(list(their_before.values()), list(theirs.state_dict().values()))
    _assert_unchanged(list(before.values()), list(net.state_dict().values()))
