"""Every Python block of the README and of the user documents it links to runs as written, each
in a fresh interpreter (the DDP example as a one-process torchrun would start it), and they
link only to files that are in the repository; the README stays short."""

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
USER_DOCUMENTS = [ROOT / "README.md", *(ROOT / "docs" / name for name in
                  ("kws.md", "xylo.md", "ecosystem.md", "interop.md", "design.md"))]
BLOCKS = [(path.name, block) for path in USER_DOCUMENTS
          for block in re.findall(r"```python\n(.*?)```", path.read_text(), re.S)]
MAX_README_LINES = 300


def _free_port() -> int:
    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return handle.getsockname()[1]


@pytest.mark.parametrize("code", [block for _, block in BLOCKS],
                         ids=[f"{name}-block{k}" for k, (name, _) in enumerate(BLOCKS)])
def test_python_block_runs(code: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(_free_port()))
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]


def test_there_are_python_blocks() -> None:
    assert len(re.findall(r"```python\n", README)) >= 5
    assert len(BLOCKS) >= 9


def test_the_readme_is_short_and_opens_with_install_and_the_op() -> None:
    lines = README.splitlines()
    assert len(lines) <= MAX_README_LINES
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[:2] == ["## Install", "## The op and the layer"]
    assert "pip install synnet-triton" in README


@pytest.mark.parametrize("document", USER_DOCUMENTS, ids=lambda path: path.name)
def test_linked_files_exist(document: Path) -> None:
    for target in re.findall(r"\]\(([^)#\s]+)\)", document.read_text()):
        if not target.startswith("http"):
            assert (document.parent / target).exists(), target
    for path in re.findall(r"`((?:docs|tools|benchmarks|tests|kernels)/[\w./-]+)`", README):
        assert (ROOT / path.rstrip(".")).exists(), path
