"""``synnet_triton.rockpool.LIFExodus`` against Rockpool 3.1's ``LIFTorch`` as the oracle
(Rockpool's ``LIFExodus`` itself needs CUDA and sinabs-exodus): ``LIFExodus``'s positional
order and defaults reach the same layer ``LIFTorch`` builds from them as keywords; outputs
and records bitwise, gradients (inputs, time constants, threshold, bias, recurrent weights)
at the tolerance of the LIFTriton tests, with recurrence and noise (same seed)."""

from __future__ import annotations

import pytest
import torch

rockpool = pytest.importorskip("rockpool")
from bits import bitwise_equal  # noqa: E402
from rockpool.nn.modules import LIFTorch  # noqa: E402
from rockpool.nn.modules.sinabs.lif_exodus import LIFExodus as RockpoolLIFExodus  # noqa: E402
from rockpool.nn.modules.torch.lif_torch import StepPWL  # noqa: E402

from synnet_triton.rockpool import LIFExodus  # noqa: E402


def test_the_constructor_is_lif_exoduss() -> None:
    import inspect

    theirs = list(inspect.signature(RockpoolLIFExodus.__init__).parameters)[1:9]
    ours = list(inspect.signature(LIFExodus.__init__).parameters)[1:9]
    assert ours == theirs == ["shape", "tau_mem", "tau_syn", "threshold", "learning_window",
                              "bias", "has_rec", "noise_std"]
    for name in ours[1:]:
        assert inspect.signature(LIFExodus.__init__).parameters[name].default == \
            inspect.signature(RockpoolLIFExodus.__init__).parameters[name].default, name


def _pair(seed: int, **extra: object) -> tuple[LIFExodus, LIFTorch]:
    g = torch.Generator().manual_seed(seed)
    n, s = 6, 2
    positional = ((n * s, n), 0.004 + 0.05 * torch.rand(n, generator=g),
                  0.002 + 0.03 * torch.rand(n, s, generator=g),
                  0.5 + torch.rand(n, generator=g), 0.4, 0.05 * torch.randn(n, generator=g))
    names = ("shape", "tau_mem", "tau_syn", "threshold", "learning_window", "bias")
    ours = LIFExodus(*positional, backend="torch", **extra)  # type: ignore[arg-type]
    theirs = LIFTorch(**dict(zip(names, positional, strict=True)), **extra)
    return ours, theirs


@pytest.mark.parametrize("extra", [
    {},
    {"has_rec": True, "w_rec": 0.05 * torch.randn(6, 12,
                                                   generator=torch.Generator().manual_seed(1))},
    {"noise_std": 0.1},
    {"spike_generation_fn": StepPWL, "max_spikes_per_dt": 1.0, "dt": 5e-4},
], ids=["defaults", "recurrent", "noise", "step-pwl"])
def test_it_computes_what_lif_torch_computes(extra: dict) -> None:
    ours, theirs = _pair(3, **extra)
    x = torch.rand(2, 40, 12, generator=torch.Generator().manual_seed(2)) * 2.0
    mine, reference = x.clone().requires_grad_(), x.clone().requires_grad_()
    torch.manual_seed(7)
    out, _, record = ours(mine, record=True)
    torch.manual_seed(7)
    expected, _, expected_record = theirs(reference, record=True)
    assert bitwise_equal(out, expected)
    for key in ("vmem", "isyn", "spikes"):
        assert bitwise_equal(record[key], expected_record[key]), key
    weights = torch.rand(out.shape, generator=torch.Generator().manual_seed(4))
    (out * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(mine.grad, reference.grad, rtol=1e-4, atol=1e-5)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                 strict=True):
        assert p.grad is not None and q.grad is not None, name
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)
    assert "threshold" in dict(ours.named_parameters())  # trains, unlike LIFExodus's


def test_it_runs_without_cuda() -> None:
    """Rockpool's cannot be built without CUDA and sinabs-exodus; the drop-in runs
    anywhere."""
    if not torch.cuda.is_available():
        with pytest.raises((OSError, ImportError)):
            RockpoolLIFExodus((4, 2))
    out, _, _ = LIFExodus((4, 2))(torch.ones(1, 5, 4))
    assert out.shape == (1, 5, 2)
