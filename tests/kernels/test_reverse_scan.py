"""The Triton reverse scan kernel under the interpreter, bitwise the scan's definition
(``ops.scan.naive_reverse_scan``), sign of zero included; bad arguments are refused by the
launcher before any launch."""

from __future__ import annotations

import pytest
import torch
from bits import bitwise_equal
from hypothesis import given, settings
from hypothesis import strategies as st
from synnet_triton.kernels.reverse_scan import BLOCK, reverse_scan

from synnet_triton.ops.scan import naive_reverse_scan


@settings(max_examples=30, deadline=None)
@given(steps=st.integers(1, 12), batch=st.integers(1, 3),
       width=st.sampled_from([1, 5, BLOCK - 1, BLOCK, BLOCK + 3]),
       seed=st.integers(0, 2**16), zeros=st.booleans())
def test_bitwise_the_cpu_loop(steps, batch, width, seed, zeros) -> None:
    generator = torch.Generator().manual_seed(seed)
    coef = torch.rand(steps, batch, width, generator=generator)
    drive = torch.randn(steps, batch, width, generator=generator) * 1e3
    last = torch.randn(batch, width, generator=generator)
    if zeros:  # gates at 0 and signed zeros: a sweep cut by a saturated delivery
        coef[torch.rand(coef.shape, generator=generator) < 0.3] = 0.0
        drive[torch.rand(drive.shape, generator=generator) < 0.3] = -0.0
    expected = naive_reverse_scan(coef, drive, last)
    ours = torch.full_like(drive, float("nan"))
    reverse_scan(coef, drive, last, ours)
    assert bitwise_equal(ours, expected)


@pytest.mark.parametrize("change, words", [
    ({"coef": torch.zeros(3, 4, dtype=torch.float64)}, "coef must be float32"),
    ({"drive": torch.zeros(2, 4)}, "drive must have out's shape"),
    ({"last": torch.zeros(5)}, "last must have shape"),
    ({"out": torch.zeros(0, 4), "coef": torch.zeros(0, 4), "drive": torch.zeros(0, 4)},
     "at least one step"),
    ({"coef": torch.zeros(4, 3).T}, "coef must be contiguous"),
])
def test_bad_arguments_are_refused(change, words) -> None:
    arguments = {"coef": torch.zeros(3, 4), "drive": torch.zeros(3, 4), "last": torch.zeros(4),
                 "out": torch.zeros(3, 4)}
    arguments.update(change)
    with pytest.raises(ValueError, match=words):
        reverse_scan(**arguments)
