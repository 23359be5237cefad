"""The operations: one subpackage per op, each a functional entry point, its backends
(a readable naive loop, the torch reference, the Triton kernels' launchers) and its checks.

- :mod:`synnet_triton.ops.lif`: the whole-sequence LIF recurrence;
- :mod:`synnet_triton.ops.scan`: the reverse linear scan (the backward sweeps' primitive);
- ``dispatch``: which backend runs an op (``"auto"``, ``"torch"``, ``"triton"``), one rule for
  every op of the package.
"""
