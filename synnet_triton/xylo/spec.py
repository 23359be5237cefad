"""Validated integer configuration of a Xylo network (every Xylo SNN core stores the same
ranges; sizes are checked by :mod:`synnet_triton.xylo.design`).

`XyloSpec.from_arguments` takes the keyword arguments of Rockpool 3.1's
`rockpool.devices.xylo.syns61201.XyloSim.from_specification`, with the same defaults (note that
those defaults are 0 for every dash and threshold, although Rockpool's docstring says 1), checks
every value against the ranges that `xylosim.v2` stores it in, and returns torch integer tensors
in one fixed layout: hidden neurons always have two synaptic states, like the chip.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from synnet_triton.xylo.chip import INT8_RANGE, INT16_RANGE, SHIFT_RANGE

OUTPUT_MODES = ("Spike", "Vmem", "Isyn")
TENSOR_FIELDS = ("weights_in", "weights_rec", "weights_out", "dash_mem", "dash_syn", "threshold",
                 "bias", "dash_mem_out", "dash_syn_out", "threshold_out", "bias_out")
"""The `XyloSpec` fields that are tensors."""


@dataclass(frozen=True)
class XyloSpec:
    """A complete, range-checked Xylo Audio 2 configuration (all tensors int64, on the CPU
    from ``from_arguments``; ``with_values`` keeps the device of its values).

    Shapes, with Nin inputs, N hidden neurons, Noen hidden neurons feeding the readout (the last
    Noen hidden neurons) and Nout output neurons:

    weights_in:    (Nin, N, 2)   input → hidden synapse 1 / 2, int8 values
    weights_rec:   (N, N, 2)     hidden → hidden synapse 1 / 2, int8 values
    weights_out:   (Noen, Nout)  hidden neuron N − Noen + r → output neuron, int8 values
    dash_mem:      (N,)          membrane bit-shift decay of hidden neurons, 0–15
    dash_syn:      (N, 2)        synaptic bit-shift decays of hidden neurons, 0–15
    threshold:     (N,)          hidden thresholds, int16 values
    bias:          (N,)          hidden biases, int16 values
    dash_mem_out:  (Nout,)       output membrane decays, 0–15
    dash_syn_out:  (Nout,)       output synaptic decays, 0–15
    threshold_out: (Nout,)       output thresholds, int16 values
    bias_out:      (Nout,)       output biases, int16 values
    weight_shift_in / _rec / _out: left shifts applied to each weight before it is added, 0–15
    aliases:       per hidden neuron, the hidden neurons that copy its spikes
    """

    weights_in: Tensor
    weights_rec: Tensor
    weights_out: Tensor
    dash_mem: Tensor
    dash_syn: Tensor
    threshold: Tensor
    bias: Tensor
    dash_mem_out: Tensor
    dash_syn_out: Tensor
    threshold_out: Tensor
    bias_out: Tensor
    weight_shift_in: int
    weight_shift_rec: int
    weight_shift_out: int
    aliases: tuple[tuple[int, ...], ...]
    dt: float
    output_mode: str

    @property
    def n_inputs(self) -> int:
        """Number of input channels Nin."""
        return int(self.weights_in.shape[0])

    @property
    def n_hidden(self) -> int:
        """Number of hidden neurons N."""
        return int(self.weights_rec.shape[0])

    @property
    def n_readout_sources(self) -> int:
        """Number Noen of (last) hidden neurons connected to the readout."""
        return int(self.weights_out.shape[0])

    @property
    def n_outputs(self) -> int:
        """Number of output neurons Nout."""
        return int(self.weights_out.shape[1])

    @classmethod
    def from_arguments(
        cls,
        weights_in: Any,
        weights_out: Any,
        weights_rec: Any = None,
        dash_mem: Any = None,
        dash_mem_out: Any = None,
        dash_syn: Any = None,
        dash_syn_2: Any = None,
        dash_syn_out: Any = None,
        threshold: Any = None,
        threshold_out: Any = None,
        bias: Any = None,
        bias_out: Any = None,
        weight_shift_in: int = 0,
        weight_shift_rec: int = 0,
        weight_shift_out: int = 0,
        aliases: Sequence[Sequence[int]] | None = None,
        dt: float = 1e-3,
        output_mode: str = "Spike",
    ) -> XyloSpec:
        """Check Rockpool-style specification arguments and build a `XyloSpec`.

        Array arguments may be numpy arrays, torch tensors or nested lists of integers. Any
        size is simulated exactly; whether a chip can hold it is
        :func:`synnet_triton.xylo.design.check_design`'s question.

        Raises:
            TypeError: an array argument holds non-integer values (e.g. unquantised floats), or a
                scalar argument has the wrong type.
            ValueError: a shape is inconsistent or a value is outside the range Xylo stores it in.
        """
        w_in = _integer_array("weights_in", weights_in, INT8_RANGE)
        if w_in.ndim == 2:
            w_in = w_in[:, :, None]
        if w_in.ndim != 3 or w_in.shape[2] not in (1, 2):
            raise ValueError(
                f"weights_in must have shape (Nin, Nhidden) or (Nin, Nhidden, 1 or 2); "
                f"got {tuple(w_in.shape)}"
            )
        n_in, n_input_targets = int(w_in.shape[0]), int(w_in.shape[1])

        w_out = _integer_array("weights_out", weights_out, INT8_RANGE)
        if w_out.ndim != 2:
            raise ValueError(f"weights_out must have shape (Noen, Nout); got {tuple(w_out.shape)}")

        if weights_rec is None:
            n_hidden = n_input_targets
            w_rec = torch.zeros((n_hidden, n_hidden, 2), dtype=torch.int64)
        else:
            w_rec = _integer_array("weights_rec", weights_rec, INT8_RANGE)
            if w_rec.ndim == 2:
                w_rec = w_rec[:, :, None]
            if w_rec.ndim != 3 or w_rec.shape[0] != w_rec.shape[1] or w_rec.shape[2] not in (1, 2):
                raise ValueError(
                    f"weights_rec must have shape (N, N) or (N, N, 1 or 2); "
                    f"got {tuple(w_rec.shape)}"
                )
            n_hidden = int(w_rec.shape[0])
        if n_input_targets > n_hidden:
            raise ValueError(
                f"weights_in targets {n_input_targets} hidden neurons but weights_rec has only "
                f"{n_hidden}"
            )
        if w_out.shape[0] > n_hidden:
            raise ValueError(
                f"weights_out has {w_out.shape[0]} source rows but there are only {n_hidden} "
                "hidden neurons"
            )
        n_out = int(w_out.shape[1])
        if n_hidden == 0 or n_out == 0:
            raise ValueError(
                f"the network needs at least one hidden and one output neuron; got {n_hidden} "
                f"hidden and {n_out} output neurons"
            )

        w_in_full = torch.zeros((n_in, n_hidden, 2), dtype=torch.int64)
        w_in_full[:, :n_input_targets, : w_in.shape[2]] = w_in
        w_rec_full = torch.zeros((n_hidden, n_hidden, 2), dtype=torch.int64)
        w_rec_full[:, :, : w_rec.shape[2]] = w_rec

        def per_neuron(name: str, value: Any, size: int, bounds: tuple[int, int]) -> Tensor:
            if value is None:
                return torch.zeros(size, dtype=torch.int64)
            array = _integer_array(name, value, bounds)
            if tuple(array.shape) != (size,):
                raise ValueError(f"{name} must have shape ({size},); got {tuple(array.shape)}")
            return array

        spec = cls(
            weights_in=w_in_full,
            weights_rec=w_rec_full,
            weights_out=w_out,
            dash_mem=per_neuron("dash_mem", dash_mem, n_hidden, SHIFT_RANGE),
            dash_syn=torch.stack(
                [
                    per_neuron("dash_syn", dash_syn, n_hidden, SHIFT_RANGE),
                    per_neuron("dash_syn_2", dash_syn_2, n_hidden, SHIFT_RANGE),
                ],
                dim=1,
            ),
            threshold=per_neuron("threshold", threshold, n_hidden, INT16_RANGE),
            bias=per_neuron("bias", bias, n_hidden, INT16_RANGE),
            dash_mem_out=per_neuron("dash_mem_out", dash_mem_out, n_out, SHIFT_RANGE),
            dash_syn_out=per_neuron("dash_syn_out", dash_syn_out, n_out, SHIFT_RANGE),
            threshold_out=per_neuron("threshold_out", threshold_out, n_out, INT16_RANGE),
            bias_out=per_neuron("bias_out", bias_out, n_out, INT16_RANGE),
            weight_shift_in=_integer_scalar("weight_shift_in", weight_shift_in, SHIFT_RANGE),
            weight_shift_rec=_integer_scalar(
                "weight_shift_rec", weight_shift_rec, SHIFT_RANGE
            ),
            weight_shift_out=_integer_scalar(
                "weight_shift_out", weight_shift_out, SHIFT_RANGE
            ),
            aliases=_aliases(aliases, n_hidden),
            dt=_positive_float("dt", dt),
            output_mode=_output_mode(output_mode),
        )
        return spec


    def with_values(self, weights_in: Tensor, weights_rec: Tensor, weights_out: Tensor,
                    threshold: Tensor, threshold_out: Tensor, bias: Tensor, bias_out: Tensor,
                    ) -> XyloSpec:
        """This spec with new integer values of the same sizes (any device, any integer-valued
        dtype), laid out as ``from_arguments`` lays them out; dashes, shifts, aliases kept.

        Unchecked: for values a quantiser has just produced in Xylo's ranges (hardware-exact
        training refreshes its simulator so every step, on the parameters' device). weights_in
        (Nin, N_in, S) reaches the first N_in hidden neurons, weights_rec is (N, N, S); S ≤ 2.
        """
        n_hidden = self.n_hidden
        device = weights_in.device

        def full(weights: Tensor, rows: int) -> Tensor:
            weights = weights if weights.ndim == 3 else weights[:, :, None]
            laid = torch.zeros((rows, n_hidden, 2), dtype=torch.int64, device=device)
            laid[:, : weights.shape[1], : weights.shape[2]] = weights.to(torch.int64)
            return laid

        def on_device(value: Tensor) -> Tensor:
            return value.to(device=device, dtype=torch.int64)

        return replace(
            self, weights_in=full(weights_in, self.n_inputs),
            weights_rec=full(weights_rec, n_hidden), weights_out=on_device(weights_out),
            threshold=on_device(threshold), threshold_out=on_device(threshold_out),
            bias=on_device(bias), bias_out=on_device(bias_out),
            dash_mem=on_device(self.dash_mem), dash_syn=on_device(self.dash_syn),
            dash_mem_out=on_device(self.dash_mem_out), dash_syn_out=on_device(self.dash_syn_out))


def _integer_array(name: str, value: Any, bounds: tuple[int, int]) -> Tensor:
    """Convert ``value`` to an int64 CPU tensor, rejecting non-integers and out-of-range values."""
    if isinstance(value, Tensor):
        array = value.detach().cpu()
        is_integer = not (array.is_floating_point() or array.is_complex())
    else:
        try:
            as_numpy = np.asarray(value)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{name} must be an integer array; got {type(value).__name__}"
            ) from error
        is_integer = as_numpy.dtype.kind in "iub"
        array = torch.from_numpy(as_numpy.astype(np.int64)) if is_integer else torch.empty(0)
    if not is_integer:
        raise TypeError(
            f"{name} must hold integers (quantise float parameters first, e.g. with "
            f"synnet_triton.xylo.global_quantize); got dtype "
            f"{value.dtype if hasattr(value, 'dtype') else type(value).__name__}"
        )
    array = array.to(torch.int64)
    low, high = bounds
    if array.numel() and (int(array.min()) < low or int(array.max()) > high):
        raise ValueError(
            f"{name} values must lie in [{low}, {high}]; got values in "
            f"[{int(array.min())}, {int(array.max())}]"
        )
    return array


def _integer_scalar(name: str, value: Any, bounds: tuple[int, int]) -> int:
    """Check that ``value`` is an integer within ``bounds`` and return it as ``int``."""
    if isinstance(value, (bool, float)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__} {value!r}")
    low, high = bounds
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}]; got {value}")
    return int(value)


def _positive_float(name: str, value: Any) -> float:
    """Check that ``value`` is a positive real number and return it as ``float``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number; got {type(value).__name__}")
    if not float(value) > 0.0:
        raise ValueError(f"{name} must be positive; got {value}")
    return float(value)


def _output_mode(value: Any) -> str:
    """Check the readout mode name."""
    if value not in OUTPUT_MODES:
        raise ValueError(f"output_mode must be one of {OUTPUT_MODES}; got {value!r}")
    return str(value)


def _aliases(aliases: Sequence[Sequence[int]] | None, n_hidden: int) -> tuple[tuple[int, ...], ...]:
    """Check the alias lists: one list per hidden neuron of target hidden neuron indices."""
    if aliases is None:
        return tuple(() for _ in range(n_hidden))
    if len(aliases) != n_hidden:
        raise ValueError(
            f"aliases must hold one list per hidden neuron ({n_hidden}); got {len(aliases)}"
        )
    checked = []
    for source, targets in enumerate(aliases):
        row = []
        for target in targets:
            if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
                raise TypeError(
                    f"aliases[{source}] must hold integer neuron indices; got {target!r}"
                )
            if not 0 <= int(target) < n_hidden:
                raise ValueError(
                    f"aliases[{source}] targets neuron {target}, outside [0, {n_hidden - 1}]"
                )
            row.append(int(target))
        checked.append(tuple(row))
    return tuple(checked)
