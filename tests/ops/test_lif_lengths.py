"""Variable-length batches: each sample behaves as if it ran alone for its own length."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from synnet_triton import LIF, lif

TRITON_ON_CPU = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                                   reason="the Triton backend on CPU runs under the interpreter")


@pytest.mark.parametrize("backend", ["torch", pytest.param("triton", marks=TRITON_ON_CPU)])
@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.integers(0, 25), min_size=1, max_size=4),
    st.integers(1, 3),
    st.booleans(),
    st.sampled_from([None, 4]),
    st.integers(0, 1000),
)
def test_padded_batch_equals_each_sample_alone(backend, lengths, synapses, recurrent, checkpoint,
                                               seed):
    """NaN padding past each length must not leak; every sample equals its own run. The
    recurrent weights are multiples of 1/16 and spike counts are integers, so the recurrent
    matmul is exact whatever BLAS's reduction order at each batch size: outputs and final
    states compare bitwise; gradients (arbitrary floats through the matmul) within bounds.
    With ``w_rec`` the Triton backend runs the torch reference (and warns once)."""
    if backend == "triton" and recurrent:
        recurrent = False
    g = torch.Generator().manual_seed(seed)
    batch, steps, neurons = len(lengths), 25, 4
    x = torch.randn(batch, steps, neurons * synapses, generator=g).requires_grad_()
    x_padded_with_nan = x.detach().clone()
    tau = torch.full((neurons,), 0.01, requires_grad=True)
    w_rec = (torch.round(1.6 * torch.randn(neurons, neurons * synapses, generator=g)) / 16
             ).requires_grad_() if recurrent else None
    weights = torch.randn(batch, steps, neurons, generator=g)
    lengths_t = torch.tensor(lengths)
    for b, length in enumerate(lengths):
        x_padded_with_nan[b, length:] = float("nan")
    kwargs = dict(n_synapses=synapses, w_rec=w_rec, output_final_state=True, record=True,
                  checkpoint_every=checkpoint, backend=backend)

    out, final = lif(x, tau, lengths=lengths_t, **kwargs)
    nan_out, _ = lif(x_padded_with_nan, tau, lengths=lengths_t, **kwargs)
    assert torch.equal(out.spikes, nan_out.spikes), "padding leaked into the outputs"

    def loss(o, f, w):
        return (o.spikes * w).sum() + (o.vmem * w).sum() + f.vmem.sum() + 0.5 * f.isyn.sum()

    params = [tau] + ([w_rec] if recurrent else [])
    total_loss = loss(out, final, weights)
    if not total_loss.requires_grad:  # every length is 0: nothing depends on x or the params
        assert all(length == 0 for length in lengths)
        return
    grads = torch.autograd.grad(total_loss, [x, *params], allow_unused=True,
                                materialize_grads=True)
    summed = [torch.zeros_like(p) for p in params]
    magnitude = [torch.zeros_like(p) for p in params]
    for b, length in enumerate(lengths):
        alone, alone_final = lif(x[b:b + 1, :length], tau, **kwargs)
        assert torch.equal(alone.spikes, out.spikes[b:b + 1, :length])
        assert not out.spikes[b, length:].any() and not out.vmem[b, length:].any()
        for mine, ref in zip(final, alone_final, strict=True):
            assert torch.equal(mine[b], ref[0])
        if length == 0:
            assert not grads[0][b].any()
            continue
        alone_grads = torch.autograd.grad(
            loss(alone, alone_final, weights[b:b + 1, :length]), [x, *params],
            allow_unused=True, materialize_grads=True,
        )
        # float32 rounding differs with the batch size (BLAS kernels for the recurrent matmul;
        # numpy's vectorised exp against its scalar tail loop for the surrogate, an ulp) and
        # travels through the reverse sweep: bounded relative to the sample's gradient scale
        scale = alone_grads[0][b].abs().max().item()
        torch.testing.assert_close(alone_grads[0][b], grads[0][b], rtol=1e-5,
                                   atol=1e-6 + 1e-5 * scale)
        for total, size, g_alone in zip(summed, magnitude, alone_grads[1:]):
            total += g_alone
            size += g_alone.abs()
    # samples' parameter gradients may cancel: float32 rounding scales with their magnitudes,
    # and each is itself a sum over steps whose terms cancel (one ulp of exp, vectorised or
    # not, moved a 0.07 gradient by 2e-6 in CI's examples); with recurrence the
    # batch-dependent matmul rounding also builds up over the steps
    rel = 1e-4
    for total, size, g_batch in zip(summed, magnitude, grads[1:]):
        assert ((total - g_batch).abs() <= 1e-6 + rel * size).all(), (total, g_batch)


def test_module_accepts_lengths():
    layer = LIF(3, backend="torch")
    x = torch.rand(2, 10, 3) * 3
    spikes = layer(x, lengths=torch.tensor([10, 4]))
    assert torch.equal(spikes[0], layer(x[:1])[0])
    assert torch.equal(spikes[1, :4], layer(x[1:, :4])[0]) and not spikes[1, 4:].any()


@pytest.mark.parametrize("lengths, message", [
    (torch.tensor([1.0, 2.0]), "integer tensor"),
    (torch.tensor([1, 2, 3]), r"shape \(2,\)"),
    (torch.tensor([1, 11]), r"\[0, T=10\]"),
    (torch.tensor([-1, 2]), r"\[0, T=10\]"),
])
def test_bad_lengths(lengths, message):
    with pytest.raises((TypeError, ValueError), match=message):
        lif(torch.zeros(2, 10, 3), lengths=lengths)


def test_membrane_noise_with_lengths_runs_on_both_backends_alike() -> None:
    """lengths shorter than T cut noise to the longest sample: a strided view, which the Triton
    kernels refused as non-contiguous; both backends give the same bits."""
    from bits import bitwise_equal

    from synnet_triton import lif_decays

    generator = torch.Generator().manual_seed(3)
    x = torch.randn(3, 12, 4, generator=generator)
    noise = torch.randn(3, 12, 4, generator=generator) * 0.1
    lengths = torch.tensor([5, 9, 2])
    outputs = [lif_decays(x, 0.9, 0.8, 0.5, noise=noise, lengths=lengths, backend=backend,
                          record=True)[0] for backend in ("torch", "triton")]
    for name in ("spikes", "vmem", "isyn"):
        assert bitwise_equal(getattr(outputs[0], name), getattr(outputs[1], name)), name
    assert outputs[0].spikes.sum() > 0 and outputs[0].spikes[:, 9:].abs().sum() == 0
