"""Mixed precision: ``torch.autocast("cpu", dtype=torch.bfloat16)`` around Linear + LIF and a
SynNet. Forward and backward run, the carried state stays float32, and the results match float32
within the tolerances documented in docs/ecosystem.md ("Mixed precision").

bf16 rounds each layer's input currents (8 mantissa bits), so some threshold crossings move:
spikes are compared by agreement fraction and total count, gradients by relative error
||g_bf16 − g_fp32|| / ||g_fp32||. Measured on these exact configurations (fixed seeds, so the
numbers are reproducible, not random) and asserted with a margin:

- Linear(16→64) + LIF, 4×300 steps, seeds 0–5: spike agreement 0.876–0.929 (multi-spike counts,
  ~1.8 spikes per neuron-step), total count within 4.1e-4, gradient relative error ≤ 3.2e-3.
- SynNet 8→32→32→3, 4×200 steps, seeds 0–3: agreement ≥ 0.984 (first hidden layer), ≥ 0.934
  (second), ≥ 0.99 (readout); readout count within 5.9e-3; gradient relative error ≤ 0.14
  (a flipped spike early in a deep spiking network changes everything downstream).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from synnet_triton import LIF
from synnet_triton.nn.synnet import SynNet


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


def _linear_lif(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(16, 64),
                         LIF(64, tau_mem=0.01, tau_syn=0.005, threshold=0.5, backend="torch"))


@pytest.mark.parametrize("seed", [0, 4])
def test_linear_lif_under_bf16_autocast_matches_fp32(seed):
    model = _linear_lif(seed)
    x = torch.rand(4, 300, 16, generator=torch.Generator().manual_seed(seed + 10)) * 2
    results = {}
    for enabled in (False, True):
        model.zero_grad()
        xi = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            out, state = model[1](model[0](xi), return_state=True, record=True)
        (out.spikes.float().mean() + out.vmem.float().square().mean()).backward()
        grads = [xi.grad] + [p.grad.clone() for p in model.parameters()]
        results[enabled] = (out, state, grads)
    (out32, _, grads32), (out16, state16, grads16) = results[False], results[True]

    assert out16.spikes.dtype == torch.bfloat16, "autocast did not reach the layer"
    assert out32.spikes.dtype == torch.float32
    for t in state16:
        assert t.dtype == torch.float32, "state must stay float32"
    assert grads16[0].dtype == torch.float32  # x was float32; autocast casts only inside
    spikes32, spikes16 = out32.spikes.detach(), out16.spikes.detach().float()
    assert spikes32.mean() > 0.5
    assert (spikes16 == spikes32).float().mean() >= 0.80
    assert abs(float(spikes16.sum() - spikes32.sum())) <= 5e-3 * float(spikes32.sum())
    for g16, g32 in zip(grads16, grads32, strict=True):
        assert g32.abs().sum() > 0
        assert _rel(g16, g32) <= 0.02


def test_streaming_under_autocast_equals_one_call():
    # the carried state is float32, so chunking loses nothing even in bf16
    model = _linear_lif(1)
    x = torch.rand(2, 300, 16, generator=torch.Generator().manual_seed(2)) * 2
    with torch.autocast("cpu", dtype=torch.bfloat16):
        whole = model[1](model[0](x))
        state, parts = None, []
        for chunk in x.split(100, 1):
            out, state = model[1](model[0](chunk), state, return_state=True)
            parts.append(out.spikes)
    assert whole.dtype == torch.bfloat16 and whole.sum() > 0
    assert torch.equal(torch.cat(parts, 1), whole)


def test_bf16_input_gets_bf16_gradient_and_float32_state():
    layer = LIF(8, backend="torch")
    x = (torch.rand(2, 50, 8, generator=torch.Generator().manual_seed(3)) * 3).bfloat16()
    x.requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, state = layer(x, return_state=True, record=True)
    assert out.spikes.dtype == torch.bfloat16 and out.spikes.sum() > 0
    assert all(t.dtype == torch.float32 for t in state)
    (out.spikes.float().sum() + out.vmem.float().sum()).backward()
    assert x.grad.dtype == torch.bfloat16 and x.grad.abs().sum() > 0
    assert layer.tau_mem.grad.dtype == torch.float32


@pytest.mark.parametrize("seed", [0, 3])
def test_synnet_under_bf16_autocast_matches_fp32(seed):
    torch.manual_seed(seed)
    net = SynNet(n_classes=3, n_channels=8, size_hidden_layers=[32, 32],
                 time_constants_per_layer=[2, 2], threshold=0.5, train_threshold=True,
                 backend="torch")
    x = torch.randint(0, 6, (4, 200, 8), generator=torch.Generator().manual_seed(seed + 10))
    x = x.float()
    results = {}
    for enabled in (False, True):
        net.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            r = net(x, return_state=True, record=True)
        loss = r.output.float().sum() + sum(
            rec.vmem.float().square().mean() for rec in r.record.values())
        loss.backward()
        results[enabled] = (r, [p.grad.clone() for p in net.parameters()])
    (r32, g32), (r16, g16) = results[False], results[True]

    assert r16.output.dtype == torch.bfloat16
    assert all(t.dtype == torch.float32 for layer_state in r16.state for t in layer_state)
    minimum_agreement = {"0_neurons": 0.95, "1_neurons": 0.85, "out_neurons": 0.95}
    for name, floor in minimum_agreement.items():
        a, b = r32.record[name].spikes, r16.record[name].spikes.float()
        assert a.sum() > 0, name
        assert (a == b).float().mean() >= floor, name
    readout32, readout16 = r32.output.detach(), r16.output.detach().float()
    assert abs(float(readout16.sum() - readout32.sum())) <= 0.03 * float(readout32.sum())
    for a, b in zip(g16, g32, strict=True):
        assert b.abs().sum() > 0
        assert _rel(a, b) <= 0.35
