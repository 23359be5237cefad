"""SynNet on the Triton kernels (run by the interpreter on CPU, see tests/conftest.py) against
Rockpool 3.1's SynNet."""

from __future__ import annotations

import pytest
from synnet_oracle import CONFIGS, assert_forward_and_gradients_match_rockpool


@pytest.mark.parametrize("name", ["two_layers_thresholds", "vmem_output"])
def test_triton_forward_and_gradients_match_rockpool(name: str):
    assert_forward_and_gradients_match_rockpool(CONFIGS[name], backend="triton")
