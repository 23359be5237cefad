"""Determinism: two identical runs, built from the same seeds, give bitwise identical outputs,
records, final states and gradients — torch backend, SynNet in training mode (dropout and
membrane noise from the seed), and the Xylo sim.

The Triton backend is not repeated here: under the interpreter programs run one at a time in
order, so a repeated run could not fail. Its determinism on the GPU follows from its compiled
code holding no atomic instruction (``tests/kernels/test_kernels_compile.py``) and is checked
by repeated runs on CUDA (``test_ecosystem_cuda.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synnet_triton import LIFState, lif
from synnet_triton.nn.synnet import SynNet
from synnet_triton.xylo import XyloSim


def _lif_run(backend: str, checkpoint_every: int | None) -> list[torch.Tensor]:
    """Everything a training step sees from one ``lif`` call, built from fixed seeds."""
    g = torch.Generator().manual_seed(5)
    batch, steps, n, s = 2, 24, 7, 2
    x = (torch.randn(batch, steps, n * s, generator=g) * 1.5).requires_grad_()
    tau_mem = (0.005 + 0.03 * torch.rand(n, generator=g)).requires_grad_()
    tau_syn = (0.003 + 0.02 * torch.rand(n, s, generator=g)).requires_grad_()
    threshold = (0.5 + torch.rand(n, generator=g)).requires_grad_()
    bias = (0.1 * torch.randn(n, generator=g)).requires_grad_()
    v0 = torch.randn(batch, n, generator=g).requires_grad_()
    i0 = torch.randn(batch, n, s, generator=g).requires_grad_()
    out, final = lif(
        x, tau_mem, tau_syn, threshold, bias, n_synapses=s, noise_std=0.5,
        generator=torch.Generator().manual_seed(6), max_spikes_per_dt=31,
        initial_state=LIFState(v0, i0, torch.zeros(batch, n)), output_final_state=True,
        record=True, checkpoint_every=checkpoint_every, backend=backend,
    )
    w = torch.randn(out.spikes.shape, generator=g)
    loss = (out.spikes * w).sum() + out.vmem.square().mean() + out.isyn.sum() + final.vmem.sum()
    params = [x, tau_mem, tau_syn, threshold, bias, v0, i0]
    grads = torch.autograd.grad(loss, params)
    return [out.spikes, out.vmem, out.isyn, *final, *grads]


def _assert_bitwise(first: list[torch.Tensor], second: list[torch.Tensor]) -> None:
    assert len(first) == len(second)
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        assert a.dtype == b.dtype and torch.equal(a, b), f"entry {index} differs"


@pytest.mark.parametrize("checkpoint_every", [None, 5])
def test_torch_backend_is_bitwise_deterministic(checkpoint_every):
    first = _lif_run("torch", checkpoint_every)
    assert first[0].sum() > 0 and all(g.abs().sum() > 0 for g in first[6:])
    _assert_bitwise(first, _lif_run("torch", checkpoint_every))


def _synnet_training_step(backend: str) -> list[torch.Tensor]:
    torch.manual_seed(0)
    net = SynNet(n_classes=2, n_channels=3, size_hidden_layers=[6, 5],
                 time_constants_per_layer=[2, 2], threshold=0.5, train_threshold=True,
                 train_time_constants=True, p_dropout=0.3, backend=backend,
                 neuron_kwargs={"noise_std": 0.3}).train()
    x = torch.randint(0, 8, (2, 30, 3), generator=torch.Generator().manual_seed(1)).float()
    torch.manual_seed(2)  # dropout masks and membrane noise come from the global generator
    result = net(x, record=True)
    loss = result.output.sum() + sum(r.vmem.square().mean() for r in result.record.values())
    grads = torch.autograd.grad(loss, list(net.parameters()))
    return [result.output, *(r.spikes for r in result.record.values()), *grads]


def test_synnet_training_step_is_bitwise_deterministic():
    first = _synnet_training_step("torch")
    assert first[0].sum() > 0
    _assert_bitwise(first, _synnet_training_step("torch"))


def test_xylo_sim_is_bitwise_deterministic():
    def run() -> list[torch.Tensor]:
        rng = np.random.default_rng(3)
        n_in, n_hidden, n_out = 6, 12, 2
        sim = XyloSim.from_specification(
            weights_in=rng.integers(-60, 60, (n_in, n_hidden, 2)),
            weights_rec=rng.integers(-40, 40, (n_hidden, n_hidden, 2))
            * (rng.random((n_hidden, n_hidden, 2)) < 0.3),
            weights_out=rng.integers(-60, 60, (n_hidden, n_out)),
            dash_mem=rng.integers(1, 6, n_hidden), dash_syn=rng.integers(1, 6, n_hidden),
            dash_syn_2=rng.integers(1, 6, n_hidden), dash_mem_out=np.full(n_out, 2),
            dash_syn_out=np.full(n_out, 2), threshold=np.full(n_hidden, 300),
            threshold_out=np.full(n_out, 200), weight_shift_in=2,
        )
        events = torch.from_numpy(rng.integers(0, 5, (3, 80, n_in)))
        first_out, _, first_record = sim(events, record=True)
        # the second call continues from the carried state
        second_out, state, second_record = sim(events, record=True)
        return [first_out, second_out, *first_record.values(), *second_record.values(),
                *state.values()]

    first = run()
    assert int(first[2 + 3].sum()) > 0, "hidden neurons must spike"
    _assert_bitwise(first, run())
