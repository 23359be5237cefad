"""Shared pytest setup.

The Triton kernels run on CPU under the Triton interpreter, which is chosen when a kernel is
decorated, i.e. when ``synnet_triton.kernels`` is first imported. Set it here, before any
test module imports it, unless the caller chose (``TRITON_INTERPRET=0`` on a GPU machine
runs the compiled kernels: ``benchmarks/gpu_check.sh``).
"""

import os
import random
import zlib

import numpy as np
import pytest
from hypothesis import Phase, settings

os.environ.setdefault("TRITON_INTERPRET", "1")

# CI runs the same examples every time (a red build must be reproducible); elsewhere
# hypothesis keeps exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
# Mutation runs (make mutation, tools/mutate_kernels.py) only need to know whether a test
# fails: the same examples as CI, without shrinking a failure (minutes per killed mutant
# otherwise).
settings.register_profile("mutation", derandomize=True, deadline=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
if os.environ.get("SYNNET_TRITON_MUTATION"):
    settings.load_profile("mutation")
elif os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _seed_global_generators(request: pytest.FixtureRequest) -> None:
    """Seed torch's, numpy's and Python's global generators from the test's own id before
    every test: a test that draws from them gets the same numbers alone, in any order and
    on any xdist worker, so a failure reproduces with ``pytest <node id>``."""
    import torch

    seed = zlib.crc32(request.node.nodeid.encode())
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``SYNNET_TRITON_MUTATION_TESTS`` (node-id prefixes, space-separated) keeps only the
    tests it names: ``make mutation MUTATION_TESTS=...`` gives one module's mutants a targeted
    selection (mutmut maps each function to the tests it finds through this collection)."""
    prefixes = os.environ.get("SYNNET_TRITON_MUTATION_TESTS", "").split()
    if not prefixes:
        return
    kept, dropped = [], []
    for item in items:
        (kept if item.nodeid.startswith(tuple(prefixes)) else dropped).append(item)
    config.hook.pytest_deselected(items=dropped)
    items[:] = kept
