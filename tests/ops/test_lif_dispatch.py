"""Backend dispatch: which backend a call runs on, and each fallback's one warning."""

from __future__ import annotations

import os
import warnings

import pytest
import torch

from synnet_triton import lif
from synnet_triton.ops.lif import op
from synnet_triton.ops.lif.op import resolve_backend

CPU = torch.device("cpu")


def test_auto_picks_the_numba_loops_on_cpu_and_rejects_unknown_backends():
    pytest.importorskip("numba")
    assert resolve_backend("auto", CPU, recurrent=False) == "numba"
    assert resolve_backend("numba", CPU, recurrent=False) == "numba"
    assert resolve_backend("auto", CPU, recurrent=True) == "torch"  # no warning: auto's rule
    assert resolve_backend("torch", CPU, recurrent=True) == "torch"
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend("cuda", CPU, recurrent=False)
    with pytest.raises(RuntimeError, match="runs on the CPU"):
        resolve_backend("numba", torch.device("meta"), recurrent=False)


def test_without_numba_auto_runs_the_reference_and_says_so_once(monkeypatch):
    """The [cpu] extra missing: the same spikes from the torch reference, and one warning
    naming the extra (not one per call)."""
    monkeypatch.setattr(op, "numba_available", lambda: False)
    monkeypatch.setattr(op, "_warned", set())
    x = torch.randn(2, 20, 3, generator=torch.Generator().manual_seed(1)) * 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, _ = lif(x)
        lif(x)
    said = [w for w in caught if "numba is not installed" in str(w.message)]
    assert len(said) == 1 and "synnet-triton[cpu]" in str(said[0].message)
    assert said[0].filename == __file__
    reference, _ = lif(x, backend="torch")
    assert torch.equal(first.spikes.view(torch.int32), reference.spikes.view(torch.int32))
    with pytest.raises(RuntimeError, match=r"pip install 'synnet-triton\[cpu\]'"):
        lif(x, backend="numba")


@pytest.mark.parametrize("backend", ["auto", "numba"])
def test_more_than_four_synapses_run_on_the_reference(monkeypatch, backend):
    """From 5 synapses per neuron torch sums a neuron's currents in its own order, which only
    the reference calls: auto picks it quietly on the CPU, an explicit numba says so once."""
    pytest.importorskip("numba")
    monkeypatch.setattr(op, "_warned", set())
    assert resolve_backend("auto", CPU, recurrent=False, n_synapses=4) == "numba"
    assert resolve_backend("auto", CPU, recurrent=False, n_synapses=5) == "torch"
    x = torch.randn(2, 30, 3 * 6, generator=torch.Generator().manual_seed(2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, _ = lif(x, n_synapses=6, record=True, backend=backend)
        lif(x, n_synapses=6, backend=backend)
    said = [w for w in caught if "synapses per neuron" in str(w.message)]
    assert len(said) == (1 if backend == "numba" else 0)
    reference, _ = lif(x, n_synapses=6, record=True, backend="torch")
    assert torch.equal(first.vmem.view(torch.int32), reference.vmem.view(torch.int32))


def test_recurrent_numba_calls_fall_back_to_torch_with_one_warning(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(op, "_warned", set())
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 12, 3, generator=g) * 2
    w_rec = torch.randn(3, 3, generator=g) * 0.3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, _ = lif(x, w_rec=w_rec, backend="numba")
        lif(x, w_rec=w_rec, backend="numba")
    fallback = [w for w in caught if "does not fuse recurrent weights" in str(w.message)]
    assert len(fallback) == 1 and fallback[0].filename == __file__
    reference, _ = lif(x, w_rec=w_rec, backend="torch")
    assert torch.equal(first.spikes, reference.spikes)


@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                    reason="the Triton backend on CPU runs under the interpreter")
def test_recurrent_triton_calls_fall_back_to_torch_with_one_warning(monkeypatch):
    monkeypatch.setattr(op, "_warned", set())
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 12, 3, generator=g) * 2
    w_rec = torch.randn(3, 3, generator=g) * 0.3
    tau = torch.full((3,), 0.01)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, _ = lif(x, tau, w_rec=w_rec, backend="triton")
        second, _ = lif(x, tau, w_rec=w_rec, backend="triton")
        lif(x, tau, backend="triton")  # not recurrent: no fallback, no warning
    fallback = [w for w in caught if "does not fuse recurrent weights" in str(w.message)]
    assert len(fallback) == 1
    assert fallback[0].filename == __file__  # points at the caller's line
    reference, _ = lif(x, tau, w_rec=w_rec, backend="torch")
    assert torch.equal(first.spikes, reference.spikes)
    assert torch.equal(second.spikes, reference.spikes)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_give_outputs_in_their_dtype_computed_in_float32(dtype):
    x = torch.randn(2, 30, 4, generator=torch.Generator().manual_seed(3)).to(dtype) * 2
    tau = torch.full((4,), 0.01)
    out, _ = lif(x, tau, record=True, backend="torch")
    wide, _ = lif(x.float(), tau, record=True, backend="torch")
    for name in ("spikes", "vmem", "isyn"):
        got = getattr(out, name)
        assert got.dtype == dtype, name
        assert torch.equal(got, getattr(wide, name).to(dtype)), name


def test_counts_beyond_two_to_the_24_take_rockpools_literal_clamp_in_the_backward_too():
    """u/θ ≥ 2^24: the forward and the backward's recomputed counts switch to Rockpool's
    literal clamp formula s − (s − M)·(s > M) (min() and it differ once s − M rounds);
    spikes equal the literal loop's, gradients autograd through it."""
    from synnet_triton.ops.lif.naive import naive_lif

    g = torch.Generator().manual_seed(8)
    x = (torch.rand(2, 6, 3, generator=g) * 4e4 + 2e4).requires_grad_()
    alpha, beta = torch.full((3,), 0.9), torch.full((3, 1), 0.8)
    threshold, bias = torch.full((3,), 1e-3), torch.zeros(3)
    from synnet_triton import lif_decays

    out, _ = lif_decays(x, alpha, beta, threshold, bias, max_spikes_per_dt=2.0**16,
                        backend="torch")
    reference, _ = naive_lif(x, alpha, beta, threshold, bias, max_spikes_per_dt=2.0**16)
    quotient = (reference.vmem + reference.spikes * threshold) / threshold  # u / θ
    assert quotient.max() >= 2**24  # the literal branch ran
    assert torch.equal(out.spikes, reference.spikes)
    weights = torch.randn(out.spikes.shape, generator=g)
    mine = torch.autograd.grad((out.spikes * weights).sum(), x)[0]
    theirs = torch.autograd.grad((reference.spikes * weights).sum(), x)[0]
    torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5 * theirs.abs().max().item())
