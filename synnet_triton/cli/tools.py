"""The commands of ``synnet-triton`` that are not the keyword-spotting application: ``info``
(versions, devices, backends), ``kernels`` (what the GPU will execute, read from the compiled
code) and ``bench`` (forwarded to :mod:`synnet_triton.bench`)."""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

__all__ = ["command_bench", "command_kernels", "info"]


def command_bench(argv: Sequence[str]) -> int:
    from synnet_triton.bench import main as bench_main

    return int(bench_main(list(argv)) or 0)


def command_kernels(capability: int, predict_times: bool, json_path: Path | None) -> int:
    """Build every kernel configuration for ``capability`` and print what the compiled code
    shows; ``predict_times`` adds the performance model's times (sm_90); ``json_path`` also
    writes the rows there."""
    from synnet_triton.compiled.compile_report import compile_report, format_compile_report
    from synnet_triton.compiled.performance_model import DEVICES, format_prediction, predict

    if capability < 80:
        raise ValueError(f"--capability {capability}: the kernels need sm_80 or newer "
                         "(Ampere, e.g. 80, 86, 89, 90)")
    if predict_times and capability != 90:
        raise ValueError("--predict models H100/H200: use it with --capability 90")
    rows = compile_report(capability)
    print(format_compile_report(rows))
    report: dict[str, Any] = {"builds": [{k: v for k, v in row.items() if k != "cubin"}
                                         for row in rows]}
    if predict_times:
        report["predictions"] = {}
        for device in DEVICES:
            table = predict(rows, device)
            report["predictions"][device] = table
            print()
            print(format_prediction(table))
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {json_path}")
    return 0


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def info() -> dict[str, Any]:
    """Versions, compute device and LIF backends available, as a JSON-able dict."""
    from synnet_triton.ops.lif import numba_available, resolve_backend, triton_available

    cuda = torch.cuda.is_available()
    devices = [
        {
            "index": k,
            "name": torch.cuda.get_device_name(k),
            "capability": ".".join(map(str, torch.cuda.get_device_capability(k))),
        }
        for k in range(torch.cuda.device_count())
    ]
    backends = (["torch"] + (["numba"] if numba_available() else [])
                + (["triton"] if triton_available() and cuda else []))
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {
            # the imported torch build (e.g. 2.11.0+cu130); its distribution metadata says 2.11.0
            "torch": torch.__version__,
        } | {
            name: _version(name)
            for name in (
                "synnet-triton",
                "triton",
                "numpy",
                "scipy",
                "rockpool",
                "xylosim",
                "numba",
            )
        },
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "devices": devices,
        "default_device": "cuda" if cuda else "cpu",
        "backends_available": backends,
        "backend_auto": resolve_backend("auto", torch.device("cuda" if cuda else "cpu"),
                                        recurrent=False),
        "triton_importable": triton_available(),
        "cpu_threads": torch.get_num_threads(),
    }

