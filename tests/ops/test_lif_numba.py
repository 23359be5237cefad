"""The numba backend (the compiled CPU loops) against the torch reference and the literal loop.

Forward: spike counts, records, final state and the saved membrane bitwise (the loops do the
reference's float32 operations in its order, numpy's pairwise Σ over synapses included).
Backward: within 1e-5 of each gradient's scale of the torch backend's hand-written sweep and
of autograd through the literal loop; a checkpointed backward gives the default's bits.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from bits import bits, bitwise_equal
from hypothesis import given, settings
from hypothesis import strategies as st
from kernels_oracle import (
    all_gradients,
    assert_gradient_close,
    case_of,
    incoming_gradients,
    literal_gradients,
    literal_lif,
    make_case,
)

pytest.importorskip("numba")

from synnet_triton.ops.lif import numba_backend as lif_numba  # noqa: E402
from synnet_triton.ops.lif import torch_backend as lif_torch  # noqa: E402
from synnet_triton.ops.lif.backend import NeedsGrad, OutputGrads  # noqa: E402
from synnet_triton.ops.lif.functional import lif_decays  # noqa: E402
from synnet_triton.ops.lif.numba_loops import FORWARD_BLOCK, SWEEP_BLOCK  # noqa: E402
from synnet_triton.ops.lif.types import LIFState, Surrogate  # noqa: E402

SHAPES = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "batch": st.integers(1, 3),
        "steps": st.integers(1, 40),
        # around the loops' blocks of neurons: partial last blocks
        "n_neurons": st.sampled_from([1, 3, SWEEP_BLOCK - 1, SWEEP_BLOCK + 3,
                                      FORWARD_BLOCK, FORWARD_BLOCK + 3]),
        # the compiled backends take at most 4 (torch sums more in its own order)
        "n_synapses": st.sampled_from([1, 2, 3, 4]),
        "max_spikes": st.sampled_from([1.0, 31.0]),
        "noise": st.booleans(),
        "initial_state": st.booleans(),
    }
)
PARAMS = ("alpha", "beta", "threshold", "bias")


def assert_same_bits(got, expected, what):
    assert bitwise_equal(got, expected), what


@settings(max_examples=25, deadline=None)
@given(SHAPES, st.booleans(), st.integers(0, 45))
def test_forward_is_bitwise_the_torch_backend_and_the_literal_loop(shape, record, every):
    case = case_of(shape)
    kwargs = dict(max_spikes=case.max_spikes, record=record, checkpoint_every=every)
    got = lif_numba.forward(case.inputs, **kwargs)
    ref = lif_torch.forward(case.inputs, **kwargs)
    spikes, vmem, isyn, final_v, final_i, final_s = literal_lif(
        case.x, case.alpha, case.beta, case.threshold, case.bias, case.noise, case.v0, case.i0,
        max_spikes=case.max_spikes, surrogate=Surrogate.PERIODIC_EXPONENTIAL, window=0.5,
    )  # fmt: skip
    for name, theirs in (("spikes", spikes), ("final_vmem", final_v), ("final_isyn", final_i),
                         ("final_spikes", final_s)):
        assert_same_bits(getattr(got, name), getattr(ref, name), name)
        assert_same_bits(getattr(got, name), theirs, name)
    if record:
        for name, theirs in (("vmem", vmem), ("isyn", isyn)):
            assert_same_bits(getattr(got, name), getattr(ref, name), name)
            assert_same_bits(getattr(got, name), theirs, name)
    if every == 0:
        # u: the reference keeps it time-major, the loops batch-major
        assert_same_bits(got.saved[0], ref.saved[0].transpose(0, 1).contiguous(), "u")
    else:
        for name, a, b in zip(("v", "i", "s"), got.saved, ref.saved, strict=True):
            assert_same_bits(a, b, f"checkpointed {name}")


@pytest.mark.parametrize("n_synapses", [1, 2])
def test_the_signs_of_zero_and_counts_past_two_to_the_24_are_the_references(n_synapses):
    """−0.0 inputs and states (the reference skips a zero bias and clamps −0.0 counts to
    +0.0 through Rockpool's formula), and u/θ ≥ 2²⁴, where only the literal clamp formula
    gives the reference's counts; NaN and ±inf propagate as the reference's do."""
    g = torch.Generator().manual_seed(4)
    n = 6
    x = torch.randn(2, 30, n * n_synapses, generator=g)
    x[x.abs() < 0.5] = -0.0
    x[0, 5, :3] = 3e7
    x[1, 7, 0] = float("nan")
    x[1, 9, 5] = float("inf")
    x[0, 11, 4] = -float("inf")
    inputs = make_case(0, 2, 30, n, n_synapses, max_spikes=2.0**16, noise=False,
                       initial_state=True).inputs
    threshold = torch.full((n,), 1e-3)
    threshold[::2] = 1.0
    inputs = inputs._replace(x=x, bias=torch.tensor([0.0, -0.0] * 3), threshold=threshold,
                             v0=-torch.zeros(2, n), i0=-torch.zeros(2, n, n_synapses))
    for max_spikes in (2.0**16, 3.0):
        with np.errstate(invalid="ignore"):  # NaN input, as intended
            got = lif_numba.forward(inputs, max_spikes=max_spikes, record=True,
                                    checkpoint_every=0)
            ref = lif_torch.forward(inputs, max_spikes=max_spikes, record=True,
                                    checkpoint_every=0)
        quotient = ref.saved[0].transpose(0, 1) / threshold  # u/θ
        assert float(quotient.nan_to_num(0, 0, 0).max()) >= 2**24  # the literal clamp ran
        for name in ("spikes", "vmem", "isyn", "final_vmem", "final_isyn", "final_spikes"):
            assert_same_bits(getattr(got, name), getattr(ref, name), (max_spikes, name))
        negative_zero = bits(torch.tensor(-0.0))
        assert bool(bits(ref.vmem if n_synapses == 1 else ref.isyn).eq(negative_zero).any())


def run_backward(module, case, grads, *, surrogate, every, needs, record):
    result = module.forward(case.inputs, max_spikes=case.max_spikes, record=record,
                            checkpoint_every=every)
    return module.backward(
        result.saved, OutputGrads(*grads), case.inputs, surrogate=surrogate, window=0.5,
        max_spikes=case.max_spikes, checkpoint_every=every, needs_grad=needs,
    )


@settings(max_examples=25, deadline=None)
@given(SHAPES, st.sampled_from(list(Surrogate)), st.booleans(), st.integers(0, 25),
       st.lists(st.booleans(), min_size=7, max_size=7), st.booleans())
def test_gradients_match_the_torch_backend_and_autograd_through_the_literal_loop(
    shape, surrogate, record, every, trains, incoming_at_spikes_only
):
    case = case_of(shape)
    needs = NeedsGrad(*trains, False, False)
    grads = incoming_gradients(case, record, shape["seed"] + 1)
    if incoming_at_spikes_only:
        grads = (grads[0], None, None, None, None, None)
    got = run_backward(lif_numba, case, grads, surrogate=surrogate, every=every, needs=needs,
                       record=record)
    ref = run_backward(lif_torch, case, grads, surrogate=surrogate, every=every, needs=needs,
                       record=record)
    literal = literal_gradients(case, grads, surrogate, 0.5, needs) if any(trains) else {}
    for name in ("x", *PARAMS, "v0", "i0"):
        mine = getattr(got, name)
        if not getattr(needs, name):
            assert mine is None, name
            continue
        assert mine.shape == literal[name].shape, name
        assert_gradient_close(name, mine, getattr(ref, name))
        assert_gradient_close(name, mine, literal[name])
    assert got.s0 is None and got.w_rec is None


@pytest.mark.parametrize("n_synapses", [1, 3])
@pytest.mark.parametrize("surrogate", list(Surrogate))
def test_checkpointed_backward_is_bitwise_the_default(n_synapses, surrogate):
    """Segments of K steps, recomputed from the saved states, continue one sweep: the same
    additions in the same order for every K, 150 steps crossing the parameter sums'
    float32 chunks."""
    case = make_case(3, 2, 150, 70, n_synapses, max_spikes=31.0, noise=True,
                     initial_state=True)
    grads = incoming_gradients(case, True, 4)
    kwargs = dict(surrogate=surrogate, needs=all_gradients(), record=True)
    default = run_backward(lif_numba, case, grads, every=0, **kwargs)
    for every in (1, 7, 64, 150, 200):
        checkpointed = run_backward(lif_numba, case, grads, every=every, **kwargs)
        for name, a, b in zip(default._fields, default, checkpointed, strict=True):
            assert (a is None and b is None) or bitwise_equal(a, b), (every, name)


def test_results_do_not_depend_on_the_thread_count():
    """Each work item owns its (batch, block of neurons): one thread or two, the same bits."""
    case = make_case(9, 4, 60, 2 * FORWARD_BLOCK + 5, 1, max_spikes=31.0, noise=True,
                     initial_state=True)
    grads = incoming_gradients(case, True, 10)
    threads = torch.get_num_threads()
    results = []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            results.append(run_backward(lif_numba, case, grads, surrogate=Surrogate.STEP_PWL,
                                        every=0, needs=all_gradients(), record=True))
    finally:
        torch.set_num_threads(threads)
    for name, a, b in zip(results[0]._fields, *results, strict=True):
        assert (a is None and b is None) or bitwise_equal(a, b), name


FIRST_LAUNCH = """
import torch
torch.set_num_threads(1)
from synnet_triton import lif
x = torch.randn(2, 20, 9, requires_grad=True)
out, _ = lif(x, backend="numba")
after_forward = torch.get_num_threads()
out.spikes.sum().backward()
print(after_forward, torch.get_num_threads())
"""


def test_the_first_launch_leaves_torchs_thread_count_as_it_was():
    """numba's OpenMP layer shares OpenMP's thread count with torch, and the launch that
    starts its pool had set torch, asked for one thread, to two (a fresh process: only the
    first launch does it)."""
    result = subprocess.run([sys.executable, "-c", FIRST_LAUNCH], capture_output=True,
                            text=True, check=True)
    assert result.stdout.split() == ["1", "1"]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 3), st.sampled_from([1, 2]),
       st.sampled_from([torch.float32, torch.float16, torch.bfloat16]), st.booleans())
def test_the_public_op_on_numba_is_the_reference_with_lengths_noise_and_any_dtype(
    seed, steps, n_synapses, dtype, stream
):
    """Through ``lif_decays``: T = 0 … 3, padded batches (lengths), membrane noise, half
    precision inputs and a carried state give the reference's bits, gradients included."""
    g = torch.Generator().manual_seed(seed)
    batch, n = 3, 5
    x = (torch.randn(batch, steps, n * n_synapses, generator=g) * 2).to(dtype)
    noise = torch.randn(batch, steps, n, generator=g) * 0.3
    lengths = torch.randint(0, steps + 1, (batch,), generator=g)
    state = LIFState(torch.randn(batch, n, generator=g), torch.randn(batch, n, n_synapses,
                     generator=g), torch.zeros(batch, n)) if stream else None
    outputs = {}
    for backend in ("torch", "numba"):
        leaf = x.detach().clone().requires_grad_()
        threshold = torch.full((n,), 0.8, requires_grad=True)
        out, final = lif_decays(leaf, 0.9, 0.8, threshold, 0.05, n_synapses=n_synapses,
                                noise=noise, lengths=lengths, initial_state=state,
                                output_final_state=True, record=True, backend=backend)
        loss = (out.spikes.float() * torch.arange(1, steps + 1).view(1, -1, 1)).sum() \
            + final.vmem.sum()
        # with T = 0 nothing depends on x or θ (and nothing requires a gradient)
        grads = torch.autograd.grad(loss, [leaf, threshold], allow_unused=True) \
            if loss.requires_grad else (None, None)
        outputs[backend] = (out, final, grads)
    (out_t, final_t, grads_t), (out_n, final_n, grads_n) = outputs["torch"], outputs["numba"]
    for a, b in zip((*out_t, *final_t), (*out_n, *final_n), strict=True):
        assert bitwise_equal(a, b)
    for a, b in zip(grads_t, grads_n, strict=True):
        if a is None:
            assert b is None
        else:
            assert_gradient_close("public op", b.float(), a.float())
