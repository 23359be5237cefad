"""Checkpoints on disk: what is saved comes back, the same network gives the same bytes, and
every file that is not a sound checkpoint is a CheckpointError naming the file and the fault
(a ValueError: the CLI answers it in one line). The damaged files are made here by hand."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import torch

from synnet_triton.kws.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    checkpoint_bytes,
    load_checkpoint,
    save_checkpoint,
)
from synnet_triton.kws.training import NetworkConfig, build_network

CONFIG = NetworkConfig(n_classes=4, hidden=(9, 5), time_constants=(2, 2))


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, build_network(CONFIG, backend="torch", seed=3), CONFIG,
                    {"class_names": ["a", "b", "c", "d"]})
    return path


def _payload(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def test_a_checkpoint_restores_the_network_its_config_and_extra(tmp_path: Path) -> None:
    net = build_network(CONFIG, backend="torch", seed=3)
    path = tmp_path / "runs" / "deep" / "checkpoint.pt"  # folders made as needed
    extra = {"classes": ["a", "b"], "accuracy": 0.5, "nested": {"x": [1, 2]}}
    save_checkpoint(path.with_name("first.pt"), net, CONFIG, {})
    save_checkpoint(path, net, CONFIG, extra)  # into a folder that now exists
    loaded, loaded_config, loaded_extra = load_checkpoint(path)  # default backend
    assert loaded_config == CONFIG and loaded_extra == extra
    for (name, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items(),
                                 strict=True):
        assert torch.equal(a.view(torch.int32), b.view(torch.int32)), name
    assert next(loaded.parameters()).device.type == "cpu"
    assert _payload(path)["format"] == CHECKPOINT_FORMAT
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt", "first.pt"]


def test_the_same_network_gives_the_same_bytes() -> None:
    """What lets a resumed run be compared with the uninterrupted one file against file."""
    first = checkpoint_bytes(build_network(CONFIG, seed=3), CONFIG, {"a": 1})
    assert first == checkpoint_bytes(build_network(CONFIG, seed=3), CONFIG, {"a": 1})
    assert first != checkpoint_bytes(build_network(CONFIG, seed=4), CONFIG, {"a": 1})


def test_a_checkpoint_carrying_pickled_code_is_refused_and_never_run(tmp_path: Path) -> None:
    """Loaded with ``weights_only``: a pickled callable is refused, and the message never
    suggests ``weights_only=False`` (which would run it)."""
    path = tmp_path / "evil.pt"
    torch.save({"network": {}, "state_dict": {}, "extra": {}, "hook": print}, path)
    with pytest.raises(CheckpointError, match="Weights only load refused") as caught:
        load_checkpoint(path)
    assert "weights_only=False" not in str(caught.value) and str(path) in str(caught.value)


def _truncated(saved: Path) -> bytes:
    return saved.read_bytes()[: saved.stat().st_size // 2]


BAD_FILES = {
    "empty": (lambda saved: b"", "empty"),
    "text": (lambda saved: b"not a checkpoint at all\n", "not a torch file"),
    "truncated": (_truncated, "truncated"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_file_that_is_not_a_checkpoint_is_named(saved: Path, kind: str) -> None:
    content, words = BAD_FILES[kind]
    path = saved.with_name(f"{kind}.pt")
    path.write_bytes(content(saved))
    with pytest.raises(CheckpointError, match=words) as caught:
        load_checkpoint(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def _resaved(saved: Path, **changes: object) -> Path:
    payload = _payload(saved)
    for key, value in changes.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value
    path = saved.with_name("changed.pt")
    torch.save(payload, path)
    return path


@pytest.mark.parametrize("key", ["network", "state_dict", "extra"])
def test_a_missing_key_is_named(saved: Path, key: str) -> None:
    with pytest.raises(CheckpointError, match=f"lacks '{key}'"):
        load_checkpoint(_resaved(saved, **{key: None}))


def test_another_kind_of_torch_file_is_named(tmp_path: Path) -> None:
    for payload, words in (({"a": 1}, "lacks 'network'"), ([1, 2], "a list, not a dict")):
        path = tmp_path / "other.pt"
        torch.save(payload, path)
        with pytest.raises(CheckpointError, match=words):
            load_checkpoint(path)


def test_a_newer_format_asks_for_an_upgrade(saved: Path) -> None:
    with pytest.raises(CheckpointError, match=f"format {CHECKPOINT_FORMAT + 1}.*upgrade"):
        load_checkpoint(_resaved(saved, format=CHECKPOINT_FORMAT + 1))


def test_a_checkpoint_without_a_format_is_read_as_the_first(saved: Path) -> None:
    """Checkpoints written before the format key existed have the first format's layout."""
    net, config, _ = load_checkpoint(_resaved(saved, format=None))
    assert config == CONFIG


def test_non_finite_weights_are_refused_by_name(saved: Path) -> None:
    state = _payload(saved)["state_dict"]
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name] = state[name].clone()
    state[name].view(-1)[1] = float("nan")
    with pytest.raises(CheckpointError, match=f"{name} holds NaN or infinite"):
        load_checkpoint(_resaved(saved, state_dict=state))


def test_tensors_that_do_not_fit_the_network_are_named(saved: Path) -> None:
    state = _payload(saved)["state_dict"]
    name = next(iter(state))
    state[name] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match="do not fit its network") as caught:
        load_checkpoint(_resaved(saved, state_dict=state))
    assert name in str(caught.value)


@pytest.mark.parametrize("network, words", [
    ({"n_classes": 4}, "must hold exactly"),
    ({**vars(CONFIG), "n_classes": "four"}, "malformed"),
    ({**vars(CONFIG), "n_classes": 10**9}, "out of range"),
    ({**vars(CONFIG), "dt": float("nan")}, "out of range"),
])
def test_a_malformed_architecture_is_named(saved: Path, network: dict, words: str) -> None:
    with pytest.raises(CheckpointError, match=words):
        load_checkpoint(_resaved(saved, network=network))


def test_class_names_must_be_one_string_per_readout_neuron(saved: Path) -> None:
    for names in (["a", "b"], [1, 2, 3, 4], "abcd"):
        with pytest.raises(CheckpointError, match="'class_names' must be 4 strings"):
            load_checkpoint(_resaved(saved, extra={"class_names": names}))


def test_a_zip_that_is_not_torch_is_named(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    path = tmp_path / "archive.pt"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)
