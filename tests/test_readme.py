"""Every Python block of the README runs as written, each in a fresh interpreter (the DDP
example as a one-process torchrun would start it), and the README links only to files that
are in the repository."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def _free_port() -> int:
    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return handle.getsockname()[1]


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{k}" for k in range(len(BLOCKS))])
def test_readme_python_block_runs(code: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(_free_port()))
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]


def test_there_are_python_blocks() -> None:
    assert len(BLOCKS) >= 5


def test_linked_files_exist() -> None:
    for target in re.findall(r"\]\(([^)#\s]+)\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
    for path in re.findall(r"`((?:docs|tools|benchmarks|tests|kernels)/[\w./-]+)`", README):
        assert (ROOT / path.rstrip(".")).exists(), path
