"""The marks of the tests that need a CUDA GPU and the compiled kernels (not the interpreter):
``benchmarks/gpu_check.sh`` runs them with ``TRITON_INTERPRET=0 pytest -m cuda``."""

from __future__ import annotations

import os

import pytest
import torch

COMPILED_CUDA_ONLY = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.skipif(
        os.environ.get("TRITON_INTERPRET") == "1",
        reason="compiled kernels only: run with TRITON_INTERPRET=0 (benchmarks/gpu_check.sh)",
    ),
]
