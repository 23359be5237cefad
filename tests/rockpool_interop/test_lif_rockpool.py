"""``lif`` and ``LIFTriton`` against Rockpool 3.1 ``LIFTorch``, the semantics we promise."""

from __future__ import annotations

import importlib.util
import os
import warnings

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

rockpool = pytest.importorskip("rockpool")
from bits import bits, bitwise_equal  # noqa: E402
from rockpool.nn.combinators import Sequential as RockpoolSequential  # noqa: E402
from rockpool.nn.modules import LIFTorch, LinearTorch  # noqa: E402
from rockpool.nn.modules.torch.lif_torch import PeriodicExponential, StepPWL  # noqa: E402
from rockpool.parameters import Constant  # noqa: E402

from synnet_triton.ops.lif.functional import lif  # noqa: E402
from synnet_triton.ops.lif.types import LIFState  # noqa: E402
from synnet_triton.rockpool.lif import LIFTriton  # noqa: E402

CONFIGS = st.fixed_dictionaries(
    {
        "batch": st.integers(1, 3),
        "steps": st.integers(1, 60),
        "neurons": st.sampled_from([1, 3, 7, 13]),
        "synapses": st.integers(1, 3),
        "max_spikes": st.sampled_from([1.0, 31.0, 2.0**16]),
        "surrogate": st.sampled_from([PeriodicExponential, StepPWL]),
        "has_rec": st.booleans(),
        "dt": st.sampled_from([1e-3, 5e-4, 2e-3]),
        "scalar_params": st.booleans(),
        "window": st.sampled_from([0.5, 0.2, 1.0]),
        "seed": st.integers(0, 2**31 - 1),
    }
)


def _constructor_kwargs(cfg: dict) -> dict:
    g = torch.Generator().manual_seed(cfg["seed"])
    n, s = cfg["neurons"], cfg["synapses"]

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g)

    kwargs = dict(
        shape=(n * s, n),
        tau_mem=torch.tensor(0.03) if cfg["scalar_params"] else 0.004 + 0.06 * rand(n),
        tau_syn=0.002 + 0.05 * rand(n, s),
        threshold=torch.tensor(0.7) if cfg["scalar_params"] else 0.4 + 1.2 * rand(n),
        bias=0.02 * torch.randn(n, generator=g),
        spike_generation_fn=cfg["surrogate"],
        learning_window=cfg["window"],
        max_spikes_per_dt=cfg["max_spikes"],
        dt=cfg["dt"],
        has_rec=cfg["has_rec"],
    )
    if cfg["has_rec"]:
        # modest recurrent weights: runaway excitation makes float32 gradients ill-conditioned
        # (Rockpool's own then differ from a float64 loop by more than the tolerance)
        kwargs["w_rec"] = 0.05 * torch.randn(n, n * s, generator=g)
    return kwargs


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-6)).item()


def _evolve_and_grads(module, x: torch.Tensor, weights: torch.Tensor, seed: int):
    x = x.clone().requires_grad_()
    torch.manual_seed(seed)  # both draw their (zero-scaled) membrane noise from here
    out, state, record = module(x, record=True)
    loss = (out * weights).sum() + 0.1 * (record["vmem"] ** 2).sum() + record["isyn"].sum()
    params = dict(module.named_parameters())
    grads = torch.autograd.grad(loss, [x, *params.values()])
    return out, state, record, dict(zip(["x", *params], grads))


