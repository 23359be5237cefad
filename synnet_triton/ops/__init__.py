"""The operations: one subpackage per op, each a functional entry point, its backends
(a readable naive loop, the torch reference, the Triton kernels' launchers) and its checks.

- :mod:`synnet_triton.ops.lif`: the whole-sequence LIF recurrence.
"""
