"""Design-rule check: everything a Xylo SNN core cannot hold, found before anything runs.

:func:`check_design` reads a Rockpool-style specification (the keyword arguments of
``XyloSim.from_specification``), a :class:`~synnet_triton.xylo.spec.XyloSpec`, or a network
with ``to_xylo`` (a SynNet), and returns a :class:`DesignReport` with *every* violation, each
naming the rule, the limit, the value found, where, and where the limit comes from (see
:mod:`synnet_triton.xylo.targets`). :func:`check_layout` does the structural rules for a
feed-forward SynNet from its layer sizes alone (before any weights exist).

Errors are what the chip cannot hold; warnings are where Rockpool warns (more than 16 outputs
on Xylo Audio 3).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synnet_triton.xylo.chip import INT16_RANGE, SHIFT_RANGE
from synnet_triton.xylo.targets import AUDIO_FAMILY, DEFAULT_TARGET, Target, get_target

INT8 = (-128, 127)
_STORAGE = "the register widths xylosim.v2 stores them in (int8 weights, int16 thresholds and " \
           "biases, 4-bit dashes and weight shifts)"


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``severity`` is ``"error"`` (the chip cannot hold it) or
    ``"warning"``; ``limit`` and ``found`` are as the rule counts them."""

    rule: str
    severity: str
    limit: str
    found: str
    where: str
    source: str

    def __str__(self) -> str:
        return (f"{self.severity}: {self.rule}: {self.where}: found {self.found}, limit "
                f"{self.limit}  [{self.source}]")


