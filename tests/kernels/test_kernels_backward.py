"""The Triton backward kernel under the Triton interpreter, against two oracles.

Oracles: autograd through ``literal_lif`` (Rockpool's step loop with Rockpool's own surrogate
autograd Functions) and the torch backend's hand-written backward. Gradients agree within
1e-5 of their scale (float32 sums in another order); the checkpointed backward is bitwise
the default one (same additions in the same order, by construction of the kernel).
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from kernels_oracle import (
    all_gradients,
    assert_gradient_close,
    case_of,
    incoming_gradients,
    literal_gradients,
    make_case,
)

from synnet_triton.ops.lif import torch_backend as lif_torch
from synnet_triton.ops.lif import triton_backend as lif_triton
from synnet_triton.ops.lif.backend import NeedsGrad, OutputGrads
from synnet_triton.ops.lif.functional import lif_decays
from synnet_triton.ops.lif.types import LIFState, Surrogate

pytestmark = pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET") != "1",
    reason="interpreter tests; the compiled kernels are tested in test_kernels_cuda.py",
)

SURROGATES = st.sampled_from(list(Surrogate))
CASES = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "batch": st.integers(1, 2),
        "steps": st.integers(1, 24),
        "n_neurons": st.sampled_from([1, 5, 32, 35]),
        "n_synapses": st.integers(1, 3),
        "max_spikes": st.sampled_from([1.0, 31.0]),
        "noise": st.booleans(),
        "initial_state": st.booleans(),
    }
)
PARAMS = ("alpha", "beta", "threshold", "bias")


def run_backward(module, case, grads, *, surrogate, window, every, needs, record=True):
    result = module.forward(
        case.inputs, max_spikes=case.max_spikes, record=record, checkpoint_every=every
    )
    return module.backward(
        result.saved, OutputGrads(*grads), case.inputs,
        surrogate=surrogate, window=window, max_spikes=case.max_spikes,
        checkpoint_every=every, needs_grad=needs,
    )  # fmt: skip


TRAINS = st.lists(st.booleans(), min_size=5, max_size=5)


@settings(max_examples=8, deadline=None)
@given(CASES, SURROGATES, st.booleans(), st.integers(0, 25), TRAINS)
def test_gradients_match_autograd_through_the_literal_loop_and_the_torch_backend(
    shape, surrogate, record, every, trains
):
    case = case_of(shape)
    needs = NeedsGrad(True, *trains[:4], trains[4], trains[4], False, False)
    grads = incoming_gradients(case, record, shape["seed"] + 1)
    window = 0.5
    got = run_backward(
        lif_triton, case, grads, surrogate=surrogate, window=window, every=every, needs=needs,
        record=record,
    )  # fmt: skip
    ref = run_backward(
        lif_torch, case, grads, surrogate=surrogate, window=window, every=every, needs=needs,
        record=record,
    )  # fmt: skip
    literal = literal_gradients(case, grads, surrogate, window, needs)

    for name in ("x", *PARAMS, "v0", "i0"):
        mine = getattr(got, name)
        if not getattr(needs, name):
            assert mine is None, name
            continue
        assert mine.shape == literal[name].shape, name
        assert_gradient_close(name, mine, literal[name])
        assert_gradient_close(name, mine, getattr(ref, name))
    assert got.s0 is None and got.w_rec is None


@pytest.mark.parametrize("surrogate", list(Surrogate))
def test_each_surrogates_threshold_gradient_at_thresholds_away_from_one(surrogate):
    """∂s/∂θ of either surrogate against autograd through the literal loop, with thresholds
    in 0.4-1.6 (at θ = 1, θ and 1/θ coincide: a mutant swapping them passed the random
    cases, which rarely drew a threshold gradient with StepPWL)."""
    case = make_case(5, 2, 20, 9, 2, max_spikes=31.0, noise=False, initial_state=True)
    needs = NeedsGrad(True, False, False, True, False, False, False, False, False)
    grads = incoming_gradients(case, False, 6)
    got = run_backward(lif_triton, case, grads, surrogate=surrogate, window=0.5, every=0,
                       needs=needs, record=False)
    literal = literal_gradients(case, grads, surrogate, 0.5, needs)
    assert float(got.threshold.abs().sum()) > 0
    assert_gradient_close("threshold", got.threshold, literal["threshold"])


@pytest.mark.parametrize("surrogate", list(Surrogate))
def test_checkpointed_backward_is_bitwise_the_default(surrogate):
    case = make_case(3, 2, 17, 7, 2, max_spikes=31.0, noise=True, initial_state=True)
    grads = incoming_gradients(case, True, 4)
    kwargs = dict(surrogate=surrogate, window=0.5, needs=all_gradients())
    default = run_backward(lif_triton, case, grads, every=0, **kwargs)
    for every in (1, 5, 17, 40):
        checkpointed = run_backward(lif_triton, case, grads, every=every, **kwargs)
        for name, a, b in zip(default._fields, default, checkpointed, strict=True):
            assert (a is None and b is None) or torch.equal(a, b), (every, name)


@settings(max_examples=5, deadline=None)
@given(CASES, SURROGATES, st.data())
def test_streaming_in_two_calls_gives_the_gradients_of_one_call(shape, surrogate, data):
    """Backward of the second call feeds the gradient of its initial state to the first."""
    shape = {**shape, "steps": max(shape["steps"], 2)}
    case = case_of(shape)
    cut = data.draw(st.integers(1, shape["steps"] - 1))
    every = data.draw(st.sampled_from([0, 3]))
    gs, gv, gi, gfv, gfi, gfs = incoming_gradients(case, True, 9)
    needs = all_gradients()
    kwargs = dict(surrogate=surrogate, window=0.5, max_spikes=case.max_spikes)

    def run(steps: slice, v0, i0, s0, grads):
        noise = None if case.noise is None else case.noise[:, steps].contiguous()
        x = case.x[:, steps].contiguous()
        inputs = case.inputs._replace(x=x, noise=noise, v0=v0, i0=i0, s0=s0)
        result = lif_triton.forward(
            inputs, max_spikes=case.max_spikes, record=True, checkpoint_every=every
        )
        backward = lif_triton.backward(
            result.saved, OutputGrads(*grads), inputs, checkpoint_every=every, needs_grad=needs,
            **kwargs
        )
        return result, backward

    whole = lif_triton.backward(
        lif_triton.forward(case.inputs, max_spikes=case.max_spikes, record=True,
                           checkpoint_every=every).saved,
        OutputGrads(gs, gv, gi, gfv, gfi, gfs), case.inputs, checkpoint_every=every,
        needs_grad=needs, **kwargs,
    )  # fmt: skip
    head, tail = slice(0, cut), slice(cut, None)
    first, _ = run(head, case.v0, case.i0, case.s0, (None, None, None, None, None, None))
    second_grads = (gs[:, tail], gv[:, tail], gi[:, tail], gfv, gfi, gfs)
    _, second = run(tail, first.final_vmem, first.final_isyn, first.final_spikes, second_grads)
    first_grads = (gs[:, head], gv[:, head], gi[:, head], second.v0, second.i0, None)
    _, first_back = run(head, case.v0, case.i0, case.s0, first_grads)

    assert_gradient_close("x", torch.cat([first_back.x, second.x], 1), whole.x)
    for name in PARAMS:
        joined = getattr(first_back, name) + getattr(second, name)
        assert_gradient_close(name, joined, getattr(whole, name))
    assert_gradient_close("v0", first_back.v0, whole.v0)
    assert_gradient_close("i0", first_back.i0, whole.i0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_input_and_gradients(dtype):
    case = make_case(13, 2, 15, 6, 1, max_spikes=31.0, noise=False, initial_state=True)
    half = case.with_x(case.x.to(dtype))
    grads = incoming_gradients(case, False, 2)
    half_grads = (grads[0].to(dtype), None, None, *grads[3:])
    needs = all_gradients()
    kwargs = dict(surrogate=Surrogate.PERIODIC_EXPONENTIAL, window=0.5, every=0, needs=needs)
    got = run_backward(lif_triton, half, half_grads, record=False, **kwargs)
    exact_grads = (grads[0].to(dtype).float(), None, None, *grads[3:])
    exact = literal_gradients(
        half.with_x(half.x.float()), exact_grads, Surrogate.PERIODIC_EXPONENTIAL, 0.5, needs
    )
    assert got.x.dtype == dtype
    for name in PARAMS:
        assert getattr(got, name).dtype == torch.float32
        assert_gradient_close(name, getattr(got, name), exact[name])
    # gx is accumulated in float32 and rounded to the input dtype once: within one ulp of it
    ulp = 2.0**-10 if dtype == torch.float16 else 2.0**-7
    torch.testing.assert_close(got.x.float(), exact["x"], rtol=ulp, atol=1e-6)


def test_empty_sequence_passes_the_final_state_gradients_through():
    case = make_case(1, 2, 0, 4, 2, max_spikes=31.0, noise=False, initial_state=True)
    grads = incoming_gradients(case, True, 3)
    needs = NeedsGrad(True, True, True, True, True, True, True, True, False)
    got = run_backward(
        lif_triton, case, grads, surrogate=Surrogate.STEP_PWL, window=0.5, every=2, needs=needs
    )
    assert torch.equal(got.v0, grads[3]) and torch.equal(got.i0, grads[4])
    assert torch.equal(got.s0, grads[5])
    assert got.x.shape == (2, 0, 8) and not got.alpha.any() and not got.beta.any()


@pytest.mark.parametrize("every", [None, 4])
def test_functional_op_with_the_triton_backend_matches_the_torch_backend(every):
    """Through the lead's autograd op: the saved tensors and gradients travel intact."""
    case = make_case(21, 2, 13, 7, 2, max_spikes=31.0, noise=False, initial_state=True)
    weights = torch.randn(2, 13, 7, generator=torch.Generator().manual_seed(0))
    results = {}
    for backend in ("torch", "triton"):
        leaves = [
            t.clone().requires_grad_()
            for t in (case.x, case.alpha, case.beta, case.threshold, case.bias)
        ]
        state = LIFState(case.v0.clone().requires_grad_(), case.i0, case.s0)
        out, _ = lif_decays(
            leaves[0], *leaves[1:], n_synapses=2, initial_state=state, record=True,
            checkpoint_every=every, backend=backend,
        )  # fmt: skip
        loss = (out.spikes * weights).sum() + out.vmem.square().sum()
        results[backend] = (out, torch.autograd.grad(loss, [*leaves, state.vmem]))
    assert torch.equal(results["triton"][0].spikes, results["torch"][0].spikes)
    for name, a, b in zip(
        ("x", *PARAMS, "v0"), results["triton"][1], results["torch"][1], strict=True
    ):
        assert_gradient_close(name, a, b)