@settings(max_examples=40, deadline=None)
@given(CONFIGS)
def test_liftriton_equals_liftorch_over_two_consecutive_calls(cfg):
    kwargs = _constructor_kwargs(cfg)
    ours, theirs = LIFTriton(**kwargs, backend="torch"), LIFTorch(**kwargs)
    g = torch.Generator().manual_seed(cfg["seed"] + 1)
    n, s = cfg["neurons"], cfg["synapses"]
    for call in range(2):
        x = torch.randn(cfg["batch"], cfg["steps"], n * s, generator=g) * 0.8
        weights = torch.randn(cfg["batch"], cfg["steps"], n, generator=g)
        out, state, record, grads = _evolve_and_grads(ours, x, weights, call)
        ref, ref_state, ref_record, ref_grads = _evolve_and_grads(theirs, x, weights, call)
        assert bitwise_equal(out, ref), f"spikes differ at call {call}"
        # Runaway recurrent excitation (counts in the thousands) is ill-conditioned: there even
        # Rockpool's float32 gradients differ from a float64 loop by more than 1e-4.
        assume(ref.max() <= 100)
        for key in ("vmem", "isyn", "irec"):
            assert _relative(record[key], ref_record[key]) <= 1e-6, key
        for key in ("vmem", "isyn", "spikes"):
            assert bitwise_equal(state[key], ref_state[key]), key
        assert grads.keys() == ref_grads.keys()
        for name in ref_grads:
            assert _relative(grads[name], ref_grads[name]) <= 1e-4, (name, call)


@settings(max_examples=20, deadline=None)
@given(CONFIGS)
def test_functional_lif_equals_liftorch(cfg):
    kwargs = _constructor_kwargs(cfg)
    theirs = LIFTorch(**kwargs)
    g = torch.Generator().manual_seed(cfg["seed"] + 2)
    x = torch.randn(cfg["batch"], cfg["steps"], cfg["neurons"] * cfg["synapses"], generator=g)
    ref, _, ref_record = theirs(x, record=True)
    surrogate = "periodic_exponential" if cfg["surrogate"] is PeriodicExponential else "step_pwl"
    out, _ = lif(
        x, kwargs["tau_mem"], kwargs["tau_syn"], kwargs["threshold"], kwargs["bias"],
        n_synapses=cfg["synapses"], dt=cfg["dt"], surrogate=surrogate,
        learning_window=cfg["window"], max_spikes_per_dt=cfg["max_spikes"],
        w_rec=kwargs.get("w_rec"), record=True, backend="torch",
    )
    assert bitwise_equal(out.spikes, ref)
    assert _relative(out.vmem, ref_record["vmem"]) <= 1e-6


BACKENDS = ["torch"] + (["numba"] if importlib.util.find_spec("numba") else []) + (
    ["triton"] if os.environ.get("TRITON_INTERPRET") == "1" else [])


@pytest.mark.parametrize("n_synapses", [1, 2])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_negative_zero_state_gives_rockpools_membrane_bit_for_bit(n_synapses, backend):
    """A −0.0 state and −0.0 input with a zero bias: Rockpool adds the bias (and its zero
    noise) at every step, which makes the membrane +0.0; the reference had skipped a zero
    bias and kept −0.0 (found 2026-12-08: the vmem parity tests compare values, not bits)."""
    n = 3
    theirs = LIFTorch((n * n_synapses, n), tau_mem=0.02, tau_syn=0.01, threshold=1.0,
                      dt=1e-3)
    theirs.vmem = -torch.zeros(n)
    theirs.isyn = -torch.zeros(n, n_synapses)
    x = torch.full((1, 6, n * n_synapses), -0.0)
    x[0, 3:, 0] = 2.5  # and one neuron that spikes
    ref, _, ref_record = theirs(x, record=True)
    state = LIFState(-torch.zeros(1, n), -torch.zeros(1, n, n_synapses), torch.zeros(1, n))
    out, _ = lif(x, 0.02, 0.01, 1.0, n_synapses=n_synapses, initial_state=state, record=True,
                 backend=backend)
    assert bitwise_equal(out.spikes, ref)
    assert bitwise_equal(out.vmem, ref_record["vmem"])
    assert not bool(bits(out.vmem).eq(bits(torch.tensor(-0.0))).any())


