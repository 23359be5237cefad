"""Rockpool's post-training quantisers of a float Xylo spec, on torch tensors.

`global_quantize` and `channel_quantize` reproduce ``rockpool.transform.quantize_methods`` 3.1
value for value, including their quirks (noted where they act). Both run on float64 torch
tensors with a pluggable rounding: :func:`torch.round` for deployment (the numpy wrappers that
`synnet_specification` calls), or a straight-through rounding that keeps the autograd graph, so
hardware-exact training (:mod:`synnet_triton.hardware`) quantises with the very same arithmetic
and its integers are those of ``to_xylo`` by construction.

Straight-through rules, when the rounding is straight-through: every value is a product of a
float parameter with scales, then rounded (once, or twice where a threshold overflows int16 and
its row is rescaled); the scales are held constant in the backward (they are computed from
detached maxima), so ∂q/∂w is the product of the scales applied to w.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

Rounding = Callable[[Tensor], Tensor]

WEIGHT_KEYS = ("weights_in", "weights_rec", "weights_out")
VALUE_KEYS = (*WEIGHT_KEYS, "threshold", "threshold_out", "bias", "bias_out")
DASH_KEYS = ("dash_mem", "dash_mem_out", "dash_syn", "dash_syn_2", "dash_syn_out")


class _StraightThroughRound(torch.autograd.Function):
    """round half to even in the forward, identity in the backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad


def straight_through_round(x: Tensor) -> Tensor:
    """``torch.round(x)`` (half to even, as numpy's) whose gradient is the identity."""
    return _StraightThroughRound.apply(x)


def _as_3d(weights: Tensor) -> Tensor:
    """(…, N) → (…, N, 1); (…, N, S) unchanged."""
    return weights[..., None] if weights.ndim == 2 else weights


def _required(values: dict[str, Tensor | None], key: str) -> Tensor:
    value = values.get(key)
    if value is None:
        raise ValueError(f"the spec must hold {key!r}")
    return value


def _largest(*values: Tensor | None) -> float:
    """max(0, max |v| over every given tensor), detached (the quantiser's scale is constant)."""
    largest = 0.0
    for value in values:
        if value is not None and value.numel():
            largest = max(largest, float(value.detach().abs().max()))
    return largest


