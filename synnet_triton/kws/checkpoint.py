"""A trained keyword-spotting network on disk: what a checkpoint holds, and every way a file
can fail to be one.

A checkpoint is ``torch.save`` of a dict::

    format       int, CHECKPOINT_FORMAT (files before 0.3 carry none: format 1)
    network      NetworkConfig as a dict
    state_dict   the SynNet's tensors, on the CPU
    extra        JSON-able: data source, class names, accuracies, Xylo target and quantisation

It is read with ``weights_only=True`` (no code runs while loading), and everything read is
checked before use: a file that is not a checkpoint, a damaged or truncated one, missing or
malformed keys, a newer format, non-finite weights are each a :class:`CheckpointError`
naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import pickle
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from synnet_triton.kws.training import NetworkConfig, build_network
from synnet_triton.nn.synnet import SynNet

__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "checkpoint_bytes", "file_sha256",
           "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = 1
"""The layout this version writes and the newest it reads."""
ZIP_MAGIC = b"PK\x03\x04"
"""How ``torch.save`` files start (a zip archive) ..."""
PICKLE_PROTOCOL = b"\x80"
"""... or, saved with the legacy format, a pickle."""
MAX_CLASSES = 1024
MAX_HIDDEN = 1 << 16


class CheckpointError(ValueError):
    """A file that cannot be loaded as a checkpoint; the message names it and the fault."""


def checkpoint_bytes(net: SynNet, network: NetworkConfig, extra: dict[str, Any]) -> bytes:
    """The checkpoint of ``net`` (architecture ``network``, JSON-able ``extra``) as bytes;
    the same network and extra give the same bytes."""
    buffer = io.BytesIO()
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "network": asdict(network),
            "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
            "extra": json.loads(json.dumps(extra)),
        },
        buffer,
    )
    return buffer.getvalue()


def save_checkpoint(path: str | Path, net: SynNet, network: NetworkConfig,
                    extra: dict[str, Any]) -> None:
    """Write :func:`checkpoint_bytes` to ``path`` (its folder made as needed), atomically:
    a kill or a full disk leaves the previous file whole."""
    from synnet_triton.kws.run_folder import atomic_write_bytes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, checkpoint_bytes(net, network, extra))


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file's bytes (how a summary names the checkpoint it describes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if not magic:
        raise CheckpointError(f"{path} is not a readable checkpoint (empty)")
    if magic != ZIP_MAGIC and magic[:1] != PICKLE_PROTOCOL:
        raise CheckpointError(f"{path} is not a checkpoint (not a torch file)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "weights only" in str(error).lower() or "weights_only" in str(error):
            raise CheckpointError(
                f"checkpoint {path} holds objects other than tensors and plain data (Weights "
                "only load refused them); it was not written by synnet-triton and is not "
                "loaded") from None
        raise CheckpointError(f"{path} is not a checkpoint (not a torch file)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        kind = "empty" if path.stat().st_size == 0 else "damaged or truncated, or not a torch file"
        raise CheckpointError(f"{path} is not a readable checkpoint ({kind}: "
                              f"{type(error).__name__})") from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path} is not a checkpoint (a {type(payload).__name__}, "
                              "not a dict)")
    return payload


def _network_config(path: Path, stored: Any) -> NetworkConfig:
    fields = ("n_classes", "n_channels", "hidden", "time_constants", "dt")
    if not isinstance(stored, dict) or set(stored) != set(fields):
        raise CheckpointError(f"checkpoint {path}: 'network' must hold exactly {fields}")
    try:
        network = NetworkConfig(
            n_classes=int(stored["n_classes"]), n_channels=int(stored["n_channels"]),
            hidden=tuple(int(h) for h in stored["hidden"]),
            time_constants=tuple(int(t) for t in stored["time_constants"]),
            dt=float(stored["dt"]))
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"checkpoint {path}: 'network' is malformed ({error})") from None
    sizes = (network.n_classes, network.n_channels, *network.hidden, *network.time_constants)
    if not (2 <= network.n_classes <= MAX_CLASSES and 1 <= min(sizes)
            and max(sizes) <= MAX_HIDDEN and math.isfinite(network.dt) and network.dt > 0):
        raise CheckpointError(f"checkpoint {path}: 'network' is out of range ({network})")
    return network


def load_checkpoint(path: str | Path, backend: str = "auto", device: str | torch.device = "cpu",
                    ) -> tuple[SynNet, NetworkConfig, dict[str, Any]]:
    """Rebuild the network saved by :func:`save_checkpoint`: (net on ``device``, its config,
    ``extra``). Raises CheckpointError naming the file and the fault."""
    path = Path(path)
    payload = _read(path)
    version = payload.get("format", 1)
    if not isinstance(version, int) or version > CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} has format {version!r}; this synnet-triton "
                              f"reads up to format {CHECKPOINT_FORMAT}: upgrade it")
    for key in ("network", "state_dict", "extra"):
        if key not in payload:
            raise CheckpointError(f"checkpoint {path} lacks {key!r}: not written by "
                                  "synnet-triton train")
    network = _network_config(path, payload["network"])
    state, extra = payload["state_dict"], payload["extra"]
    if not isinstance(extra, dict):
        raise CheckpointError(f"checkpoint {path}: 'extra' must be a dict")
    names = extra.get("class_names")
    if names is not None and not (isinstance(names, list) and len(names) == network.n_classes
                                  and all(isinstance(name, str) for name in names)):
        raise CheckpointError(f"checkpoint {path}: 'class_names' must be {network.n_classes} "
                              "strings, one per readout neuron")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"checkpoint {path}: 'state_dict' must map names to tensors")
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"checkpoint {path}: {name} holds NaN or infinite values "
                                  "(the run diverged); it is not scored")
    net = build_network(network, backend=backend)
    try:
        net.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise CheckpointError(f"checkpoint {path}: its tensors do not fit its network "
                              f"({detail})") from None
    return net.to(device), network, extra
