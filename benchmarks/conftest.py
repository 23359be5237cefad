"""Shared fixtures of the pytest-benchmark suites (``pytest benchmarks/ --benchmark-only``).

The suites are not part of the default test run (``pytest tests``). Timings are reported by
pytest-benchmark, never asserted. Benchmarks in one ``group`` run in the same session and are
compared in pytest-benchmark's table; for interleaved round-robin comparisons with ratios and
memory, use ``python -m synnet_triton.bench``.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def device() -> torch.device:
    """CUDA when available (the Triton backend), else the CPU (the torch backend)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
