"""benchmarks/gpu_bench.py, which gpu_check.sh runs on a GPU, end to end on CPU: its dry run
(tiny sizes, kernels under the Triton interpreter) must produce every contender's rows."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dry_run_writes_every_row(tmp_path):
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_bench.py"), "--dry-run",
         "--out", str(tmp_path)],
        check=True, cwd=ROOT, env=env, timeout=600, capture_output=True,
    )
    result = json.loads((tmp_path / "gpu_bench.json").read_text())
    assert (tmp_path / "gpu_bench.png").stat().st_size > 0
    assert result["dry_run"] is True and result["copy_bandwidth"] > 0
    long_rows = result["long"]["rows"]
    assert {row["contender"] for row in long_rows} >= {"triton", "torch reference"}
    for row in long_rows:
        assert row["ms"] > 0 and math.isfinite(row["bandwidth"])
        # DESIGN §5's model for S = 1: 8·S + 16 bytes per neuron-step
        assert row["bytes_model"] % 24 == 0
    assert {row["contender"] for row in result["linear"]} >= {"triton"}
    assert all(row["ms"] > 0 for row in result["linear"])
