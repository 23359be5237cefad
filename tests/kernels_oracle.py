"""Oracles and random cases for the Triton kernel tests (``test_kernels_*.py``).

``literal_lif`` is Rockpool 3.1 ``LIFTorch.evolve``'s step loop written out in float32, with
Rockpool's own surrogate autograd Functions, so autograd through it is an oracle for the
backward that shares no code with either backend of this package.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from rockpool.nn.modules.torch.lif_torch import PeriodicExponential, StepPWL
from torch import Tensor

from synnet_triton.ops.lif.backend import LIFInputs, NeedsGrad
from synnet_triton.ops.lif.types import Surrogate

ROCKPOOL_SURROGATE = {
    Surrogate.PERIODIC_EXPONENTIAL: PeriodicExponential,
    Surrogate.STEP_PWL: StepPWL,
}


def literal_lif(
    x: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor,
    bias: Tensor,
    noise: Tensor | None,
    v0: Tensor,
    i0: Tensor,
    *,
    max_spikes: float,
    surrogate: Surrogate,
    window: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Spikes, vmem (B, T, N), isyn (B, T, N, S) and final v (B, N), i (B, N, S), s (B, N).

    x (B, T, N*S) is converted to float32 first; everything else is float32.
    """
    batch, steps, _ = x.shape
    n_neurons, n_synapses = beta.shape
    xs = x.float().reshape(batch, steps, n_neurons, n_synapses)
    spike_fn = ROCKPOOL_SURROGATE[surrogate].apply
    limit = torch.tensor(max_spikes)
    v, i = v0, i0
    s = torch.zeros_like(v0)
    spikes, vmem, isyn = [], [], []
    for t in range(steps):
        i = i + xs[:, t]
        v = v * alpha
        i = i * beta
        u = v + i.sum(2)
        if noise is not None:
            u = u + noise[:, t]
        u = u + bias
        s = spike_fn(u, threshold, window, limit)
        v = u - s * threshold
        spikes.append(s)
        vmem.append(v)
        isyn.append(i)
    if steps == 0:
        empty = xs.new_zeros((batch, 0, n_neurons))
        return empty, empty, xs.new_zeros(xs.shape), v, i, s
    return torch.stack(spikes, 1), torch.stack(vmem, 1), torch.stack(isyn, 1), v, i, s


@dataclass(frozen=True)
class Case:
    """One random layer and input; tensors are float32 unless ``x`` is cast later."""

    x: Tensor  # (B, T, N*S)
    alpha: Tensor  # (N,)
    beta: Tensor  # (N, S)
    threshold: Tensor  # (N,)
    bias: Tensor  # (N,)
    noise: Tensor | None  # (B, T, N)
    v0: Tensor  # (B, N)
    i0: Tensor  # (B, N, S)
    s0: Tensor  # (B, N)
    max_spikes: float

    @property
    def inputs(self) -> LIFInputs:
        """The tensors a backend's forward and backward take (w_rec None)."""
        return LIFInputs(self.x, self.alpha, self.beta, self.threshold, self.bias, self.noise,
                         None, self.v0, self.i0, self.s0)

    def with_x(self, x: Tensor) -> Case:
        return replace(self, x=x)


def make_case(
    seed: int,
    batch: int,
    steps: int,
    n_neurons: int,
    n_synapses: int,
    *,
    max_spikes: float,
    noise: bool,
    initial_state: bool,
) -> Case:
    """Random parameters in SynNet's ranges and inputs large enough for multi-spike steps."""
    g = torch.Generator().manual_seed(seed)

    def uniform(low: float, high: float, *shape: int) -> Tensor:
        return low + (high - low) * torch.rand(shape, generator=g)

    def randn(*shape: int) -> Tensor:
        return torch.randn(shape, generator=g)

    zeros = torch.zeros
    return Case(
        x=randn(batch, steps, n_neurons * n_synapses) * uniform(0.3, 2.5, 1).item(),
        alpha=uniform(0.5, 0.99, n_neurons),
        beta=uniform(0.3, 0.95, n_neurons, n_synapses),
        threshold=uniform(0.4, 1.6, n_neurons),
        bias=randn(n_neurons) * 0.1,
        noise=randn(batch, steps, n_neurons) * 0.2 if noise else None,
        v0=randn(batch, n_neurons) if initial_state else zeros(batch, n_neurons),
        i0=randn(batch, n_neurons, n_synapses)
        if initial_state
        else zeros(batch, n_neurons, n_synapses),
        s0=zeros(batch, n_neurons),
        max_spikes=max_spikes,
    )


