"""Plots keep every class in the legend, also names matplotlib would hide."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from synnet_triton.kws import plots  # noqa: E402


def test_classes_starting_with_an_underscore_stay_in_the_legend(tmp_path: Path, monkeypatch):
    names = ["_noise", "_silence_", "yes"]
    legends = []
    original = matplotlib.axes.Axes.legend

    def keep(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        legend = original(self, *args, **kwargs)
        legends.append([text.get_text() for text in legend.get_texts()])
        return legend

    monkeypatch.setattr(matplotlib.axes.Axes, "legend", keep)
    path = plots.plot_clip(torch.zeros(20, 16), torch.zeros(20, 4), torch.ones(20, 3), names, 0,
                           tmp_path / "clip.png")
    plt.close("all")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert [label.lstrip("\u200b") for label in legends[-1]] == names
