"""Fuzzing the Triton kernels under the interpreter with a real budget (marker ``fuzz``).

Every property draws what the fixed-shape tests keep fixed: the surrogate and its window,
``max_spikes`` (1, 2, 31, 2**16 and any integer in between), thresholds at the scale of the
input (three regimes below), S = 1..4, N around the block boundaries (31-33, 63-65,
1023/1025 where ``block_config`` switches to BLOCK_N = 64), T around the pipelining depths
(8/9, 16/17) and the checkpoint segment (K - 1, K, K + 1), T = 0 and 1.

Threshold regimes: ``case`` (SynNet's ranges, ``make_case``), ``input`` (θ = mean |x| times
0.5-2 per neuron: spike decisions at the input's own scale) and ``grid`` (x on a 1/8 grid,
θ ∈ {0.25, 0.5, 1}, α, β ∈ {0.5, 0.75}, no bias or noise: every value is exact in float32,
so the membrane lands exactly on multiples of θ and every floor boundary is exercised).

Budget: ``FUZZ_EXAMPLES`` examples per property (default 100). CI loads hypothesis' ``ci``
profile (tests/conftest.py: derandomized, so a red build replays the same examples, with
the failing example's reproduction blob printed); elsewhere every run draws new examples.
Run only these with ``pytest -m fuzz``; ``FUZZ_EXAMPLES=1000`` for a longer session.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import torch
from bits import bits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernels_oracle import (
    assert_gradient_close,
    incoming_gradients,
    literal_gradients,
    literal_lif,
    make_case,
)
from test_kernels_backward import run_backward

from synnet_triton.ops.lif import torch_backend as lif_torch
from synnet_triton.ops.lif import triton_backend as lif_triton
from synnet_triton.ops.lif.backend import NeedsGrad
from synnet_triton.ops.lif.types import Surrogate

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                       reason="interpreter fuzzing; the compiled kernels: test_kernels_cuda.py"),
]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

STEPS = st.one_of(st.sampled_from([0, 1, 2, 7, 8, 9, 15, 16, 17, 18, 31, 32, 33]),
                  st.integers(1, 48))
NEURONS = st.one_of(st.sampled_from([1, 31, 32, 33, 63, 64, 65, 1023, 1025]), st.integers(1, 70))
MAX_SPIKES = st.one_of(st.sampled_from([1.0, 2.0, 31.0, 2.0**16]),
                       st.integers(1, 40).map(float))
LAYERS = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31 - 1),
    "batch": st.integers(1, 3),
    "steps": STEPS,
    "n_neurons": NEURONS,
    "n_synapses": st.integers(1, 4),
    "max_spikes": MAX_SPIKES,
    "noise": st.booleans(),
    "initial_state": st.booleans(),
    "thresholds": st.sampled_from(["case", "input", "grid"]),
})


def fuzz_case(layer: dict):
    """A case of ``make_case`` with the drawn threshold regime applied."""
    big = layer["n_neurons"] > 1000  # keep the interpreter's work per example bounded
    steps = min(layer["steps"], 6) if big else layer["steps"]
    case = make_case(layer["seed"], 1 if big else layer["batch"], steps, layer["n_neurons"],
                     layer["n_synapses"], max_spikes=layer["max_spikes"], noise=layer["noise"],
                     initial_state=layer["initial_state"])
    g = torch.Generator().manual_seed(layer["seed"] + 7)
    n = layer["n_neurons"]
    if layer["thresholds"] == "input":
        scale = case.x.abs().mean().clamp_min(1e-3) if case.x.numel() else torch.tensor(1.0)
        return replace(case, threshold=scale * (0.5 + 1.5 * torch.rand(n, generator=g)))
    if layer["thresholds"] == "grid":
        def pick(values: list[float], *shape: int) -> torch.Tensor:
            return torch.tensor(values)[torch.randint(len(values), shape, generator=g)]

        return replace(
            case, x=torch.round(case.x * 8) / 8, threshold=pick([0.25, 0.5, 1.0], n),
            alpha=pick([0.5, 0.75], n), beta=pick([0.5, 0.75], n, layer["n_synapses"]),
            bias=torch.zeros(n), noise=None,
            v0=torch.round(case.v0 * 4) / 4, i0=torch.round(case.i0 * 4) / 4,
        )  # fmt: skip
    return case


def checkpoint_every(data: st.DataObject, steps: int) -> int:
    """0 (save u), or a segment length K around T (T = K - 1, K, K + 1) or anywhere from
    T / 4 up: at most 4 segments, each one launch pair under the interpreter (~50 ms)."""
    near = [k for k in (steps - 1, steps, steps + 1) if k > 0]
    return data.draw(st.one_of(st.just(0), st.sampled_from(near or [1]),
                               st.integers(max(1, -(-steps // 4)), max(1, steps + 8))))


@FUZZ
@given(LAYERS, st.booleans(), st.data())
def test_fuzz_forward_is_bitwise_the_torch_backend_and_the_literal_loop(layer, record, data):
    case = fuzz_case(layer)
    every = checkpoint_every(data, case.x.shape[1])
    kwargs = dict(max_spikes=case.max_spikes, record=record, checkpoint_every=every)
    got = lif_triton.forward(case.inputs, **kwargs)
    ref = lif_torch.forward(case.inputs, **kwargs)
    for name, mine, theirs in zip(got._fields[:6], got[:6], ref[:6], strict=True):
        assert (mine is None) == (theirs is None), name
        if mine is not None:
            assert torch.equal(bits(mine), bits(theirs.reshape(mine.shape))), name
    spikes, vmem, _, final_v, _, _ = literal_lif(
        case.x, case.alpha, case.beta, case.threshold, case.bias, case.noise, case.v0, case.i0,
        max_spikes=case.max_spikes, surrogate=Surrogate.PERIODIC_EXPONENTIAL, window=0.5,
    )  # fmt: skip
    # Rockpool's own surrogate Function computes the literal loop's spikes: sign of zero too
    assert torch.equal(bits(got.spikes), bits(spikes))
    assert torch.equal(bits(got.final_vmem), bits(final_v))
    if record:
        assert torch.equal(bits(got.vmem), bits(vmem))


@FUZZ
@given(LAYERS, st.sampled_from(list(Surrogate)), st.floats(0.05, 2.0), st.booleans(),
       st.lists(st.booleans(), min_size=5, max_size=5), st.data())
def test_fuzz_gradients_match_autograd_through_the_literal_loop_and_the_torch_backend(
    layer, surrogate, window, record, trains, data
):
    case = fuzz_case(layer)
    every = checkpoint_every(data, case.x.shape[1])
    needs = NeedsGrad(True, *trains[:4], trains[4], trains[4], False, False)
    grads = incoming_gradients(case, record, layer["seed"] + 1)
    kwargs = dict(surrogate=surrogate, window=window, every=every, needs=needs, record=record)
    got = run_backward(lif_triton, case, grads, **kwargs)
    ref = run_backward(lif_torch, case, grads, **kwargs)
    if case.x.shape[1] == 0:
        # no step: the final state is the initial one, so its gradients pass straight through
        _, _, _, grad_final_v, grad_final_i, _ = grads
        literal = {"x": torch.zeros_like(case.x), "v0": grad_final_v, "i0": grad_final_i,
                   **{name: torch.zeros_like(getattr(case, name))
                      for name in ("alpha", "beta", "threshold", "bias")}}
    else:
        literal = literal_gradients(case, grads, surrogate, window, needs)
    for name in ("x", "alpha", "beta", "threshold", "bias", "v0", "i0"):
        mine = getattr(got, name)
        if not getattr(needs, name):
            assert mine is None, name
            continue
        # a parameter's gradient is a sum over B·T steps whose terms can cancel far below
        # their own size: its float32 error bound is relative to the terms, hence 2e-4
        tolerance = 1e-5 if name in ("x", "v0", "i0") else 2e-4
        assert_gradient_close(name, mine, literal[name], tolerance)
        assert_gradient_close(name, mine, getattr(ref, name), tolerance)


@FUZZ
@given(LAYERS, st.data())
def test_fuzz_two_calls_carrying_the_state_are_bitwise_one_call(layer, data):
    case = fuzz_case(layer)
    steps = case.x.shape[1]
    cut = data.draw(st.integers(0, steps))
    kwargs = dict(max_spikes=case.max_spikes, record=True, checkpoint_every=0)
    whole = lif_triton.forward(case.inputs, **kwargs)

    def part(lo: int, hi: int, v0, i0, s0):
        noise = None if case.noise is None else case.noise[:, lo:hi].contiguous()
        return lif_triton.forward(
            case.inputs._replace(x=case.x[:, lo:hi].contiguous(), noise=noise, v0=v0, i0=i0,
                                 s0=s0), **kwargs)

    first = part(0, cut, case.v0, case.i0, case.s0)
    second = part(cut, steps, first.final_vmem, first.final_isyn, first.final_spikes)
    for name in ("spikes", "vmem", "isyn"):
        joined = torch.cat([getattr(first, name), getattr(second, name)], 1)
        assert torch.equal(bits(joined), bits(getattr(whole, name))), name
    for name in ("final_vmem", "final_isyn", "final_spikes"):
        assert torch.equal(bits(getattr(second, name)), bits(getattr(whole, name))), name
