"""The evaluation report: confusion matrix and per-class accuracy, counted by hand."""

from __future__ import annotations

import torch

from synnet_triton.kws.reports import confusion_matrix, format_evaluation

LABELS = torch.tensor([0, 0, 1, 2, 2])
PREDICTIONS = torch.tensor([0, 1, 1, 2, 0])


def test_confusion_matrix_rows_are_true_classes() -> None:
    assert confusion_matrix(LABELS, PREDICTIONS, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_report_names_classes_even_with_a_leading_underscore() -> None:
    text = format_evaluation("float", ["_noise", "yes", "no"], LABELS, PREDICTIONS,
                             ("xylo", torch.tensor([0, 1, 1, 2, 2])))
    lines = text.splitlines()
    assert lines[0] == "float: accuracy 0.600 (3/5 clips)"
    assert lines[1] == "agreement with xylo: 0.800 (4/5 clips)"
    assert any(line.split() == ["_noise", "2", "0.500"] for line in lines)
    assert any(line.split() == ["yes", "1", "1.000"] for line in lines)
    assert any(line.split() == ["no", "1", "0", "1"] for line in lines)
