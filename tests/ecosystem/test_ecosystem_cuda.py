"""Ecosystem checks on a CUDA GPU with the compiled Triton kernels: fp16 and bf16 autocast
around Linear + LIF (fp16 autocast exists only on CUDA), and bitwise determinism of the Triton
backend. Skipped without CUDA or under the interpreter; run with
``TRITON_INTERPRET=0 pytest -m cuda`` (``benchmarks/gpu_check.sh``).

The autocast floors are those measured for bf16 on the CPU (``test_ecosystem_autocast.py``,
docs/ecosystem.md); fp16 keeps more mantissa bits than bf16, so it must do at least as well.
"""

from __future__ import annotations

import pytest
import torch
from cuda_only import COMPILED_CUDA_ONLY
from torch import nn

from synnet_triton import LIF, LIFState, lif

pytestmark = COMPILED_CUDA_ONLY


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_autocast_linear_lif_on_triton_matches_fp32(dtype):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(16, 256),
        LIF(256, tau_mem=0.01, tau_syn=0.005, threshold=0.5, backend="triton"),
    ).cuda()
    g = torch.Generator(device="cuda").manual_seed(1)
    x = torch.rand(8, 500, 16, generator=g, device="cuda") * 2
    results = {}
    for enabled in (False, True):
        model.zero_grad()
        xi = x.clone().requires_grad_()
        with torch.autocast("cuda", dtype=dtype, enabled=enabled):
            out, state = model[1](model[0](xi), return_state=True, record=True)
        (out.spikes.float().mean() + out.vmem.float().square().mean()).backward()
        grads = [xi.grad] + [p.grad.clone() for p in model.parameters()]
        results[enabled] = (out, state, grads)
    (out32, _, grads32), (out_low, state_low, grads_low) = results[False], results[True]

    assert out_low.spikes.dtype == dtype, "autocast did not reach the layer"
    assert all(t.dtype == torch.float32 for t in state_low), "state must stay float32"
    spikes32, spikes_low = out32.spikes.detach(), out_low.spikes.detach().float()
    assert spikes32.mean() > 0.5
    assert (spikes_low == spikes32).float().mean() >= 0.80
    assert abs(float(spikes_low.sum() - spikes32.sum())) <= 5e-3 * float(spikes32.sum())
    for low, full in zip(grads_low, grads32, strict=True):
        assert torch.isfinite(low).all() and full.abs().sum() > 0
        assert _rel(low, full) <= 0.02


def test_triton_backend_on_cuda_is_bitwise_deterministic():
    def run() -> list[torch.Tensor]:
        g = torch.Generator(device="cuda").manual_seed(2)
        batch, steps, n, s = 4, 300, 300, 2
        x = (torch.randn(batch, steps, n * s, generator=g, device="cuda") * 1.5)
        x.requires_grad_()
        tau = torch.full((n,), 0.01, device="cuda", requires_grad=True)
        threshold = torch.full((n,), 0.8, device="cuda", requires_grad=True)
        state = LIFState(torch.randn(batch, n, generator=g, device="cuda"),
                         torch.randn(batch, n, s, generator=g, device="cuda"),
                         torch.zeros(batch, n, device="cuda"))
        out, final = lif(x, tau, 0.005, threshold, n_synapses=s, initial_state=state,
                         record=True, output_final_state=True, backend="triton")
        w = torch.randn(out.spikes.shape, generator=g, device="cuda")
        loss = (out.spikes * w).sum() + out.vmem.square().mean() + final.vmem.sum()
        grads = torch.autograd.grad(loss, [x, tau, threshold])
        return [out.spikes, out.vmem, out.isyn, *final, *grads]

    first, second = run(), run()
    assert first[0].sum() > 0
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        assert torch.equal(a, b), f"entry {index} differs"
