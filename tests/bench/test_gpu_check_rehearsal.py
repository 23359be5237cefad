"""``benchmarks/gpu_check.sh --rehearse`` in a server-like environment: the GPU call must not
fail on mechanics.

Like the GPU server: a fresh virtual environment that has torch, triton, numpy and pytest but
not this package, only ``python3`` on PATH (no ``python``), a copy of the repository, the
script run from its root. The rehearsal runs the same steps as on the GPU (the compiled-code
checks for real, the benchmark's dry run in place of CUDA timings) and must leave exactly the
seven files the device call brings back (it brings back 8 at most) with every step's output
in results.tar.gz, leave the copy of the repository, $HOME and $TMPDIR untouched, and import
the package from the checkout.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("env", "import", "benchmark", "hardware", "cuda-tests", "kernel-configs",
         "compile-report", "kernel-structure")
"""In the order they run: the figures that matter most first."""
BROUGHT_BACK = {"summary.txt", "results.tar.gz", "gpu_bench.json", "gpu_bench.png",
                "gpu_hardware.json", "kernel_configs.json", "cuda-tests.txt"}
OUTPUTS = (
    "env.txt", "import.txt", "compile-report.txt", "kernel-structure.txt",
    "kernel-structure.xml", "cuda-tests.txt", "cuda-tests.xml", "gpu_bench.txt",
    "gpu_bench.json", "gpu_bench.png", "headline.txt", "kernel_configs.txt",
    "kernel_configs.json", "kernel_configs.csv", "kernel_configs.png", "winners.json",
    "gpu_hardware.txt", "gpu_hardware.json", "summary.txt",
)
"""Every step's output, in results.tar.gz."""

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _server_like_python(tmp: Path) -> Path:
    """A new venv whose only extra site directory is this venv's site-packages: third-party
    packages import, this package does not (its editable hook is a .pth file there, and .pth
    files of a directory added by a .pth line are not processed). No ``python`` command."""
    venv = tmp / "server-venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python3"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    Path(purelib, "host-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (venv / "bin" / "python").unlink(missing_ok=True)
    return python


def _repository_copy(tmp: Path) -> Path:
    copy = tmp / "repo"
    listed = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    files = subprocess.run(listed, cwd=ROOT, check=True, capture_output=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


def _tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def _server_env(tmp: Path, python: Path) -> dict[str, str]:
    home, temp = tmp / "home", tmp / "tmpdir"
    home.mkdir()
    temp.mkdir()
    return {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(temp),
            "LANG": "C.UTF-8"}


def test_rehearsal_runs_every_step_like_the_gpu_server(tmp_path: Path) -> None:
    python = _server_like_python(tmp_path)
    repo = _repository_copy(tmp_path)
    env = _server_env(tmp_path, python)
    assert shutil.which("python", path=env["PATH"]) is None
    assert shutil.which("python3", path=env["PATH"]) == str(python)
    probe = subprocess.run([str(python), "-c", "import synnet_triton"], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert "No module named 'synnet_triton'" in probe.stderr
    before = _tree(repo)
    out = tmp_path / "out"

    run = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--rehearse", str(out)], cwd=repo,
                         env=env, capture_output=True, text=True, timeout=600)

    summary = (out / "summary.txt").read_text()
    assert run.returncode == 0, summary + run.stdout[-3000:]
    assert "all steps passed" in summary
    for step in STEPS:
        line = next(line for line in summary.splitlines() if line.split()[0] == step)
        assert line.split()[1] == "ok", line
    assert {p.name for p in out.iterdir()} == BROUGHT_BACK and all(
        p.is_file() for p in out.iterdir())
    results = tmp_path / "results"
    with tarfile.open(out / "results.tar.gz") as archive:
        archive.extractall(results, filter="data")
    for name in OUTPUTS:
        assert (results / name).stat().st_size > 0, name
    for name in BROUGHT_BACK - {"results.tar.gz"}:
        assert (out / name).read_bytes() == (results / name).read_bytes(), name
    imported = (results / "import.txt").read_text()
    assert re.search(rf"synnet_triton from {re.escape(env['TMPDIR'])}/gpu_check\.\w+/shim/"
                     r"synnet_triton/__init__\.py", imported), imported
    assert "mode rehearsal" in (results / "env.txt").read_text()
    assert "triton fwd+bwd B=2 T=20 N=40" in (results / "headline.txt").read_text()
    assert (results / "headline.txt").read_text() in summary
    assert "lif_backward" in (results / "compile-report.txt").read_text()
    _assert_benchmark_rows(json.loads((out / "gpu_bench.json").read_text()))
    _assert_configuration_rows(json.loads((out / "kernel_configs.json").read_text()))
    hardware = json.loads((out / "gpu_hardware.json").read_text())
    assert [row["workload"] for row in hardware["rows"]] == [
        "xylo quiet", "xylo busy", "hardware-exact training step"]
    assert all(row.get("bitwise_cpu", row.get("bitwise_cpu_outputs")) for row in hardware["rows"])
    assert all(row.get("speedup", row.get("hardware_over_float_on_device", 0)) > 0
               for row in hardware["rows"])
    assert _tree(repo) == before
    assert list(Path(env["HOME"]).iterdir()) == []
    assert list(Path(env["TMPDIR"]).iterdir()) == []


def _assert_benchmark_rows(result: dict) -> None:
    """The dry run of benchmarks/gpu_bench.py produced every contender's rows."""
    assert result["dry_run"] is True and result["copy_bandwidth"] > 0
    long_rows = result["long"]["rows"]
    assert {row["contender"] for row in long_rows} >= {"triton", "torch reference"}
    for row in long_rows:
        assert row["ms"] > 0 and math.isfinite(row["bandwidth"])
        # docs/design.md §5's model for S = 1: 8·S + 16 bytes per neuron-step
        assert row["bytes_model"] % 24 == 0
    assert {row["contender"] for row in result["linear"]} >= {"triton"}
    assert all(row["ms"] > 0 for row in result["linear"])


def _assert_configuration_rows(result: dict) -> None:
    """The dry run of benchmarks/kernel_configs.py checked and timed every configuration of
    both kernels on every workload, and named a winner for both N buckets."""
    rows = result["rows"]
    assert result["dry_run"] is True and rows
    assert {row["kernel"] for row in rows} == {"forward", "backward", "forward-chunked"}
    assert all(row["status"] == "ok" and row["ms"] > 0 for row in rows)
    for workload in {row["workload"] for row in rows}:
        for kernel in ("forward", "backward"):
            chosen = [r for r in rows if r["workload"] == workload and r["kernel"] == kernel]
            assert sum(r["default"] for r in chosen) == 1
            assert {r["num_stages"] for r in chosen} >= {3}
            assert {r["block_n"] for r in chosen} == {32, 64}
    assert set(result["winners"]) == {"N <= 1024", "N > 1024"}
    for kernels in result["winners"].values():
        assert set(kernels) == {"forward", "backward", "forward-chunked"}


def test_summary_names_the_first_failed_step_when_python_is_missing(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHON": "/nonexistent/python3"}
    out = tmp_path / "out"
    run = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--rehearse",
                          str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0
    summary = (out / "summary.txt").read_text()
    assert "first failure: env: failed (exit 127)" in summary
    assert [line.split()[0] for line in summary.splitlines()[2:2 + len(STEPS)]] == list(STEPS)
    assert {p.name for p in out.iterdir()} == BROUGHT_BACK
    assert (out / "gpu_bench.json").read_text().startswith("not written")


def test_rehearse_without_an_output_folder_is_a_usage_error(tmp_path: Path) -> None:
    run = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--rehearse"],
                         cwd=tmp_path, env={**os.environ, "HOME": str(tmp_path)},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip().startswith("usage:")
