"""SHD/SSC-layout HDF5 spike files (written here with h5py in the published layout:
variable-length ``spikes/times`` and ``spikes/units``, ``labels``, ``extra/keys``): spikes
binned at dt into counts as computed by hand, the class names read from the file, damaged
files named, and the CLI training a 700-channel network in float, saying why no Xylo chip
takes it, with ``eval`` remaking the held-out samples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

h5py = pytest.importorskip("h5py")

from synnet_triton.kws.spike_files import load_spike_file  # noqa: E402

NAMES = ["null", "eins", "zwei"]


def _write(path: Path, samples: list[tuple[list[float], list[int], int]],
           names: list[str] | None = NAMES) -> Path:
    with h5py.File(path, "w") as handle:
        floats, ints = h5py.vlen_dtype(np.float32), h5py.vlen_dtype(np.uint16)
        times = handle.create_dataset("spikes/times", (len(samples),), dtype=floats)
        units = handle.create_dataset("spikes/units", (len(samples),), dtype=ints)
        for k, (t, u, _) in enumerate(samples):
            times[k], units[k] = np.asarray(t, np.float32), np.asarray(u, np.uint16)
        handle["labels"] = np.asarray([label for *_, label in samples], np.uint16)
        if names is not None:
            handle["extra/keys"] = np.asarray([n.encode() for n in names])
    return path


def test_spikes_are_counted_per_bin_and_channel(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.h5", [
        ([0.0, 0.0004, 0.0021, 0.0049], [3, 3, 0, 699], 2),
        ([0.0015], [5], 0),
    ])
    data = load_spike_file(path)
    assert data.class_names == NAMES and data.labels.tolist() == [2, 0]
    assert data.events.shape == (2, 5, 700) and data.events.dtype == torch.uint8
    expected = torch.zeros(2, 5, 700, dtype=torch.uint8)
    expected[0, 0, 3] = 2       # two spikes of unit 3 in bin 0 (0.0 s and 0.4 ms)
    expected[0, 2, 0] = 1       # 2.1 ms → bin 2
    expected[0, 4, 699] = 1     # 4.9 ms → bin 4, the last
    expected[1, 1, 5] = 1
    assert torch.equal(data.events, expected)
    cropped = load_spike_file(path, seconds=0.003)
    assert cropped.events.shape[1] == 3 and torch.equal(cropped.events, expected[:, :3])
    assert cropped.source is not None and cropped.source.cropped == 1


def test_counts_are_clipped_to_xylos_fifteen_and_names_default(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.h5", [([0.0] * 20, [1] * 20, 1), ([], [], 0)], names=None)
    data = load_spike_file(path)
    assert int(data.events[0, 0, 1]) == 15 and data.class_names == ["class0", "class1"]


def test_files_that_are_not_spike_sets_are_named(tmp_path: Path) -> None:
    text = tmp_path / "t.h5"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        load_spike_file(text)
    with h5py.File(tmp_path / "e.h5", "w") as handle:
        handle["labels"] = np.zeros(2, np.uint16)
    with pytest.raises(ValueError, match="no 'spikes/times'"):
        load_spike_file(tmp_path / "e.h5")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    return subprocess.run([sys.executable, "-m", "synnet_triton.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def test_the_cli_trains_700_channels_in_float_and_eval_remakes_the_held_out_set(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    samples = []
    for k in range(15):
        label = k % 3
        t = np.sort(rng.uniform(0, 0.05, 40))
        u = rng.integers(200 * label, 200 * label + 200, 40)
        u[0] = 699  # every file reaches all 700 channels
        samples.append((t.tolist(), u.tolist(), label))
    _write(tmp_path / "shd_train.h5", samples)
    trained = _cli("train", "--out", "run", "--data", "shd_train.h5", "--hidden", "8",
                   "--epochs", "1", "--no-progress", "--device", "cpu", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "target: no Xylo Audio chip holds 700 → 8 → 3" in trained.stdout
    assert "input_channels 700 > 16" in trained.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["network"]["n_channels"] == 700 and summary["test_clips"] == 3
    scored = _cli("eval", "run/checkpoint.pt", "--no-progress", "--json", "e.json",
                  cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["predictions"] == summary["float_predictions"]
    assert report["class_names"] == NAMES
