"""The reverse scan op: y_{L−1} = last, y_t = c_t·y_{t+1} + d_t. Both backends (the torch loop,
the Triton kernel under the interpreter) are bitwise its definition written out
(``naive_reverse_scan``) and a value worked by hand; bad arguments are named before any work."""

from __future__ import annotations

import pytest
import torch
from bits import bitwise_equal
from hypothesis import given, settings
from hypothesis import strategies as st

from synnet_triton.ops.scan import naive_reverse_scan, reverse_scan

BACKENDS = ("torch", "triton")


def test_a_hand_worked_scan() -> None:
    # y2 = 1; y1 = 2·1 + 3 = 5; y0 = 0.5·5 − 1 = 1.5
    coef = torch.tensor([[0.5], [2.0], [9.0]])
    drive = torch.tensor([[-1.0], [3.0], [7.0]])
    for backend in BACKENDS:
        y = reverse_scan(coef, drive, torch.tensor([1.0]), backend=backend)
        assert y.flatten().tolist() == [1.5, 5.0, 1.0]


@settings(max_examples=25, deadline=None)
@given(steps=st.integers(1, 9), shape=st.sampled_from([(1,), (3,), (2, 5), (2, 3, 2)]),
       constant=st.booleans(), seed=st.integers(0, 2**16), zeros=st.booleans())
def test_both_backends_are_bitwise_the_definition(steps, shape, constant, seed, zeros) -> None:
    generator = torch.Generator().manual_seed(seed)
    coef = torch.rand(shape if constant else (steps, *shape), generator=generator)
    drive = torch.randn(steps, *shape, generator=generator) * 1e3
    last = torch.randn(shape, generator=generator)
    if zeros:  # gates at 0 and signed zeros
        drive[torch.rand(drive.shape, generator=generator) < 0.3] = -0.0
        coef[torch.rand(coef.shape, generator=generator) < 0.3] = 0.0
    expected = naive_reverse_scan(coef, drive, last)
    for backend in BACKENDS:
        out = torch.full_like(drive, float("nan"))
        assert reverse_scan(coef, drive, last, out=out, backend=backend) is out
        assert bitwise_equal(out, expected), backend


@pytest.mark.parametrize("change, error, words", [
    ({"coef": torch.zeros(3, 4, dtype=torch.float64)}, ValueError, "coef must be float32"),
    ({"drive": [0.0]}, TypeError, "drive must be a torch.Tensor, got list"),
    ({"coef": torch.zeros(2, 4)}, ValueError, "coef has 2 steps but out has 3"),
    ({"coef": torch.zeros(5)}, ValueError, r"coef of shape \(5,\) does not broadcast to \(4,\)"),
    ({"last": torch.zeros(2, 4)}, ValueError, "last of shape"),
    ({"out": torch.zeros(3, 4, dtype=torch.float16)}, ValueError, "out must be float32"),
    ({"out": torch.zeros(0, 4), "drive": torch.zeros(0, 4)}, ValueError, "at least one step"),
    ({"backend": "cuda"}, ValueError, "backend must be one of"),
])
def test_bad_arguments_are_named(change, error, words) -> None:
    arguments = {"coef": torch.zeros(3, 4), "drive": torch.zeros(3, 4), "last": torch.zeros(4),
                 "out": torch.zeros(3, 4), "backend": "torch"}
    arguments.update(change)
    coef, drive, last = arguments.pop("coef"), arguments.pop("drive"), arguments.pop("last")
    with pytest.raises(error, match=words):
        reverse_scan(coef, drive, last, **arguments)
