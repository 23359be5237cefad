"""Approach (b) of issue 19 (benchmarks/chunked_time_tiles.py, timed by gpu_check's
kernel-configs step): bitwise the torch reference under the interpreter, T = 0, 1, multiples of
CHUNK_T and not."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "chunked_time_tiles", Path(__file__).resolve().parents[2] / "benchmarks" /
    "chunked_time_tiles.py")
assert SPEC is not None and SPEC.loader is not None
chunked = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(chunked)


def test_chunked_tiles_are_bitwise_the_reference():
    assert chunked.check_against_reference() == []
