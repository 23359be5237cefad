"""Readable evaluation reports: accuracy, per-class accuracy and the confusion matrix with
class names, and the agreement of two evaluations of the same clips (float and Xylo)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["confusion_matrix", "format_evaluation", "printable"]


def printable(name: str) -> str:
    """``name`` safe to print: control and other unprintable characters (an ANSI escape in a
    folder's name) as Python escapes, so a name cannot move the cursor or recolour a
    terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in name)


def confusion_matrix(labels: Tensor, predictions: Tensor, n_classes: int) -> Tensor:
    """int64 (n_classes, n_classes): row = true class, column = predicted class."""
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {tuple(labels.shape)} and predictions "
                         f"{tuple(predictions.shape)} must have the same shape")
    index = labels.long() * n_classes + predictions.long()
    return torch.bincount(index, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def format_evaluation(
    title: str,
    class_names: Sequence[str],
    labels: Tensor,
    predictions: Tensor,
    other: tuple[str, Tensor] | None = None,
) -> str:
    """Accuracy, per-class accuracy and the confusion matrix of ``predictions`` (N,) against
    ``labels`` (N,); with ``other = (name, predictions)``, how often the two agree."""
    matrix = confusion_matrix(labels, predictions, len(class_names))
    class_names = [printable(name) for name in class_names]
    correct = int(matrix.diagonal().sum())
    total = int(matrix.sum())
    lines = [f"{title}: accuracy {correct / max(total, 1):.3f} ({correct}/{total} clips)"]
    if other is not None:
        name, theirs = other
        same = int((theirs == predictions).sum())
        lines.append(f"agreement with {name}: {same / max(total, 1):.3f} ({same}/{total} clips)")
    corner = "true \\ predicted"
    width = max(len(corner), *(len(n) for n in class_names))
    column = max(5, *(len(n) for n in class_names))
    lines.append("")
    lines.append(f"{'class':{width}s}  clips  accuracy")
    for k, name in enumerate(class_names):
        clips = int(matrix[k].sum())
        accuracy = f"{int(matrix[k, k]) / clips:.3f}" if clips else "-"
        lines.append(f"{name:{width}s}  {clips:5d}  {accuracy:>8s}")
    lines.append("")
    lines.append(f"{corner:{width}s}  " + "  ".join(f"{n:>{column}s}" for n in class_names))
    for k, name in enumerate(class_names):
        lines.append(f"{name:{width}s}  " + "  ".join(f"{int(v):{column}d}" for v in matrix[k]))
    return "\n".join(lines)