def rounded_dashes(spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """All dashes rounded half to even and cast to int, as both Rockpool quantisers do."""
    return {
        name: np.round(np.asarray(spec[name], dtype=np.float64)).astype(int) for name in DASH_KEYS
    }


def global_quantize_tensors(
    values: dict[str, Tensor | None],
    rounding: Rounding = torch.round,
    fuzzy_scaling: bool = False,
    bits_per_weight: int = 8,
    bits_per_threshold: int = 16,
) -> dict[str, Tensor]:
    """Rockpool 3.1 ``global_quantize`` on float64 tensors: one scale for input + recurrent
    weights and one for the readout.

    values: ``weights_in`` (Nin, N[, S]), ``weights_rec`` (N, N[, S]), ``weights_out``
            (N, Nout), ``threshold`` (N,), ``threshold_out`` (Nout,), ``bias`` (N,) or None,
            ``bias_out`` (Nout,) or None
    returns the same keys (None biases left out) as integer-valued float64 tensors, weights
            with a synapse axis

    scale = (2^(bits−1) − 1) / max |w| (max over weights_in, weights_rec and bias; readout:
    weights_out and bias_out), or |mean| + 2·std of the non-zero weights with ``fuzzy_scaling``.
    Rockpool's quirks are kept: ``bias_out`` is scaled with the hidden scale; when the readout
    thresholds overflow, the readout *and recurrent* weights are rescaled.
    """
    w_in, w_rec = _as_3d(_required(values, "weights_in")), _as_3d(_required(values, "weights_rec"))
    w_out = _required(values, "weights_out")
    bias, bias_out = values.get("bias"), values.get("bias_out")
    largest_weight = 2 ** (bits_per_weight - 1) - 1
    largest_threshold = 2 ** (bits_per_threshold - 1) - 1

    if fuzzy_scaling:
        # numpy's mean and std, on the detached values, as Rockpool computes them
        hidden = np.concatenate([w_in.detach().cpu().numpy().ravel(),
                                 w_rec.detach().cpu().numpy().ravel()])
        hidden = hidden[hidden != 0]
        readout = w_out.detach().cpu().numpy().ravel()
        readout = readout[readout != 0]
        max_w = float(np.abs(hidden.mean()) + 2 * hidden.std())
        max_w_out = float(np.abs(readout.mean()) + 2 * readout.std())
    else:
        max_w = _largest(w_in, w_rec, bias)
        max_w_out = _largest(w_out, bias_out)
    scale = largest_weight / max_w if max_w != 0 else 1
    scale_out = largest_weight / max_w_out if max_w_out != 0 else 1

    weights_in = rounding(w_in * scale)
    weights_rec = rounding(w_rec * scale)
    weights_out = rounding(w_out * scale_out)
    # what the shared scale alone erases (the threshold rescale below is Rockpool's own step)
    for name, before, after, largest_w in (("weights_in", w_in, weights_in, max_w),
                                           ("weights_rec", w_rec, weights_rec, max_w),
                                           ("weights_out", w_out, weights_out, max_w_out)):
        _warn_if_scale_erases(name, before, after, largest_w)
    threshold = rounding(_required(values, "threshold") * scale)
    threshold_out = rounding(_required(values, "threshold_out") * scale_out)
    quantised: dict[str, Tensor] = {}
    if bias is not None:
        quantised["bias"] = rounding(bias * scale)
    if bias_out is not None:
        # Rockpool scales the readout biases with the hidden scale.
        quantised["bias_out"] = rounding(bias_out * scale)

    largest = float(threshold.detach().max())
    if abs(largest) > largest_threshold:
        limit = largest_threshold / largest
        threshold = rounding(threshold * limit)
        weights_in = rounding(weights_in * limit)
        weights_rec = rounding(weights_rec * limit)
    largest = float(threshold_out.detach().max())
    if abs(largest) > largest_threshold:
        limit = largest_threshold / largest
        threshold_out = rounding(threshold_out * limit)
        weights_out = rounding(weights_out * limit)
        # Rockpool also rescales the recurrent weights here.
        weights_rec = rounding(weights_rec * limit)

    quantised.update(
        weights_in=weights_in, weights_rec=weights_rec, weights_out=weights_out,
        threshold=threshold, threshold_out=threshold_out,
    )
    return quantised


ERASED_SHARE = 0.5
"""Share of a weight matrix's non-zero weights rounded to 0 above which global quantisation
warns: typical SynNet weights lose well under 1 % that way; an outlier that sets the shared
scale erases most of them."""


def _warn_if_scale_erases(name: str, before: Tensor, after: Tensor, largest: float) -> None:
    nonzero = before != 0
    total = int(nonzero.sum())
    erased = int((nonzero & (after == 0)).sum())
    if total and erased > ERASED_SHARE * total:
        warnings.warn(
            f"global quantisation rounds {erased} of {total} non-zero {name} to 0: one scale "
            f"serves every weight of the layer group and the largest magnitude ({largest:.3g}) "
            "sets it; channel quantisation (quantize='channel') scales each neuron on its own",
            stacklevel=3,
        )


def _channel_scale(largest: Tensor, largest_weight: int) -> tuple[Tensor, Tensor]:
    """Per-channel scale (largest_weight / max |w|) and whether the channel has weights."""
    has_weights = largest != 0
    return torch.where(has_weights, largest_weight / largest, 1.0), has_weights


def channel_quantize_tensors(
    values: dict[str, Tensor | None],
    rounding: Rounding = torch.round,
    bits_per_weight: int = 8,
    bits_per_threshold: int = 16,
) -> dict[str, Tensor]:
    """Rockpool 3.1 ``channel_quantize`` on float64 tensors: one scale per target neuron.

    values and returns as :func:`global_quantize_tensors`.

    For hidden neuron j the scale is (2^(bits−1) − 1) / max |weights onto j| (input and
    recurrent), applied to those weights and θ_j; readout neuron o uses max |weights_out[:, o]|
    for its weights, θ and bias. A threshold beyond int16 is set to the largest value and its
    weights rescaled from the float values. Rockpool's quirks are kept: hidden biases are scaled
    only when weights have two synapses (otherwise just rounded), and are not rescaled with an
    overflowing threshold; a neuron without weights keeps its rounded float threshold.
    """
    w_in, w_rec = _as_3d(_required(values, "weights_in")), _as_3d(_required(values, "weights_rec"))
    w_out, threshold = _required(values, "weights_out"), _required(values, "threshold")
    threshold_out = _required(values, "threshold_out")
    bias, bias_out = values.get("bias"), values.get("bias_out")
    largest_weight = 2 ** (bits_per_weight - 1) - 1
    largest_threshold = 2 ** (bits_per_threshold - 1) - 1
    n_input_targets, n_syn = w_in.shape[1], w_in.shape[2]

    # hidden neurons: the scale of column j covers its recurrent weights and, for the first
    # n_input_targets neurons, its input weights
    largest = w_rec.detach().abs().amax(dim=(0, 2)) if w_rec.numel() else threshold.new_zeros(
        threshold.shape)
    if w_in.numel():
        largest[:n_input_targets] = torch.maximum(
            largest[:n_input_targets], w_in.detach().abs().amax(dim=(0, 2)))
    scale, has_weights = _channel_scale(largest, largest_weight)
    w_rec_q = rounding(w_rec * scale[None, :, None])
    w_in_q = rounding(w_in * scale[None, :n_input_targets, None])
    threshold_q = rounding(threshold * torch.where(has_weights, scale, 1.0))
    if bias is not None and n_syn > 1:
        bias = torch.where(has_weights, rounding(bias * scale), bias)
    overflow = has_weights & (threshold_q.detach().abs() > largest_threshold)
    if bool(overflow.any()):
        limit = torch.where(overflow, largest_threshold / threshold.detach(), 1.0)
        threshold_q = torch.where(overflow, rounding(threshold * limit), threshold_q)
        w_rec_q = torch.where(overflow[None, :, None], rounding(w_rec * limit[None, :, None]),
                              w_rec_q)
        input_overflow = overflow[:n_input_targets]
        w_in_q = torch.where(input_overflow[None, :, None],
                             rounding(w_in * limit[None, :n_input_targets, None]), w_in_q)

    # readout neurons: one scale per column of weights_out
    largest_out = w_out.detach().abs().amax(dim=0) if w_out.shape[0] else threshold_out.new_zeros(
        threshold_out.shape)
    scale_out, has_out = _channel_scale(largest_out, largest_weight)
    w_out_q = rounding(w_out * scale_out)
    threshold_out_q = rounding(threshold_out * torch.where(has_out, scale_out, 1.0))
    if bias_out is not None:
        bias_out = torch.where(has_out, rounding(bias_out * scale_out), bias_out)
    overflow_out = has_out & (threshold_out_q.detach().abs() > largest_threshold)
    if bool(overflow_out.any()):
        limit_out = torch.where(overflow_out, largest_threshold / threshold_out.detach(), 1.0)
        threshold_out_q = torch.where(overflow_out, rounding(threshold_out * limit_out),
                                      threshold_out_q)
        w_out_q = torch.where(overflow_out, rounding(w_out * limit_out), w_out_q)

    quantised = {
        "weights_in": w_in_q, "weights_rec": w_rec_q, "weights_out": w_out_q,
        "threshold": threshold_q, "threshold_out": threshold_out_q,
    }
    if bias is not None:
        quantised["bias"] = rounding(bias)
    if bias_out is not None:
        quantised["bias_out"] = rounding(bias_out)
    return quantised


def _tensors(spec: dict[str, Any]) -> dict[str, Tensor | None]:
    """The spec's weights, thresholds and biases as float64 tensors (None stays None)."""
    return {
        key: None if spec.get(key) is None else torch.as_tensor(
            np.asarray(spec[key], dtype=np.float64))
        for key in VALUE_KEYS
    }


def _integers(spec: dict[str, Any], quantised: dict[str, Tensor]) -> dict[str, Any]:
    """A copy of ``spec`` with the quantised values as numpy int arrays and rounded dashes."""
    return {
        **spec,
        **{key: value.numpy().astype(int) for key, value in quantised.items()},
        **rounded_dashes(spec),
    }


def global_quantize(
    spec: dict[str, Any],
    fuzzy_scaling: bool = False,
    bits_per_weight: int = 8,
    bits_per_threshold: int = 16,
) -> dict[str, Any]:
    """Rockpool 3.1 ``global_quantize(**spec)`` (see :func:`global_quantize_tensors`).

    spec: a float spec with Rockpool's keys (e.g. from `synnet_float_specification`)
    returns a copy of ``spec`` with integer weights (with a synapse axis, (N, N, S) even for
    one synapse), thresholds, biases and dashes
    """
    quantised = global_quantize_tensors(
        _tensors(spec), torch.round, fuzzy_scaling, bits_per_weight, bits_per_threshold)
    return _integers(spec, quantised)


def channel_quantize(
    spec: dict[str, Any], bits_per_weight: int = 8, bits_per_threshold: int = 16
) -> dict[str, Any]:
    """Rockpool 3.1 ``channel_quantize(**spec)`` (see :func:`channel_quantize_tensors`).

    spec: a float spec with Rockpool's keys
    returns a copy of ``spec`` with integer weights, thresholds, biases and dashes
    """
    quantised = channel_quantize_tensors(
        _tensors(spec), torch.round, bits_per_weight, bits_per_threshold)
    return _integers(spec, quantised)
