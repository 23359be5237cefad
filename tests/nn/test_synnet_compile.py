"""SynNet under ``torch.compile(fullgraph=True)``: one graph, no breaks, same results as eager."""

from __future__ import annotations

import torch

from synnet_triton.nn.synnet import SynNet


def test_compiled_synnet_traces_without_graph_breaks_and_matches_eager():
    torch.manual_seed(0)
    net = SynNet(n_classes=2, n_channels=3, size_hidden_layers=[7, 5],
                 time_constants_per_layer=[3, 2], train_threshold=True, p_dropout=0.2,
                 output="vmem").eval()
    x = torch.randint(0, 4, (2, 30, 3), generator=torch.Generator().manual_seed(1)).float()
    # fullgraph=True makes any graph break an error; aot_eager also traces the backward.
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)

    compiled_output = compiled(x)
    compiled_output.square().sum().backward()
    compiled_grads = {key: p.grad.clone() for key, p in net.named_parameters()}
    net.zero_grad()
    eager_output = net(x)
    eager_output.square().sum().backward()

    assert eager_output.abs().max() > 0.1
    assert torch.equal(compiled_output, eager_output)
    for key, parameter in net.named_parameters():
        torch.testing.assert_close(compiled_grads[key], parameter.grad, rtol=1e-6, atol=0)
