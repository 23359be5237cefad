"""The Triton forward kernel under the Triton interpreter, against two oracles.

Oracles: ``literal_lif`` (Rockpool's step loop written out in the test helper) and the torch
backend ``synnet_triton.ops.lif.torch_backend``. Spike counts, records, final state and the saved
membrane must be bitwise equal: the kernel performs the same float32 operations in the
same order (docs/design.md §3), and the interpreter computes in IEEE float32 like torch on CPU.
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from kernels_oracle import case_of, literal_lif, make_case, torch_saved_in_kernel_layout
from synnet_triton.kernels.lif_forward import launch_lif_forward

from synnet_triton.ops.lif import torch_backend as lif_torch
from synnet_triton.ops.lif import triton_backend as lif_triton
from synnet_triton.ops.lif.backend import LIFInputs
from synnet_triton.ops.lif.types import Surrogate

pytestmark = pytest.mark.skipif(
    os.environ.get("TRITON_INTERPRET") != "1",
    reason="interpreter tests; the compiled kernels are tested in test_kernels_cuda.py",
)

SHAPES = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "batch": st.integers(1, 3),
        "steps": st.integers(1, 40),
        # crosses BLOCK_N = 32: a partial second block
        "n_neurons": st.sampled_from([1, 3, 17, 32, 37]),
        "n_synapses": st.integers(1, 3),
        "max_spikes": st.sampled_from([1.0, 31.0]),
        "noise": st.booleans(),
        "initial_state": st.booleans(),
    }
)


@settings(max_examples=12, deadline=None)
@given(SHAPES, st.booleans(), st.integers(0, 45))
def test_forward_is_bitwise_the_literal_loop_and_the_torch_backend(shape, record, every):
    case = case_of(shape)
    kwargs = dict(max_spikes=case.max_spikes, record=record, checkpoint_every=every)
    got = lif_triton.forward(case.inputs, **kwargs)
    ref = lif_torch.forward(case.inputs, **kwargs)
    spikes, vmem, isyn, final_v, final_i, final_s = literal_lif(
        case.x, case.alpha, case.beta, case.threshold, case.bias, case.noise, case.v0, case.i0,
        max_spikes=case.max_spikes, surrogate=Surrogate.PERIODIC_EXPONENTIAL, window=0.5,
    )  # fmt: skip

    assert torch.equal(got.spikes, spikes)
    assert torch.equal(got.final_vmem, final_v)
    assert torch.equal(got.final_isyn, final_i)
    assert torch.equal(got.final_spikes, final_s)
    if record:
        assert torch.equal(got.vmem, vmem)
        assert torch.equal(got.isyn, isyn.reshape(got.isyn.shape))
    else:
        assert got.vmem is None and got.isyn is None
    # what the backward gets: u, or the state before every K-th step
    assert len(got.saved) == len(ref.saved)
    for mine, theirs in zip(got.saved, torch_saved_in_kernel_layout(ref.saved, every),
                            strict=True):
        assert torch.equal(mine, theirs)
    for mine, theirs in zip(got[:6], ref[:6], strict=True):
        assert (mine is None and theirs is None) or torch.equal(mine, theirs)


def test_synapse_currents_are_summed_left_to_right():
    """x = (1, 1e8, -1e8) with β = 1: (1 + 1e8) - 1e8 = 0 in float32, 1 + (1e8 - 1e8) = 1."""
    x = torch.tensor([[[1.0, 1e8, -1e8]]])
    one = torch.ones(1)
    result = lif_triton.forward(
        LIFInputs(x, torch.zeros(1), torch.ones(1, 3), one * 0.5, torch.zeros(1), None, None,
                  torch.zeros(1, 1), torch.zeros(1, 1, 3), torch.zeros(1, 1)),
        max_spikes=31.0, record=True, checkpoint_every=0,
    )  # fmt: skip
    assert result.saved[0].item() == 0.0 == x[0, 0].reshape(1, 3).sum(1).item()
    assert result.spikes.item() == 0.0


def test_spike_counts_at_the_threshold_and_the_cap_are_rockpools():
    """u exactly θ spikes once (Rockpool's u ≥ θ), just below θ not at all; u = 2θ twice;
    31θ and 32θ give the cap 31: hand-derived counts, one neuron each (α = 0, β = 1, one
    step: u = x)."""
    theta = 0.5
    below = torch.nextafter(torch.tensor(theta), torch.tensor(0.0)).item()
    values = [theta, 2 * theta, below, 0.0, 31 * theta, 32 * theta, -theta]
    n = len(values)
    result = lif_triton.forward(
        LIFInputs(torch.tensor([[values]]), torch.zeros(n), torch.ones(n, 1),
                  torch.full((n,), theta), torch.zeros(n), None, None, torch.zeros(1, n),
                  torch.zeros(1, n, 1), torch.zeros(1, n)),
        max_spikes=31.0, record=False, checkpoint_every=0,
    )  # fmt: skip
    assert result.spikes[0, 0].tolist() == [1.0, 2.0, 0.0, 0.0, 31.0, 31.0, 0.0]


@pytest.mark.parametrize("n_synapses", [1, 2, 3])
def test_each_synapse_count_matches_torch_sum(n_synapses):
    case = make_case(7, 2, 25, 33, n_synapses, max_spikes=31.0, noise=False, initial_state=True)
    got = lif_triton.forward(case.inputs, max_spikes=31.0, record=True, checkpoint_every=0)
    ref = lif_torch.forward(case.inputs, max_spikes=31.0, record=True, checkpoint_every=0)
    assert got.spikes.sum() > 0
    assert torch.equal(got.saved[0], torch_saved_in_kernel_layout(ref.saved, 0)[0])
    assert torch.equal(got.isyn, ref.isyn)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_are_integrated_in_float32(dtype):
    case = make_case(11, 2, 20, 9, 2, max_spikes=31.0, noise=True, initial_state=True)
    x = case.x.to(dtype)
    got = lif_triton.forward(
        case.with_x(x).inputs, max_spikes=31.0, record=True, checkpoint_every=0
    )
    spikes, vmem, isyn, final_v, *_ = literal_lif(
        x, case.alpha, case.beta, case.threshold, case.bias, case.noise, case.v0, case.i0,
        max_spikes=31.0, surrogate=Surrogate.PERIODIC_EXPONENTIAL, window=0.5,
    )  # fmt: skip
    assert got.spikes.dtype == got.vmem.dtype == got.isyn.dtype == dtype
    assert got.final_vmem.dtype == got.saved[0].dtype == torch.float32
    assert torch.equal(got.spikes, spikes.to(dtype))
    if dtype == torch.float16:
        assert torch.equal(got.vmem, vmem.to(dtype))
        assert torch.equal(got.isyn, isyn.to(dtype))
    else:
        # The interpreter truncates float32 to bfloat16 (numpy has no bfloat16) where the
        # GPU and torch round to nearest: one bfloat16 ulp here, bitwise in test_kernels_cuda.
        ulp = 2.0**-7
        torch.testing.assert_close(got.vmem.float(), vmem, rtol=ulp, atol=0)
        torch.testing.assert_close(got.isyn.float(), isyn, rtol=ulp, atol=0)
    assert torch.equal(got.final_vmem, final_v)


@settings(max_examples=6, deadline=None)
@given(SHAPES, st.data())
def test_two_calls_carrying_the_final_state_equal_one_call(shape, data):
    shape = {**shape, "steps": max(shape["steps"], 2)}
    case = case_of(shape)
    cut = data.draw(st.integers(1, shape["steps"] - 1))
    kwargs = dict(max_spikes=case.max_spikes, record=True, checkpoint_every=0)
    whole = lif_triton.forward(case.inputs, **kwargs)

    def part(steps: slice, v0, i0, s0):
        noise = None if case.noise is None else case.noise[:, steps].contiguous()
        x = case.x[:, steps].contiguous()
        inputs = case.inputs._replace(x=x, noise=noise, v0=v0, i0=i0, s0=s0)
        return lif_triton.forward(inputs, **kwargs)

    first = part(slice(0, cut), case.v0, case.i0, case.s0)
    second = part(slice(cut, None), first.final_vmem, first.final_isyn, first.final_spikes)
    for name in ("spikes", "vmem", "isyn"):
        joined = torch.cat([getattr(first, name), getattr(second, name)], 1)
        assert torch.equal(joined, getattr(whole, name)), name
    assert torch.equal(second.final_vmem, whole.final_vmem)
    assert torch.equal(second.final_isyn, whole.final_isyn)
    assert torch.equal(second.final_spikes, whole.final_spikes)


def test_long_sequence_one_neuron_block():
    case = make_case(5, 1, 300, 6, 1, max_spikes=31.0, noise=True, initial_state=True)
    got = lif_triton.forward(case.inputs, max_spikes=31.0, record=False, checkpoint_every=64)
    ref = lif_torch.forward(case.inputs, max_spikes=31.0, record=False, checkpoint_every=64)
    assert torch.equal(got.spikes, ref.spikes)
    for mine, theirs in zip(got.saved, ref.saved, strict=True):
        assert torch.equal(mine, theirs)


@pytest.mark.parametrize("batch, steps", [(0, 5), (2, 0)])
def test_empty_batch_or_time(batch, steps):
    case = make_case(1, batch, steps, 4, 2, max_spikes=31.0, noise=False, initial_state=True)
    s0 = torch.rand(batch, 4)
    got = lif_triton.forward(case.inputs._replace(s0=s0), max_spikes=31.0, record=True,
                             checkpoint_every=3)
    assert got.spikes.shape == (batch, steps, 4) and got.isyn.shape == (batch, steps, 4, 2)
    assert torch.equal(got.final_vmem, case.v0)
    assert torch.equal(got.final_isyn, case.i0)
    assert torch.equal(got.final_spikes, s0)


def test_recurrent_weights_are_refused():
    case = make_case(1, 1, 3, 4, 1, max_spikes=31.0, noise=False, initial_state=False)
    inputs = list(case.inputs)
    inputs[6] = torch.zeros(4, 4)
    with pytest.raises(NotImplementedError, match="recurrent"):
        lif_triton.forward(LIFInputs(*inputs), max_spikes=31.0, record=False, checkpoint_every=0)


def test_launcher_validates_before_launching():
    case = make_case(1, 2, 6, 5, 2, max_spikes=31.0, noise=False, initial_state=False)
    args = case.inputs[:5], case.v0, case.i0, case.s0
    x, alpha, beta, threshold, bias = args[0]
    common = dict(n_steps=6, seq_start=0, max_spikes=31.0)
    spikes = torch.zeros(2, 6, 5)
    with pytest.raises(ValueError, match="x must be"):
        launch_lif_forward(x[:, :, :9], None, alpha, beta, threshold, bias, *args[1:], **common)
    with pytest.raises(ValueError, match="contiguous"):
        launch_lif_forward(
            x.transpose(0, 1).contiguous().transpose(0, 1), None, alpha, beta, threshold, bias,
            *args[1:], spikes=spikes, **common,
        )  # fmt: skip
    with pytest.raises(ValueError, match="u must be"):
        launch_lif_forward(
            x, None, alpha, beta, threshold, bias, *args[1:], u=torch.zeros(2, 6, 4), **common
        )
    with pytest.raises(ValueError, match="float32"):
        launch_lif_forward(
            x, None, alpha.double(), beta, threshold, bias, *args[1:], spikes=spikes, **common
        )
    with pytest.raises(ValueError, match="steps outside"):
        launch_lif_forward(
            x, None, alpha, beta, threshold, bias, *args[1:], spikes=spikes,
            n_steps=6, seq_start=1, max_spikes=31.0,
        )  # fmt: skip
    assert not spikes.any()
