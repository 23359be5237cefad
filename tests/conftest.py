"""Shared pytest setup.

The Triton kernels run on CPU under the Triton interpreter, which is chosen when a kernel is
decorated, i.e. when ``synnet_triton.kernels`` is first imported. Set it here, before any
test module imports it, unless the caller chose (``TRITON_INTERPRET=0`` on a GPU machine
runs the compiled kernels: ``benchmarks/gpu_check.sh``).
"""

import os

from hypothesis import settings

os.environ.setdefault("TRITON_INTERPRET", "1")

# CI runs the same examples every time (a red build must be reproducible); elsewhere
# hypothesis keeps exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
