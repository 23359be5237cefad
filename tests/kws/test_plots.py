"""Plots keep every class in the legend, also names matplotlib would hide."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
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


def test_up_to_fifty_classes_get_distinct_colours() -> None:
    for n in (1, 11, 32, 50):
        colours = plots.class_colours(n)
        assert len(set(colours)) == n
    with pytest.raises(ValueError, match="51 classes: the plots tell at most 50 apart"):
        plots.class_colours(51)


def test_the_readout_figure_tells_eleven_classes_and_their_detections_apart() -> None:
    """The case that failed: 11 classes took matplotlib's 10-colour cycle round (``_noise``
    and ``zero`` one blue), the legend covered the data, spans carried no word."""
    from types import SimpleNamespace

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgba

    names = ["_noise", "zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
             "nine"]
    trace = torch.rand(100, len(names))
    found = [SimpleNamespace(word="zero", start_s=1.0, end_s=2.0),
             SimpleNamespace(word="nine", start_s=5.0, end_s=6.0)]
    figure = plots.detections_figure(trace, 0.1, names, found)
    FigureCanvasAgg(figure).draw()
    axis = figure.axes[0]
    line_colours = {line.get_label().lstrip("\u200b"): to_rgba(line.get_color())
                    for line in axis.get_lines()}
    assert list(line_colours) == names and len(set(line_colours.values())) == len(names)
    legend = axis.get_legend().get_window_extent()
    assert legend.x0 >= axis.get_window_extent().x1  # beside the data, not over it
    spans = [patch for patch in axis.patches]
    assert [to_rgba(span.get_facecolor(), 1.0) for span in spans] == [
        line_colours["zero"], line_colours["nine"]]
    labels = [(text.get_text(), text.get_position()[0]) for text in axis.texts]
    assert labels == [("zero", 1.5), ("nine", 5.5)]
