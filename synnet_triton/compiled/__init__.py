"""What the Triton kernels compile to, read without a GPU, and a performance model built on it.

- ``compile_report``: every launch configuration of the kernels built ahead of time for a GPU
  target (TTGIR, PTX, cubin); registers, spills, shared memory, the time loop's instructions;
- ``compiled_code``: reading a time loop out of TTGIR and SASS (rings, synchronous loads,
  an in-order issue model of one warp);
- ``performance_model``: from those rows to a predicted time per launch on a stated device.

Depends on :mod:`synnet_triton.kernels` (the launch plans it compiles) and nothing above it.
"""

from synnet_triton.compiled.compile_report import compile_report, format_compile_report

__all__ = ["compile_report", "format_compile_report"]
