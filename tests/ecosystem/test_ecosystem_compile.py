"""``torch.compile(fullgraph=True)`` on the ``LIF`` module and on the functional op (CPU, torch
backend, and the Triton backend under the interpreter): no graph break, and forward and
gradients equal eager.

SynNet under compile is in ``test_synnet_compile.py``; the CUDA/Triton path in
``test_kernels_cuda.py``. ``aot_eager`` traces the forward and the backward graphs (through the
registered fake and autograd of ``synnet_triton::lif_forward``) without a C++ toolchain; one test
uses the default inductor backend on a SynNet.
"""

from __future__ import annotations

import os

import pytest
import torch

from synnet_triton import LIF, LIFState, lif
from synnet_triton.nn.synnet import SynNet


def _grads(loss, params):
    return torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True)


def test_compiled_lif_module_matches_eager():
    torch.manual_seed(0)
    layer = LIF(5, 2, tau_mem=torch.linspace(0.005, 0.03, 5), tau_syn=torch.full((5, 2), 0.01),
                threshold=0.8, has_rec=True, backend="torch")
    with torch.no_grad():
        layer.w_rec.mul_(0.2)
    x = torch.rand(3, 40, 10, generator=torch.Generator().manual_seed(1)) * 1.5
    weights = torch.randn(3, 40, 5, generator=torch.Generator().manual_seed(2))
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    params = list(layer.parameters())

    outs = []
    for model in (compiled, layer):
        xi = x.clone().requires_grad_()
        spikes = model(xi)
        loss = (spikes * weights).sum()
        outs.append((spikes, _grads(loss, [xi, *params])))
    (c_spikes, c_grads), (e_spikes, e_grads) = outs
    assert e_spikes.sum() > 10, "the test needs spikes"
    assert torch.equal(c_spikes, e_spikes)
    for c, e in zip(c_grads, e_grads, strict=True):
        assert e.abs().sum() > 0
        torch.testing.assert_close(c, e, rtol=1e-6, atol=1e-7)


def test_compiled_module_streaming_with_state_and_records_matches_eager():
    layer = LIF(4, backend="torch")
    x = torch.rand(2, 30, 4, generator=torch.Generator().manual_seed(3)) * 2

    def two_chunks(model, x):
        (out1, state) = model(x[:, :17], return_state=True)
        out2, final = model(x[:, 17:], state, record=True)
        return torch.cat([out1.spikes, out2.spikes], 1), out2.vmem, final

    compiled = torch.compile(two_chunks, backend="aot_eager", fullgraph=True)
    c = compiled(layer, x)
    e = two_chunks(layer, x)
    assert torch.equal(c[0], e[0]) and torch.equal(c[1], e[1])
    for a, b in zip(c[2], e[2], strict=True):
        assert torch.equal(a, b)
    assert torch.equal(e[0], layer(x)), "chunks must equal one call"


TRITON_ON_CPU = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                                   reason="the Triton backend on CPU runs under the interpreter")


@pytest.mark.parametrize("backend", ["torch", pytest.param("triton", marks=TRITON_ON_CPU)])
def test_compiled_functional_op_with_records_final_state_and_lengths_matches_eager(backend):
    """Also the Triton backend (the kernels under the interpreter on CPU): the op is opaque
    to dynamo, its fake and autograd registrations trace the graph, the kernels run inside."""
    g = torch.Generator().manual_seed(4)
    batch, steps, n, s = 3, 25, 4, 2
    x = torch.randn(batch, steps, n * s, generator=g) * 1.5
    tau_mem = torch.full((n,), 0.01)
    tau_syn = torch.tensor([[0.004, 0.02]]).expand(n, s).contiguous()
    threshold = torch.full((n,), 0.9)
    bias = torch.full((n,), 0.05)
    state = LIFState(torch.randn(batch, n, generator=g), torch.randn(batch, n, s, generator=g),
                     torch.zeros(batch, n))
    lengths = torch.tensor([25, 11, 0])
    wv = torch.randn(batch, steps, n, generator=g)
    ws = torch.randn(batch, steps, n, generator=g)

    def run(x, tau_mem, tau_syn, threshold, bias, v0, i0):
        out, final = lif(x, tau_mem, tau_syn, threshold, bias, n_synapses=s,
                         initial_state=LIFState(v0, i0, state.spikes), record=True,
                         output_final_state=True, lengths=lengths, backend=backend)
        loss = ((out.spikes * ws).sum() + (out.vmem * wv).sum() + out.isyn.square().sum()
                + final.vmem.sum() + 0.5 * final.isyn.sum())
        return loss, out.spikes, out.vmem, out.isyn, final.vmem, final.isyn, final.spikes

    compiled = torch.compile(run, backend="aot_eager", fullgraph=True)
    results = []
    for fn in (compiled, run):
        inputs = [t.clone().requires_grad_() for t in
                  (x, tau_mem, tau_syn, threshold, bias, state.vmem, state.isyn)]
        values = fn(*inputs)
        results.append((values, _grads(values[0], inputs)))
    (c_vals, c_grads), (e_vals, e_grads) = results
    assert e_vals[1].sum() > 5
    assert not e_vals[1][1, 11:].any() and not e_vals[1][2].any()
    # sample 2 has length 0: its final state is its initial state
    assert torch.equal(e_vals[4][2], state.vmem[2])
    for c, e in zip(c_vals[1:], e_vals[1:], strict=True):
        assert torch.equal(c, e)
    torch.testing.assert_close(c_vals[0], e_vals[0], rtol=1e-6, atol=1e-6)
    for c, e in zip(c_grads, e_grads, strict=True):
        torch.testing.assert_close(c, e, rtol=1e-5, atol=1e-6)


def test_synnet_with_the_default_inductor_backend_matches_eager():
    # test_synnet_compile.py uses aot_eager; this is what a user gets from torch.compile(net)
    torch.manual_seed(0)
    net = SynNet(n_classes=2, n_channels=3, size_hidden_layers=[7, 5],
                 time_constants_per_layer=[3, 2], train_threshold=True, threshold=0.5,
                 backend="torch")
    x = torch.randint(0, 6, (2, 30, 3), generator=torch.Generator().manual_seed(1)).float()
    weights = torch.arange(30.0)[:, None]
    compiled = torch.compile(net, fullgraph=True)
    params = list(net.parameters())

    compiled_out = compiled(x)
    compiled_grads = torch.autograd.grad((compiled_out * weights).sum(), params)
    eager_out = net(x)
    eager_grads = torch.autograd.grad((eager_out * weights).sum(), params)
    assert eager_out.sum() > 10
    assert torch.equal(compiled_out, eager_out)
    for c, e in zip(compiled_grads, eager_grads, strict=True):
        assert e.abs().sum() > 0
        torch.testing.assert_close(c, e, rtol=1e-5, atol=1e-6 * float(e.abs().max()))
