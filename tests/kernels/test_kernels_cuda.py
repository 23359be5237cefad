"""The compiled Triton kernels on a CUDA GPU against the torch backend on the same GPU.

Run by ``benchmarks/gpu_check.sh`` (``TRITON_INTERPRET=0 pytest -m cuda``); skipped without
CUDA or under the interpreter. Spike counts and records must be bitwise the torch backend's
(FP contraction off, IEEE division), gradients within 1e-5 of their scale.
"""

from __future__ import annotations

import pytest
import torch
from cuda_only import COMPILED_CUDA_ONLY

from synnet_triton.ops.lif import torch_backend as lif_torch
from synnet_triton.ops.lif.backend import LIFInputs, NeedsGrad, OutputGrads
from synnet_triton.ops.lif.functional import lif_decays
from synnet_triton.ops.lif.types import LIFState, Surrogate

pytestmark = COMPILED_CUDA_ONLY
ALL = NeedsGrad(True, True, True, True, True, True, True, False, False)


def layer(batch, steps, n_neurons, n_synapses, *, seed=0, noise=True, dtype=torch.float32):
    g = torch.Generator(device="cuda").manual_seed(seed)

    def uniform(low, high, *shape):
        return low + (high - low) * torch.rand(shape, generator=g, device="cuda")

    def randn(*shape):
        return torch.randn(shape, generator=g, device="cuda")

    x = (randn(batch, steps, n_neurons * n_synapses) * 1.5).to(dtype)
    return (
        x, uniform(0.5, 0.99, n_neurons), uniform(0.3, 0.95, n_neurons, n_synapses),
        uniform(0.4, 1.6, n_neurons), randn(n_neurons) * 0.1,
        randn(batch, steps, n_neurons) * 0.2 if noise else None, None,
        randn(batch, n_neurons), randn(batch, n_neurons, n_synapses),
        torch.zeros(batch, n_neurons, device="cuda"),
    )  # fmt: skip


def triton_backend():
    from synnet_triton.ops.lif import triton_backend as lif_triton

    return lif_triton


@pytest.mark.parametrize("n_synapses", [1, 2, 3])
@pytest.mark.parametrize("max_spikes", [1.0, 31.0])
@pytest.mark.parametrize("every", [0, 7])
def test_forward_is_bitwise_the_torch_backend(n_synapses, max_spikes, every):
    inputs = layer(3, 200, 1500, n_synapses, seed=n_synapses)
    kwargs = dict(max_spikes=max_spikes, record=True, checkpoint_every=every)
    got = triton_backend().forward(LIFInputs(*inputs), **kwargs)
    ref = lif_torch.forward(LIFInputs(*inputs), **kwargs)
    assert got.spikes.sum() > 0
    for name, a, b in zip(got._fields[:6], got[:6], ref[:6], strict=True):
        assert torch.equal(a, b), name
    # the torch backend keeps u time-major (T, B, N), the kernels (B, T, N)
    ref_saved = (ref.saved[0].transpose(0, 1),) if every == 0 else ref.saved
    for a, b in zip(got.saved, ref_saved, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_records_are_bitwise(dtype):
    inputs = layer(2, 100, 70, 2, seed=5, dtype=dtype)
    kwargs = dict(max_spikes=31.0, record=True, checkpoint_every=0)
    got = triton_backend().forward(LIFInputs(*inputs), **kwargs)
    ref = lif_torch.forward(LIFInputs(*inputs), **kwargs)
    for name, a, b in zip(got._fields[:6], got[:6], ref[:6], strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b), name


@pytest.mark.parametrize("surrogate", list(Surrogate))
@pytest.mark.parametrize("every", [0, 16])
def test_gradients_match_the_torch_backend(surrogate, every):
    inputs = layer(2, 150, 300, 2, seed=3)
    g = torch.Generator(device="cuda").manual_seed(1)
    grads = tuple(
        torch.randn(shape, generator=g, device="cuda")
        for shape in (
            (2, 150, 300),
            (2, 150, 300),
            (2, 150, 300, 2),
            (2, 300),
            (2, 300, 2),
            (2, 300),
        )
    )
    results = []
    for backend in (triton_backend(), lif_torch):
        result = backend.forward(LIFInputs(*inputs), max_spikes=31.0, record=True,
                                 checkpoint_every=every)
        results.append(
            backend.backward(
                result.saved,
                OutputGrads(*grads),
                LIFInputs(*inputs),
                surrogate=surrogate,
                window=0.5,
                max_spikes=31.0,
                checkpoint_every=every,
                needs_grad=ALL,
            )  # fmt: skip
        )
    for name, a, b in zip(ALL._fields, *results, strict=True):
        if b is None:
            assert a is None, name
            continue
        scale = b.abs().max().item()
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * scale, msg=name)


def test_more_than_2_to_the_31_input_elements():
    """Row 1 of a (2, T, N) input ends past element 2**31; alone it stays below 2**30.

    Every batch row is computed independently, so the two runs agree bitwise unless an
    offset overflows 32 bits.
    """
    batch, steps, n_neurons = 2, 300_000, 4000
    assert batch * steps * n_neurons > 2**31
    inputs = list(layer(batch, steps, n_neurons, 1, seed=9, noise=False, dtype=torch.float16))
    x = inputs[0]
    backend = triton_backend()
    kwargs = dict(max_spikes=31.0, record=False, checkpoint_every=0)
    whole = backend.forward(LIFInputs(*inputs), **kwargs)
    row = [x[1:].contiguous(), *inputs[1:7], *(t[1:].contiguous() for t in inputs[7:])]
    alone = backend.forward(LIFInputs(*row), **kwargs)
    assert torch.equal(whole.spikes[1:], alone.spikes)
    assert torch.equal(whole.final_vmem[1:], alone.final_vmem)

    needs = NeedsGrad(True, False, False, False, True, False, False, False, False)
    grad = torch.ones_like(whole.spikes)
    common = dict(surrogate=Surrogate.PERIODIC_EXPONENTIAL, window=0.5, max_spikes=31.0,
                  checkpoint_every=0, needs_grad=needs)  # fmt: skip
    del x
    no_grads = OutputGrads(None, None, None, None, None, None)
    g_whole = backend.backward(whole.saved, no_grads._replace(spikes=grad), LIFInputs(*inputs),
                               **common)
    g_row = backend.backward(alone.saved, no_grads._replace(spikes=grad[1:]), LIFInputs(*row),
                             **common)
    assert torch.equal(g_whole.x[1:], g_row.x)


def test_torch_compile_traces_the_op_without_graph_breaks():
    x, alpha, beta, threshold, bias, _, _, v0, i0, s0 = layer(2, 64, 96, 2, seed=4)
    params = [t.clone().requires_grad_() for t in (x, alpha, beta, threshold, bias)]

    def run(x, alpha, beta, threshold, bias):
        out, _ = lif_decays(
            x, alpha, beta, threshold, bias, n_synapses=2, record=True,
            initial_state=LIFState(v0, i0, s0), backend="triton",
        )  # fmt: skip
        return (out.spikes * torch.arange(64, device="cuda")[:, None]).sum() + out.vmem.sum()

    compiled = torch.compile(run, fullgraph=True)
    eager_loss = run(*params)
    eager = torch.autograd.grad(eager_loss, params)
    compiled_loss = compiled(*params)
    traced = torch.autograd.grad(compiled_loss, params)
    assert torch.equal(eager_loss, compiled_loss)
    for a, b in zip(eager, traced, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
