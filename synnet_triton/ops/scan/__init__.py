"""The reverse linear scan, y_t = c_t · y_{t+1} + d_t backwards in time.

- ``functional``: :func:`reverse_scan`, the entry point (checks, backend dispatch), and
  :func:`run_reverse_scan`, the dispatch alone for callers that checked their tensors;
- ``torch_backend``: the loop over steps (the CPU path and the kernel's oracle);
- ``naive``: :func:`naive_reverse_scan`, the definition written out;
- the Triton kernel: ``synnet_triton.kernels.reverse_scan`` (the CUDA path).
"""

from synnet_triton.ops.scan.functional import reverse_scan, run_reverse_scan
from synnet_triton.ops.scan.naive import naive_reverse_scan

__all__ = ["naive_reverse_scan", "reverse_scan", "run_reverse_scan"]
