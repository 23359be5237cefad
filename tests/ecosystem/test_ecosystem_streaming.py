"""Streaming inference on long audio: a 100 000-step stream (100 s at dt = 1 ms) processed in
chunks of uneven sizes, carrying the state from chunk to chunk, equals processing it whole —
``LIF`` (spikes, final state and gradients), ``SynNet`` and the Xylo-parity sim.

Sizes are small (one stream, 8 neurons) so that the torch backend's per-step loop stays at a few
seconds per pass. The Xylo sim costs about 0.3–0.6 ms per step on a CPU, so its CI test streams
10 000 steps; set ``SYNNET_TRITON_LONG_TESTS=1`` to also run it on 100 000 steps.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from synnet_triton import LIF
from synnet_triton.nn.synnet import SynNet
from synnet_triton.xylo import XyloSim

STEPS = 100_000
CHUNKS = [1, 4_999, 30_000, 17, 24_983, 40_000]  # uneven, one of a single step


def _chunks(steps: int) -> list[int]:
    sizes = [size * steps // STEPS for size in CHUNKS]
    sizes = [max(size, 1) for size in sizes]
    sizes[-1] = steps - sum(sizes[:-1])
    return sizes


def _bursty_events(steps: int, channels: int, seed: int) -> torch.Tensor:
    """Event counts that come in bursts (words) separated by silences, like keyword audio."""
    g = torch.Generator().manual_seed(seed)
    active = (torch.rand(steps // 500 + 1, generator=g) < 0.5).repeat_interleave(500)[:steps]
    counts = torch.randint(0, 4, (1, steps, channels), generator=g)
    return counts * active.view(1, steps, 1)


def test_lif_stream_in_chunks_equals_one_call_spikes_state_and_gradients():
    assert sum(_chunks(STEPS)) == STEPS
    layer = LIF(8, tau_mem=torch.linspace(0.005, 0.05, 8), tau_syn=0.01, threshold=1.0,
                backend="torch")
    x = _bursty_events(STEPS, 8, 0).float() * 0.02
    weights = torch.randn(1, STEPS, 8, generator=torch.Generator().manual_seed(1))

    xw = x.clone().requires_grad_()
    out, final = layer(xw, return_state=True)
    whole_loss = (out.spikes * weights).sum() + final.vmem.sum()
    whole_grads = torch.autograd.grad(whole_loss, [xw, layer.tau_mem, layer.threshold])
    spikes = out.spikes.detach()
    assert 1_000 < spikes.sum() < STEPS * 8, "the test needs a moderate spike rate"

    xc = x.clone().requires_grad_()
    state, pieces, start = layer.initial_state(1), [], 0
    for size in _chunks(STEPS):
        piece, state = layer(xc[:, start:start + size], state, return_state=True)
        assert torch.equal(piece.spikes.detach(), spikes[:, start:start + size])
        pieces.append((piece.spikes * weights[:, start:start + size]).sum())
        start += size
    for mine, ref in zip(state, final, strict=True):
        assert torch.equal(mine, ref)
    # BPTT through the carried state: the chunked graph gives the gradients of one call
    chunked_loss = torch.stack(pieces).sum() + state.vmem.sum()
    chunked_grads = torch.autograd.grad(chunked_loss, [xc, layer.tau_mem, layer.threshold])
    torch.testing.assert_close(chunked_grads[0], whole_grads[0], rtol=1e-5, atol=1e-6)
    for mine, ref in zip(chunked_grads[1:], whole_grads[1:], strict=True):
        # parameter gradients are sums over 100 000 steps, added in another order
        torch.testing.assert_close(mine, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


def test_synnet_stream_in_chunks_equals_one_call():
    torch.manual_seed(0)
    net = SynNet(n_classes=2, n_channels=4, size_hidden_layers=[8],
                 time_constants_per_layer=[2], threshold=0.5, backend="torch")
    x = _bursty_events(STEPS, 4, 2).float()
    with torch.no_grad():
        whole = net(x, return_state=True)
        assert whole.output.sum() > 100 and (1 - whole.output).abs().sum() > 100
        state, pieces = None, []
        for chunk in x.split(_chunks(STEPS), 1):
            result = net(chunk, state, return_state=True)
            state = result.state
            pieces.append(result.output)
    assert torch.equal(torch.cat(pieces, 1), whole.output)
    for mine, ref in zip(state, whole.state, strict=True):
        for a, b in zip(mine, ref, strict=True):
            assert torch.equal(a, b)


def _xylo_sim() -> XyloSim:
    rng = np.random.default_rng(4)
    n_in, n_hidden, n_out = 4, 8, 2
    return XyloSim.from_specification(
        weights_in=rng.integers(-60, 60, (n_in, n_hidden, 2)),
        weights_rec=rng.integers(-40, 40, (n_hidden, n_hidden, 2))
        * (rng.random((n_hidden, n_hidden, 2)) < 0.3),
        weights_out=rng.integers(-60, 60, (n_hidden, n_out)),
        dash_mem=np.full(n_hidden, 2), dash_syn=np.full(n_hidden, 2),
        dash_syn_2=np.full(n_hidden, 4), dash_mem_out=np.full(n_out, 2),
        dash_syn_out=np.full(n_out, 2), threshold=np.full(n_hidden, 200),
        threshold_out=np.full(n_out, 100), weight_shift_in=2,
    )


@pytest.mark.parametrize("steps", [
    10_000,
    pytest.param(STEPS, marks=pytest.mark.skipif(
        os.environ.get("SYNNET_TRITON_LONG_TESTS") != "1",
        reason="about a minute per pass on a CPU; set SYNNET_TRITON_LONG_TESTS=1")),
])
def test_xylo_sim_stream_in_chunks_equals_one_call(steps):
    events = _bursty_events(steps, 4, 3)
    sim = _xylo_sim()
    whole, whole_state, whole_record = sim(events, record=True)
    assert int(whole_record["Spikes"].sum()) > 100 and int(whole.sum()) > 10

    # a fresh simulator fed chunk by chunk carries its own state between calls
    sim = _xylo_sim()
    outputs, records = [], []
    for chunk in events.split(_chunks(steps), 1):
        out, state, record = sim(chunk, record=True)
        outputs.append(out)
        records.append(record)
    assert torch.equal(torch.cat(outputs, 1), whole)
    for key, value in whole_record.items():
        assert torch.equal(torch.cat([r[key] for r in records], 1), value), key
    for key, value in whole_state.items():
        assert torch.equal(state[key], value), key
