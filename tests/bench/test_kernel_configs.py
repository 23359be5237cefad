"""benchmarks/kernel_configs.py: every configuration is checked bitwise against the default
before it is timed, a wrong one is reported and never timed, and the winner per N bucket is
the least summed time among configurations correct on every workload of the bucket."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from synnet_triton.kernels.launch import LaunchPlan, reconfigured

from synnet_triton.compiled.performance_model import Workload

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def configs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kernel_configs",
                                                  ROOT / "benchmarks" / "kernel_configs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kernel_configs"] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny(configs: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """One small workload in the N <= 1024 bucket, 40 neurons: BLOCK_N 64 masks 24 lanes."""
    monkeypatch.setattr(configs, "workloads", lambda dry_run: (Workload("tiny", 2, 7, 40),))


def test_every_configuration_of_the_tiny_layer_is_correct_and_timed(configs, tiny) -> None:
    rows = list(configs.sweep(torch.device("cpu"), True, 1, 1e9))
    # kernels × blocks × (3, default), then approach (b)'s chunk configurations
    assert len(rows) == 2 * 2 * 2 + len(configs.CHUNKED)
    assert [r["chunk_t"] for r in rows if r["kernel"] == "forward-chunked"] == [
        chunk for chunk, _ in configs.CHUNKED]
    assert all(row["status"] == "ok" and row["ms"] > 0 for row in rows)
    defaults = [(r["kernel"], r["block_n"], r["num_stages"]) for r in rows if r["default"]]
    assert defaults == [("forward", 32, 17), ("backward", 32, 9)]


def _corrupting_launch(configs: ModuleType, corrupt: Any) -> Any:
    """Runs every plan, then corrupts the outputs of non-default configurations."""

    def launch(kernel: Any, plan: LaunchPlan) -> Any:
        configs.launch_kernel(kernel, plan)
        if plan.options["BLOCK_N"] == 64:
            corrupt(plan)

    return launch


def test_a_configuration_that_skips_the_last_step_is_reported_wrong_and_not_timed(
    configs, tiny
) -> None:
    def drop_last_step(plan: LaunchPlan) -> None:
        for tensor in plan.args:
            if isinstance(tensor, torch.Tensor) and tensor.dim() == 3 and tensor.shape[1] == 7:
                if tensor is not plan.args[0]:  # not the input x
                    tensor[:, -1] = 0.0

    rows = list(configs.sweep(torch.device("cpu"), True, 1, 1e9,
                              launch=_corrupting_launch(configs, drop_last_step)))
    wrong = [r for r in rows if r["status"] == "wrong"]
    assert {r["block_n"] for r in wrong} == {64} and len(wrong) == 4
    assert all("ms" not in r for r in wrong)
    table = configs.winners(rows)
    assert table["N <= 1024"]["forward"]["block_n"] == 32
    assert table["N <= 1024"]["backward"]["block_n"] == 32


def test_a_sign_flip_of_zero_is_caught(configs) -> None:
    expected = {"spikes": torch.zeros(2, 3)}
    assert configs.bitwise_equal(expected, {"spikes": torch.zeros(2, 3)})
    assert not configs.bitwise_equal(expected, {"spikes": -torch.zeros(2, 3)})


def _row(neurons: int, kernel: str, block: int, stages: int, ms: float | None,
         default: bool = False) -> dict[str, Any]:
    status = "ok" if ms is not None else "wrong"
    row = {"neurons": neurons, "kernel": kernel, "block_n": block, "num_stages": stages,
           "default": default, "status": status}
    return row if ms is None else {**row, "ms": ms}


def test_winner_is_the_least_summed_time_among_configurations_correct_everywhere(configs):
    rows = [
        # N <= 1024: two workloads; (64, 9) is fastest on the first but wrong on the second
        _row(64, "forward", 32, 17, 2.0, default=True), _row(512, "forward", 32, 17, 3.0,
                                                             default=True),
        _row(64, "forward", 32, 3, 1.5), _row(512, "forward", 32, 3, 4.0),
        _row(64, "forward", 64, 9, 0.1), _row(512, "forward", 64, 9, None),
        # N > 1024
        _row(4096, "forward", 64, 17, 10.0, default=True), _row(4096, "forward", 64, 25, 8.0),
    ]
    table = configs.winners(rows)
    small = table["N <= 1024"]["forward"]
    assert (small["block_n"], small["num_stages"], small["ms_total"]) == (32, 17, 5.0)
    assert small["default"]["default_over_best"] == 1.0
    large = table["N > 1024"]["forward"]
    assert (large["block_n"], large["num_stages"], large["ms_total"]) == (64, 25, 8.0)
    assert large["default"]["default_over_best"] == pytest.approx(10.0 / 8.0)
    assert "backward" not in table["N <= 1024"]


def test_reconfigured_changes_the_grid_warps_and_depth_only() -> None:
    plan = LaunchPlan((3, 2), ("x", 5), {"BLOCK_N": 32, "NUM_STAGES": 17, "num_warps": 1,
                                          "S": 1})
    moved = reconfigured(plan, 40, 64, 3)
    assert moved.grid == (3, 1) and moved.args == plan.args
    assert moved.options == {"BLOCK_N": 64, "NUM_STAGES": 3, "num_warps": 2, "S": 1}
    with pytest.raises(ValueError, match="block_n must be a power of 2"):
        reconfigured(plan, 40, 48, 3)
    with pytest.raises(ValueError, match="num_stages must be >= 1"):
        reconfigured(plan, 40, 32, 0)
