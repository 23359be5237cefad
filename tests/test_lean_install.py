"""The package without extras: a fresh virtual environment with torch, numpy and triton only
(``pip install synnet-triton``) runs the op and a SynNet forward and backward without importing
the application's or the chip simulator's modules, and the CLI names the extra it lacks.

Builds a venv of its own (about half a minute: torch comes from the same local wheel or pip
cache the project's venv was installed from).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

EXTRA_MODULES = ("tqdm", "matplotlib", "soundfile", "scipy", "h5py", "rockpool", "nir", "numba")
"""Top-level modules the core must not import (and the lean venv must not have)."""

CORE_RUN = """
import json, sys
import torch
import synnet_triton
from synnet_triton import SynNet, lif

x = torch.randn(2, 20, 3, requires_grad=True)
out, _ = lif(x, tau_mem=0.02, tau_syn=0.01, threshold=0.5)
out.spikes.sum().backward()
net = SynNet(n_classes=2, n_channels=4, size_hidden_layers=[8], time_constants_per_layer=[2])
net(torch.rand(2, 30, 4)).sum().backward()
grads = [p.grad is not None for p in net.parameters() if p.requires_grad]
print(json.dumps({
    "x_grad_finite": bool(torch.isfinite(x.grad).all()),
    "every_parameter_has_a_gradient": all(grads),
    "modules": sorted(sys.modules),
}))
"""


@pytest.fixture(scope="module")
def lean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("lean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    import numpy
    import torch

    # The same torch build as the project's venv (a CPU wheel here), never pip's default.
    torch_spec = f"torch=={torch.__version__.split('+')[0]}"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, torch_spec, f"numpy=={numpy.__version__}", "triton"], check=True,
                   capture_output=True)
    subprocess.run([*pip, "--no-deps", str(ROOT)], check=True, capture_output=True)
    return python


def _run(python: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "PYTHONPATH")}
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=env,
                          cwd=python.parent)


def test_the_lean_venv_has_no_extra(lean_venv: Path) -> None:
    """The check below means something only if the extras could not have been imported."""
    run = _run(lean_venv, "-c", "import importlib.util, json; print(json.dumps("
               f"[m for m in {EXTRA_MODULES!r} if importlib.util.find_spec(m)]))")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == []


def test_op_and_synnet_train_without_extras_or_the_simulator(lean_venv: Path) -> None:
    run = _run(lean_venv, "-c", CORE_RUN)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["x_grad_finite"] and result["every_parameter_has_a_gradient"]
    # without the [cpu] extra the op runs its torch reference and says so, once per process
    assert run.stderr.count("numba is not installed") == 1, run.stderr[-3000:]
    modules = result["modules"]
    assert [m for m in modules if m.split(".")[0] in EXTRA_MODULES] == []
    assert [m for m in modules if m.startswith(("synnet_triton.kws", "synnet_triton.xylo.sim",
                                                "synnet_triton.bench", "synnet_triton.compiled",
                                                "synnet_triton.hardware"))] == []


@pytest.mark.parametrize("command", [["train", "--out", "run"], ["demo"],
                                     ["eval", "checkpoint.pt"]])
def test_the_cli_without_kws_names_the_extra_in_one_line(lean_venv: Path,
                                                         command: list[str]) -> None:
    run = _run(lean_venv, "-m", "synnet_triton.cli", *command)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1, run.stderr
    assert "pip install 'synnet-triton[kws]'" in run.stderr
    assert run.stderr.startswith(f"synnet-triton {command[0]}: error: ")


def test_the_cli_without_kws_still_reports_info(lean_venv: Path) -> None:
    run = _run(lean_venv, "-m", "synnet_triton.cli", "info")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["backends_available"][0] == "torch"
