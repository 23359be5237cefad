"""tools/rockpool_suite.py's import substitution, on hand-written import lines."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "rockpool_suite", Path(__file__).resolve().parents[2] / "tools" / "rockpool_suite.py")
assert SPEC is not None and SPEC.loader is not None
rockpool_suite = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(rockpool_suite)


def test_lif_torch_among_other_names_is_split_out_with_its_indent():
    source = "def f():\n    from rockpool.nn.modules import LinearTorch, LIFTorch, to_nir\n"
    assert rockpool_suite.substitute(source) == (
        "def f():\n"
        "    from rockpool.nn.modules import LinearTorch, to_nir\n"
        "    from synnet_triton.rockpool import LIFTriton as LIFTorch\n"
    )


def test_synnet_is_replaced_only_from_rockpools_networks():
    source = ("from rockpool.nn.networks import SynNet\n"
              "from rockpool.nn.modules.torch.lif_torch import LIFTorch\n"
              "from mylib import SynNet\n"
              "from rockpool.nn.modules import LinearTorch\n")
    assert rockpool_suite.substitute(source) == (
        "from synnet_triton.rockpool import SynNet\n"
        "from synnet_triton.rockpool import LIFTriton as LIFTorch\n"
        "from mylib import SynNet\n"
        "from rockpool.nn.modules import LinearTorch\n"
    )
