"""The reverse scan's torch backend: a loop over steps (numpy's ufuncs on the tensors' memory on
the CPU). Called by :func:`synnet_triton.ops.scan.reverse_scan` after its checks, and directly
by the LIF op's torch backend, whose entry point has checked its tensors already."""

from __future__ import annotations

from torch import Tensor

from synnet_triton.arrays import array_namespace


def reverse_scan_loop(coef: Tensor, drive: Tensor, last: Tensor, out: Tensor) -> None:
    """out_t = coef_t · out_{t+1} + drive_t over axis 0, from out_{L−1} = ``last`` back, in place.

    coef (L, ...) per step when it has ``out``'s number of dimensions, else one array for
    every step; drive (L, ...) broadcasting against ``out``; last (...); out (L, ...). On CPU
    tensors the loop runs on numpy views (a third of torch's per-operation overhead, the same
    IEEE float32 operations).
    """
    varying = coef.dim() == out.dim()
    xp, arrays = array_namespace(out)
    out_a, drive_a, coef_a = arrays(out), arrays(drive), arrays(coef)
    out_a[-1] = arrays(last)
    for t in range(out_a.shape[0] - 2, -1, -1):
        c = coef_a[t] if varying else coef_a
        xp.multiply(c, out_a[t + 1], out=out_a[t])
        xp.add(out_a[t], drive_a[t], out=out_a[t])