def case_of(shape: dict) -> Case:
    """:func:`make_case` from a drawn dictionary of its arguments (the hypothesis strategies'
    ``seed``, ``batch``, ``steps``, ``n_neurons``, ``n_synapses``, ``max_spikes``, ``noise``,
    ``initial_state``)."""
    return make_case(
        shape["seed"], shape["batch"], shape["steps"], shape["n_neurons"], shape["n_synapses"],
        max_spikes=shape["max_spikes"], noise=shape["noise"], initial_state=shape["initial_state"],
    )  # fmt: skip


def all_gradients(train_state: bool = True) -> NeedsGrad:
    return NeedsGrad(True, True, True, True, True, train_state, train_state, False, False)


def assert_gradient_close(name: str, got: Tensor, expected: Tensor,
                          tolerance: float = 1e-5) -> None:
    """Within ``tolerance`` relative to the gradient's scale (float32 sums in another order)."""
    scale = max(expected.abs().max().item(), 1e-30) if expected.numel() else 1.0
    torch.testing.assert_close(
        got, expected, rtol=tolerance, atol=tolerance * scale,
        msg=lambda m: f"gradient of {name}: {m}",
    )


def torch_saved_in_kernel_layout(saved: tuple[Tensor, ...], checkpoint_every: int
                                 ) -> tuple[Tensor, ...]:
    """The torch backend's saved tensors in the kernels' layout: it keeps u time-major
    (T, B, N), the kernels (B, T, N); checkpointed states have one layout in both."""
    if checkpoint_every == 0 and saved:
        return (saved[0].transpose(0, 1),)
    return saved


def incoming_gradients(case, record: bool, seed: int):
    """Random gradients on spikes, records (when recorded) and the final state."""
    g = torch.Generator().manual_seed(seed)
    batch, steps, _ = case.x.shape
    n_neurons, n_synapses = case.beta.shape

    def randn(*shape):
        return torch.randn(shape, generator=g)

    return (
        randn(batch, steps, n_neurons),
        randn(batch, steps, n_neurons) if record else None,
        randn(batch, steps, n_neurons, n_synapses) if record else None,
        randn(batch, n_neurons),
        randn(batch, n_neurons, n_synapses),
        randn(batch, n_neurons),
    )


def literal_gradients(case, grads, surrogate, window, needs: NeedsGrad):
    """Autograd through the literal loop: {name: gradient} for every input ``needs`` asks."""
    leaves = {
        "x": case.x, "alpha": case.alpha, "beta": case.beta, "threshold": case.threshold,
        "bias": case.bias, "v0": case.v0, "i0": case.i0,
    }  # fmt: skip
    leaves = {k: v.detach().clone().requires_grad_(getattr(needs, k)) for k, v in leaves.items()}
    outputs = literal_lif(
        leaves["x"], leaves["alpha"], leaves["beta"], leaves["threshold"], leaves["bias"],
        case.noise, leaves["v0"], leaves["i0"],
        max_spikes=case.max_spikes, surrogate=surrogate, window=window,
    )  # fmt: skip
    loss = sum((out * g).sum() for out, g in zip(outputs, grads, strict=True) if g is not None)
    wanted = [k for k, v in leaves.items() if v.requires_grad]
    values = torch.autograd.grad(loss, [leaves[k] for k in wanted])
    return dict(zip(wanted, values, strict=True))
