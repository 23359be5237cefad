"""Which implementation runs an op: the one rule every op of the package follows.

``backend="auto"`` picks the Triton kernels for CUDA tensors when Triton imports, the torch
reference otherwise; ``"torch"`` always runs the reference; ``"triton"`` runs the kernels, on
the CPU only under the Triton interpreter (``TRITON_INTERPRET=1``).
"""

from __future__ import annotations

import os

import torch

BACKENDS = ("auto", "torch", "triton")


def triton_available() -> bool:
    """True when the ``triton`` package imports."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str, device: torch.device) -> str:
    """The concrete backend (``"torch"`` or ``"triton"``) for tensors on ``device``.

    Raises:
        ValueError: ``backend`` is not one of :data:`BACKENDS`.
        RuntimeError: ``"triton"`` where it cannot run (no triton package; a CPU device
            outside the interpreter).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "triton" if device.type == "cuda" and triton_available() else "torch"
    if backend == "triton":
        if not triton_available():
            raise RuntimeError("backend='triton' needs the triton package (pip install triton)")
        if device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
            raise RuntimeError(
                f"backend='triton' needs CUDA tensors (they are on {device}); on CPU it runs "
                "only under the Triton interpreter (set TRITON_INTERPRET=1 before importing "
                "triton), or use backend='torch'"
            )
    return backend