@dataclass(frozen=True)
class DesignReport:
    """Every violation of one design against one target."""

    target: Target
    violations: tuple[Violation, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]

    @property
    def warnings(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "warning"]

    @property
    def fits(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors

    def rules(self) -> set[str]:
        """The names of the broken rules."""
        return {v.rule for v in self.violations}

    def __str__(self) -> str:
        head = (f"{self.target.chip} design check: {len(self.errors)} error(s), "
                f"{len(self.warnings)} warning(s)")
        return "\n".join([head, *(f"  {v}" for v in self.violations)])

    def enforce(self, stacklevel: int = 2) -> DesignReport:
        """Raise :class:`DesignError` when there are errors; warn once per warning."""
        if self.errors:
            raise DesignError(self)
        for violation in self.warnings:
            warnings.warn(str(violation), UserWarning, stacklevel=stacklevel + 1)
        return self


class DesignError(ValueError):
    """A design the target chip cannot hold; ``report`` holds every violation."""

    def __init__(self, report: DesignReport) -> None:
        super().__init__(str(report))
        self.report = report


def check_layout(
    n_inputs: int,
    hidden_layers: Sequence[int],
    n_outputs: int,
    target: str | Target = DEFAULT_TARGET,
    *,
    n_synapses: int = 1,
    layer_names: Sequence[str] | None = None,
) -> DesignReport:
    """The structural rules for a feed-forward SynNet of these sizes (dense layers).

    Args:
        n_inputs: input channels.
        hidden_layers: neurons per hidden layer; layer 0 receives the inputs, the last one
            feeds the readout.
        n_outputs: readout neurons (classes).
        target: a name from :data:`synnet_triton.xylo.targets.TARGETS`.
        n_synapses: synaptic states per hidden neuron.
        layer_names: names for the report (default ``"0_neurons"``, ``"1_neurons"``, ...).
    """
    chip = get_target(target)
    names = list(layer_names or [f"{k}_neurons" for k in range(len(hidden_layers))])
    found: list[Violation] = []
    _counts(found, chip, n_inputs, sum(hidden_layers), n_outputs,
            where_hidden=", ".join(f"{n} {s}" for n, s in zip(names, hidden_layers, strict=True)))
    if n_synapses > chip.max_synapses:
        found.append(_violation(chip, "max_synapses", "synapses_per_neuron", chip.max_synapses,
                                n_synapses, "every hidden layer"))
    if hidden_layers:
        _window(found, chip, "input_window", hidden_layers[0],
                f"layer {names[0]!r} receives the inputs")
        _window(found, chip, "output_window", hidden_layers[-1],
                f"layer {names[-1]!r} feeds the readout")
        fanout = max(hidden_layers[1:], default=0) * n_synapses
        if chip.max_fanout is not None and fanout > chip.max_fanout:
            k = 1 + list(hidden_layers[1:]).index(max(hidden_layers[1:]))
            found.append(_violation(chip, "max_fanout", "recurrent_fanout", chip.max_fanout,
                                    fanout, f"each neuron of {names[k - 1]!r} → {names[k]!r}"))
        total = sum(a * b for a, b in zip(hidden_layers, hidden_layers[1:], strict=False))
        _total(found, chip, total * n_synapses, "hidden → hidden weights of the dense layers")
    return DesignReport(chip, tuple(found))


def smallest_target(
    n_inputs: int, hidden_layers: Sequence[int], n_outputs: int,
    candidates: Sequence[str] = AUDIO_FAMILY,
) -> tuple[str | None, dict[str, DesignReport]]:
    """The first of ``candidates`` (smallest first) that holds a feed-forward SynNet of these
    sizes, or None; and every candidate's :func:`check_layout` report (why the smaller ones
    do not hold it, or what breaks on each)."""
    reports = {name: check_layout(n_inputs, hidden_layers, n_outputs, name)
               for name in candidates}
    chosen = next((name for name in candidates if reports[name].fits), None)
    return chosen, reports


REQUIRED_KEYS = ("weights_in", "weights_out")
"""The specification keys without a default in ``XyloSim.from_specification``."""


def check_design(design: Any, target: str | Target = DEFAULT_TARGET) -> DesignReport:
    """Every rule of ``target`` that ``design`` breaks.

    Args:
        design: a dict of ``XyloSim.from_specification`` keyword arguments (numpy, torch or
            lists), a ``XyloSpec``, or a network with ``to_xylo`` (e.g. a SynNet; its
            quantised spec is checked, named by layer).
        target: ``"xylo-audio2"`` (default), ``"xylo-audio3"`` or ``"xylo-imu"``.
    """
    chip = get_target(target)
    if hasattr(design, "to_xylo"):
        layers = [(name, int(layer.n_neurons)) for name, layer in
                  zip(design.lif_names[:-1], design.neuron_layers()[:-1], strict=True)]
        return check_specification(design.to_xylo(target=chip.name, check=False), chip, layers)
    if isinstance(design, dict):
        return check_specification(design, chip)
    if not dataclasses.is_dataclass(design) or isinstance(design, type):
        raise TypeError(
            "design must be a dict of XyloSim.from_specification arguments, a XyloSpec or a "
            f"network with to_xylo (e.g. a SynNet); got {type(design).__name__}")
    spec = {field.name: getattr(design, field.name) for field in dataclasses.fields(design)}
    spec["dash_syn_2"] = _array(spec["dash_syn"])[:, 1]
    spec["dash_syn"] = _array(spec["dash_syn"])[:, 0]
    return check_specification(spec, chip)


def check_specification(
    spec: dict[str, Any], target: str | Target = DEFAULT_TARGET,
    layers: Sequence[tuple[str, int]] | None = None,
) -> DesignReport:
    """:func:`check_design` of a specification dict; ``layers`` (name, size) of the hidden
    layers in order, when known, name the neurons in the report."""
    chip = get_target(target)
    missing = [key for key in REQUIRED_KEYS if key not in spec]
    if missing:
        raise ValueError(f"the specification has no {', '.join(missing)} "
                         f"(XyloSim.from_specification needs {' and '.join(REQUIRED_KEYS)})")
    return DesignReport(chip, tuple(_spec_violations(spec, chip, list(layers or []) or None)))


def _violation(chip: Target, limit_name: str, rule: str, limit: Any, found: Any,
               where: str, severity: str = "error") -> Violation:
    return Violation(rule, severity, str(limit), str(found), where,
                     chip.sources.get(limit_name, chip.chip))


def _counts(found: list[Violation], chip: Target, n_in: int, n_hidden: int, n_out: int,
            where_hidden: str) -> None:
    if n_in > chip.max_inputs:
        found.append(_violation(chip, "max_inputs", "input_channels", chip.max_inputs, n_in,
                                "the input layer"))
    if n_hidden > chip.max_hidden:
        found.append(_violation(chip, "max_hidden", "hidden_neurons", chip.max_hidden, n_hidden,
                                f"all hidden layers ({where_hidden})"))
    if n_out > chip.max_outputs:
        found.append(_violation(chip, "max_outputs", "output_neurons", chip.max_outputs, n_out,
                                "the readout"))
    elif chip.warn_outputs is not None and n_out > chip.warn_outputs:
        found.append(_violation(chip, "warn_outputs", "output_neurons", chip.warn_outputs, n_out,
                                "the readout", severity="warning"))


def _window(found: list[Violation], chip: Target, name: str, size: int, where: str) -> None:
    limit = getattr(chip, name)
    if limit is not None and size > limit:
        found.append(_violation(chip, name, name, limit, size, where))


def _total(found: list[Violation], chip: Target, total: int, where: str) -> None:
    if chip.max_recurrent is not None and total > chip.max_recurrent:
        found.append(_violation(chip, "max_recurrent", "recurrent_total", chip.max_recurrent,
                                total, where))


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _neuron_name(index: int, layers: list[tuple[str, int]] | None) -> str:
    if layers:
        start = 0
        for name, size in layers:
            if index < start + size:
                return f"hidden neuron {index} ({name!r} neuron {index - start})"
            start += size
    return f"hidden neuron {index}"


def _values(found: list[Violation], chip: Target, name: str, value: Any,
            bounds: tuple[int, int], rule: str) -> None:
    """Integer values within ``bounds``; reports the count outside and the first place."""
    array = _array(value)
    if array.size == 0:
        return
    if array.dtype.kind == "f" and not np.all(np.isfinite(array) & (array == np.round(array))):
        bad = np.argwhere(~(np.isfinite(array) & (array == np.round(array))))
        found.append(Violation("integer_values", "error", "integers",
                               f"{len(bad)} non-integer value(s), first {array[tuple(bad[0])]}",
                               f"{name}{list(bad[0])}", _STORAGE))
        return
    if array.dtype.kind not in "fiub":
        found.append(Violation("integer_values", "error", "integers", str(array.dtype), name,
                               _STORAGE))
        return
    outside = np.argwhere((array < bounds[0]) | (array > bounds[1]))
    if len(outside):
        first = tuple(outside[0])
        found.append(Violation(rule, "error", f"{bounds[0]}..{bounds[1]}",
                               f"{len(outside)} value(s) outside, first {array[first]}",
                               f"{name}{list(first) if array.ndim else ''}", _STORAGE))


def _spec_violations(spec: dict[str, Any], chip: Target,
                     layers: list[tuple[str, int]] | None) -> list[Violation]:
    found: list[Violation] = []
    w_in = _array(spec["weights_in"])
    w_out = _array(spec["weights_out"])
    w_rec = None if spec.get("weights_rec") is None else _array(spec["weights_rec"])
    if w_in.ndim == 2:
        w_in = w_in[:, :, None]
    if w_rec is not None and w_rec.ndim == 2:
        w_rec = w_rec[:, :, None]
    n_hidden = int(w_rec.shape[0]) if w_rec is not None else int(w_in.shape[1])
    n_out = int(w_out.shape[1]) if w_out.ndim == 2 else 0
    where_hidden = (", ".join(f"{name} {size}" for name, size in layers) if layers
                    else "weights_rec")
    _counts(found, chip, int(w_in.shape[0]), n_hidden, n_out, where_hidden)

    for name, weights in (("weights_in", w_in), ("weights_rec", w_rec)):
        if weights is None:
            continue
        if weights.shape[2] > chip.max_synapses:
            used = np.argwhere(np.any(weights[:, :, chip.max_synapses:] != 0, axis=(0, 2)))
            if len(used):
                found.append(_violation(
                    chip, "max_synapses", "synapses_per_neuron", chip.max_synapses,
                    f"{weights.shape[2]} ({len(used)} neuron(s) use synapse "
                    f"{chip.max_synapses + 1})",
                    f"{name}[:, {_neuron_name(int(used[0][0]), layers)}, {chip.max_synapses}]"))
        _values(found, chip, name, weights, INT8, "weight_range")
    _values(found, chip, "weights_out", w_out, INT8, "weight_range")

    if w_in.shape[1] > n_hidden:
        found.append(_violation(chip, "max_hidden", "input_columns", n_hidden, w_in.shape[1],
                                "weights_in targets more hidden neurons than the network has"))
    receiving = np.flatnonzero(np.any(w_in != 0, axis=(0, 2)))
    if len(receiving):
        _window(found, chip, "input_window", int(receiving[-1]) + 1,
                f"weights_in reaches {_neuron_name(int(receiving[-1]), layers)}")
    if w_out.shape[0] > n_hidden:
        found.append(_violation(chip, "max_hidden", "readout_rows", n_hidden, w_out.shape[0],
                                "weights_out has more rows than there are hidden neurons"))
    feeding = (np.flatnonzero(np.any(w_out != 0, axis=1)) if w_out.ndim == 2
               else np.zeros(0, dtype=int))
    if len(feeding):
        first = n_hidden - w_out.shape[0] + int(feeding[0])
        _window(found, chip, "output_window", n_hidden - first,
                f"weights_out is fed from {_neuron_name(first, layers)} on")
    if w_rec is not None:
        fanout = np.count_nonzero(w_rec, axis=(1, 2))
        if chip.max_fanout is not None and fanout.size and fanout.max() > chip.max_fanout:
            worst = int(np.argmax(fanout))
            found.append(_violation(
                chip, "max_fanout", "recurrent_fanout", chip.max_fanout,
                f"{int(fanout.max())} ({int(np.sum(fanout > chip.max_fanout))} neuron(s) over)",
                f"weights_rec row of {_neuron_name(worst, layers)}"))
        _total(found, chip, int(np.count_nonzero(w_rec)), "weights_rec")

    for name, size in (("threshold", n_hidden), ("bias", n_hidden), ("dash_mem", n_hidden),
                       ("dash_syn", n_hidden), ("dash_syn_2", n_hidden),
                       ("threshold_out", n_out), ("bias_out", n_out),
                       ("dash_mem_out", n_out), ("dash_syn_out", n_out)):
        if spec.get(name) is None:
            continue
        value = _array(spec[name])
        if value.size != size:
            found.append(Violation("shape", "error", f"{size} values", f"{value.size}", name,
                                   "one value per neuron"))
        bounds = SHIFT_RANGE if name.startswith("dash") else INT16_RANGE
        _values(found, chip, name, value,
                bounds, "dash_range" if name.startswith("dash")
                else f"{name.removesuffix('_out')}_range")
    for name in ("weight_shift_in", "weight_shift_rec", "weight_shift_out"):
        if spec.get(name) is not None:
            _values(found, chip, name, spec[name], SHIFT_RANGE, "weight_shift_range")
    _aliases(found, spec.get("aliases"), n_hidden, layers)
    return found


def _aliases(found: list[Violation], aliases: Any, n_hidden: int,
             layers: list[tuple[str, int]] | None) -> None:
    if aliases is None:
        return
    if len(aliases) > n_hidden:
        found.append(Violation("aliases", "error", f"{n_hidden} entries", str(len(aliases)),
                               "aliases", "one list per hidden neuron"))
    for source, targets in enumerate(aliases):
        for alias in targets:
            if not (isinstance(alias, (int, np.integer)) and 0 <= int(alias) < n_hidden):
                found.append(Violation("aliases", "error", f"a hidden neuron 0..{n_hidden - 1}",
                                       repr(alias), f"aliases of {_neuron_name(source, layers)}",
                                       "aliases copy spikes between hidden neurons"))
