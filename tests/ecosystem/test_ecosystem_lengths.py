"""Variable-length batches through a whole SynNet: ``SynNet.forward(x, lengths=...)`` equals
running each sample alone for its own length (outputs, final state of every layer, gradients),
and outputs past a sample's length are zero. ``lif``/``LIF`` lengths are in
``test_lif_lengths.py``.
"""

from __future__ import annotations

import torch

from synnet_triton.nn.synnet import SynNet


def test_synnet_padded_batch_equals_each_sample_alone():
    torch.manual_seed(0)
    net = SynNet(n_classes=2, n_channels=3, size_hidden_layers=[6, 4],
                 time_constants_per_layer=[2, 2], threshold=0.5, train_threshold=True,
                 backend="torch")
    lengths = [30, 12, 0, 21]
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 8, (len(lengths), 30, 3), generator=g).float()
    weights = torch.randn(len(lengths), 30, 2, generator=g)
    padded = x.clone()
    for b, length in enumerate(lengths):
        padded[b, length:] = 100.0  # padding must not matter
    params = list(net.parameters())

    result = net(padded, lengths=torch.tensor(lengths), return_state=True)
    assert result.output.sum() > 0, "the test needs readout spikes"
    grads = torch.autograd.grad((result.output * weights).sum(), params, allow_unused=True,
                                materialize_grads=True)

    summed = [torch.zeros_like(p) for p in params]
    for b, length in enumerate(lengths):
        assert not result.output[b, length:].any()
        alone = net(x[b:b + 1, :length], return_state=True)
        assert torch.equal(result.output[b:b + 1, :length], alone.output)
        for layer_state, alone_state in zip(result.state, alone.state, strict=True):
            for mine, ref in zip(layer_state, alone_state, strict=True):
                assert torch.equal(mine[b], ref[0])
        if length:
            alone_grads = torch.autograd.grad(
                (alone.output * weights[b:b + 1, :length]).sum(), params, allow_unused=True,
                materialize_grads=True)
            for total, g_alone in zip(summed, alone_grads, strict=True):
                total += g_alone
    for total, g_batch in zip(summed, grads, strict=True):
        torch.testing.assert_close(g_batch, total, rtol=1e-5, atol=1e-6)
