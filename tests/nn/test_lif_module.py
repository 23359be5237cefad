"""The ``LIF`` module: drop-in in ``nn.Sequential``, streaming state, parameters."""

from __future__ import annotations

import torch
from torch import nn

from synnet_triton import LIF, lif
from synnet_triton.ops.lif.naive import naive_lif


def _sequential() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), LIF(3, 2, tau_syn=torch.full((3, 2), 0.01),
                                              backend="torch"))


def test_in_sequential_returns_spikes_and_gradients_reach_every_parameter():
    net = _sequential()
    x = torch.rand(2, 40, 4, generator=torch.Generator().manual_seed(1)) * 3
    spikes = net(x)
    assert spikes.shape == (2, 40, 3)
    spikes.sum().backward()
    lif_layer = net[1]
    for name in ("tau_mem", "tau_syn", "threshold", "bias"):
        assert getattr(lif_layer, name).grad is not None, name
    assert net[0].weight.grad.abs().sum() > 0


def test_in_sequential_trains_towards_a_target_spike_count():
    """Adam on (count - target)² through the surrogate, on the weights and the bias (a step
    of 0.05 would take the 10-20 ms time constants negative): the loss must fall to a fifth."""
    net = _sequential()
    x = torch.rand(2, 40, 4, generator=torch.Generator().manual_seed(1)) * 3
    target = torch.tensor([2.0, 6.0, 10.0])
    optimiser = torch.optim.Adam([*net[0].parameters(), net[1].bias], lr=0.05)
    losses = []
    for _ in range(40):
        loss = ((net(x).sum(dim=1) - target) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[0] > 1.0
    assert min(losses[-5:]) < losses[0] / 5


def test_module_equals_the_literal_loop():
    layer = LIF(5, tau_mem=torch.linspace(0.005, 0.05, 5), threshold=0.8, backend="torch")
    x = torch.rand(3, 50, 5) * 2
    ref, _ = naive_lif(x, torch.exp(-1e-3 / layer.tau_mem).expand(5),
                       torch.exp(-1e-3 / layer.tau_syn).expand(5, 1),
                       layer.threshold.expand(5), layer.bias.expand(5))
    assert torch.equal(layer(x), ref.spikes)


def test_fixed_parameters_are_buffers():
    layer = LIF(3, train_tau_mem=False, train_threshold=False)
    assert set(dict(layer.named_parameters())) == {"tau_syn", "bias"}
    assert {"tau_mem", "threshold"} <= set(dict(layer.named_buffers()))


def test_streaming_with_explicit_state_equals_one_call():
    layer = LIF(4, 2, has_rec=True, backend="torch")
    x = torch.rand(2, 90, 8) * 2
    whole = layer(x)
    state = layer.initial_state(2)
    pieces = []
    for chunk in x.split(30, dim=1):
        out, state = layer(chunk, state, return_state=True)
        pieces.append(out.spikes)
    assert torch.equal(torch.cat(pieces, 1), whole)


def test_unbatched_input_gives_unbatched_output():
    layer = LIF(3, backend="torch")
    x = torch.rand(25, 3) * 2
    assert torch.equal(layer(x), layer(x.unsqueeze(0))[0])
    out, _ = lif(x, record=True, backend="torch")
    assert out.vmem.shape == (25, 3) and out.isyn.shape == (25, 3, 1)


def test_low_precision_inputs_are_accepted_and_outputs_keep_their_dtype():
    layer = LIF(3, backend="torch")
    x = torch.rand(2, 30, 3) * 2
    for dtype in (torch.float16, torch.bfloat16):
        xl = x.to(dtype).requires_grad_()
        out = layer(xl)
        assert out.dtype == dtype
        assert torch.equal(out.float(), layer(xl.float()))
        out.float().sum().backward()
        assert xl.grad.dtype == dtype


def test_inference_keeps_nothing_for_a_backward(monkeypatch):
    from synnet_triton.ops.lif import torch_backend as lif_torch

    layer = LIF(4, backend="torch")
    seen = []
    forward = lif_torch.forward

    def spy(*args, **kwargs):
        result = forward(*args, **kwargs)
        seen.append((kwargs["save"], result.saved))
        return result

    monkeypatch.setattr(lif_torch, "forward", spy)
    x = torch.rand(2, 300, 4) * 2
    with torch.no_grad():
        inference = layer(x)
    training = layer(x)
    assert seen[0][0] is False and seen[0][1] == ()
    # u, time-major (T, B, N) in the torch backend
    assert seen[1][0] is True and seen[1][1][0].shape == (300, 2, 4)
    assert torch.equal(inference, training)