def test_long_sequence_gradients_match_the_torch_backend():
    case = make_case(17, 1, 150, 5, 1, max_spikes=31.0, noise=True, initial_state=True)
    grads = incoming_gradients(case, False, 5)
    kwargs = dict(surrogate=Surrogate.PERIODIC_EXPONENTIAL, window=0.5, every=64, record=False)
    got = run_backward(lif_triton, case, grads, needs=all_gradients(), **kwargs)
    ref = run_backward(lif_torch, case, grads, needs=all_gradients(), **kwargs)
    for name in ("x", *PARAMS, "v0", "i0"):
        assert_gradient_close(name, getattr(got, name), getattr(ref, name))


def test_backward_takes_a_stride_0_stand_in_for_x_when_beta_is_fixed():
    """The op passes x as an expanded stand-in when no recomputation reads it (backend.py)."""
    case = make_case(23, 2, 12, 6, 2, max_spikes=31.0, noise=False, initial_state=True)
    grads = incoming_gradients(case, True, 6)
    needs = NeedsGrad(True, True, False, True, True, True, True, False, False)
    result = lif_triton.forward(case.inputs, max_spikes=31.0, record=True, checkpoint_every=0)
    stand_in = torch.zeros((), dtype=case.x.dtype).expand(case.x.shape)
    kwargs = dict(
        surrogate=Surrogate.STEP_PWL, window=0.5, max_spikes=31.0, checkpoint_every=0,
        needs_grad=needs,
    )  # fmt: skip
    real = lif_triton.backward(result.saved, OutputGrads(*grads), case.inputs, **kwargs)
    shaped = lif_triton.backward(result.saved, OutputGrads(*grads),
                                 case.inputs._replace(x=stand_in), **kwargs)
    for name, a, b in zip(real._fields, real, shaped, strict=True):
        assert (a is None and b is None) or torch.equal(a, b), name


@pytest.mark.parametrize("backend", ["triton", "torch"])
def test_step_pwl_window_includes_its_lower_edge(backend):
    """Rockpool's StepPWL passes gradient where u >= θ − window, the edge included. Exact
    values put u on the edge: i = (0 + 1)·0.5 = 0.5 = 1 − 0.5, so ∂s/∂u = 1/θ = 1 and
    ∂s/∂x = β = 0.5 by hand (a strict > would give 0)."""
    from synnet_triton.ops.lif.functional import lif_decays

    x = torch.ones(1, 1, 1, requires_grad=True)
    out, _ = lif_decays(x, torch.full((1,), 0.9), torch.full((1, 1), 0.5), torch.ones(1),
                        torch.zeros(1), surrogate=Surrogate.STEP_PWL, learning_window=0.5,
                        backend=backend)
    (grad,) = torch.autograd.grad(out.spikes.sum(), x)
    assert out.spikes.item() == 0.0 and grad.item() == 0.5