@pytest.mark.parametrize("n_synapses", [5, 8, 9, 17])
@pytest.mark.parametrize("backend", BACKENDS)
def test_many_synapses_give_rockpools_membrane_bit_for_bit(n_synapses, backend, monkeypatch):
    """From 5 synapses torch sums a neuron's currents in its own order (neither numpy's nor
    left to right: the reference's numpy sum had differed in the last bit); every backend
    gives Rockpool's bits, the compiled ones by handing such layers to the reference."""
    from synnet_triton.ops.lif import op

    monkeypatch.setattr(op, "_warned", set())
    n = 6
    g = torch.Generator().manual_seed(n_synapses)
    x = torch.randn(2, 80, n * n_synapses, generator=g) * 0.7
    theirs = LIFTorch((n * n_synapses, n), tau_mem=0.02, tau_syn=0.01, threshold=1.0, dt=1e-3)
    ref, _, ref_record = theirs(x, record=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out, _ = lif(x, 0.02, 0.01, 1.0, n_synapses=n_synapses, record=True, backend=backend)
    assert bitwise_equal(out.spikes, ref)
    assert bitwise_equal(out.vmem, ref_record["vmem"])


@pytest.mark.parametrize("leak_mode, params", [
    ("decays", {"alpha": torch.tensor([0.9, 0.8, 0.95]),
                "beta": torch.tensor([[0.5], [0.7], [0.9]])}),
    ("bitshifts", {"dash_mem": torch.tensor([3.0, 4.0, 5.0]),
                   "dash_syn": torch.tensor([[1.0], [2.0], [3.0]])}),
])
def test_leak_modes_match(leak_mode, params):
    kwargs = dict(shape=(3, 3), leak_mode=leak_mode, spike_generation_fn=PeriodicExponential,
                  **params)
    ours, theirs = LIFTriton(**kwargs, backend="torch"), LIFTorch(**kwargs)
    x = torch.rand(2, 80, 3) * 2
    out, _, _ = ours(x)
    ref, _, _ = theirs(x)
    assert bitwise_equal(out, ref) and out.sum() > 0


def test_noise_draws_match_liftorch_under_the_same_seed():
    kwargs = dict(shape=(4, 4), noise_std=0.5, spike_generation_fn=PeriodicExponential)
    ours, theirs = LIFTriton(**kwargs, backend="torch"), LIFTorch(**kwargs)
    x = torch.rand(2, 100, 4)
    torch.manual_seed(11)
    out, _, rec = ours(x, record=True)
    torch.manual_seed(11)
    ref, _, ref_rec = theirs(x, record=True)
    assert bitwise_equal(out, ref)
    assert _relative(rec["vmem"], ref_rec["vmem"]) <= 1e-6


def test_constant_parameters_stay_fixed_like_liftorch():
    kwargs = dict(shape=(2, 2), tau_mem=Constant(0.02), threshold=Constant(torch.ones(2)))
    ours, theirs = LIFTriton(**kwargs), LIFTorch(**kwargs)
    assert set(dict(ours.named_parameters())) == set(dict(theirs.named_parameters()))
    assert "tau_mem" not in dict(ours.named_parameters())


def test_works_inside_rockpool_sequential():
    torch.manual_seed(0)
    lin = LinearTorch((5, 6), has_bias=False)
    kwargs = dict(shape=(6, 3), spike_generation_fn=PeriodicExponential, max_spikes_per_dt=31.0)
    ours = RockpoolSequential(lin, LIFTriton(**kwargs, backend="torch"))
    theirs = RockpoolSequential(LinearTorch((5, 6), weight=lin.weight.detach().clone(),
                                            has_bias=False), LIFTorch(**kwargs))
    x = torch.rand(3, 50, 5) * 3
    out, _, _ = ours(x)
    ref, _, _ = theirs(x)
    assert bitwise_equal(out, ref)
    out.sum().backward()
    ref.sum().backward()
    ours_w = dict(ours.named_parameters())["0_LinearTorch.weight"].grad
    theirs_w = dict(theirs.named_parameters())["0_LinearTorch.weight"].grad
    assert _relative(ours_w, theirs_w) <= 1e-4


def test_unknown_spike_generation_fn_is_rejected():
    class Custom(torch.autograd.Function):
        pass

    with pytest.raises(ValueError, match="spike_generation_fn"):
        LIFTriton(shape=(2, 2), spike_generation_fn=Custom)
