"""Helpers of the CPU step loops (the LIF torch backend, the Xylo simulation, the compiled
loops of the ``[cpu]`` extra).

A step of a small layer costs per-op overhead more than arithmetic, and numpy's ufuncs have
about a third of torch's, with the same IEEE operations: on CPU the loops run numpy on
memory shared with the tensors, elsewhere torch. Their per-step buffers are staged a chunk of
steps at a time, sized to stay in cache.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

CHUNK_STEPS = 128
CHUNK_ELEMENTS = 2**18


def array_namespace(t: Tensor):  # type: ignore[no-untyped-def]
    """(numpy, Tensor → ndarray view) for CPU tensors, (torch, identity) otherwise."""
    if t.device.type == "cpu":
        return np, lambda a: a.detach().numpy()
    return torch, lambda a: a


def steps_per_chunk(elements_per_step: int) -> int:
    """Steps per chunk: about CHUNK_ELEMENTS per buffer, at most CHUNK_STEPS.

    A dozen chunk-sized buffers kept near 1 MiB each stay in cache, while fewer, longer
    chunks save per-op overhead on small layers (measured on the 2-core EPYC, LIF backward:
    128 steps best at 1 024 elements per step, 16–32 at 16 384).
    """
    return max(1, min(CHUNK_STEPS, CHUNK_ELEMENTS // max(elements_per_step, 1)))


@functools.cache
def numba_available() -> bool:
    """True when ``numba`` imports (the ``[cpu]`` extra): the compiled CPU loops. Asked once
    per process: the Xylo step engine asks at every step that needs the exact order."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def torch_threads() -> Iterator[None]:
    """Run numba's parallel loops inside on as many threads as torch is given, and leave
    torch's count as it was: numba's OpenMP threading layer shares OpenMP's thread count with
    torch and sets it to numba's pool size at a launch (torch set to one thread came back with
    two). Needs numba (the ``[cpu]`` extra)."""
    import numba

    count = torch.get_num_threads()
    numba.set_num_threads(max(1, min(count, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        if torch.get_num_threads() != count:
            torch.set_num_threads(count)
