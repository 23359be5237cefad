"""Test oracle: Xylo's integer loop written out literally, event by event, in float64 autograd.

Independent of ``synnet_triton.hardware``: it reads only the integer spec and follows
docs/design.md §6 step by step. The values are the chip's (each event added with int16
saturation, in xylosim's order); the gradients follow the straight-through rules that the
hardware module documents, each applied where its operation happens:

- a step's delivery onto a current (its input events, then the previous step's spikes) that
  saturation changed passes no gradient (to the carried current or the weights); otherwise
  the plain sum's gradient;
- the decay x − δ(x) keeps its linear part's gradient, (1 − 2^−d);
- every int16 clamp is ``torch.clamp`` (gradient 1 inside, bounds included, 0 outside);
- the spike count's gradient is Rockpool's PeriodicExponential with the window ``w · θ``,
  through u and θ; the reset v = u − n·θ is differentiated as written.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

LOW, HIGH = -32768.0, 32767.0


def _decay_value(x: Tensor, dash: Tensor) -> Tensor:
    shifted = torch.floor(x / 2.0**dash)
    return torch.where(shifted == 0, torch.sign(x), shifted)


def _straight_decay(x: Tensor, dash: Tensor) -> Tensor:
    """x − δ(x, d): the exact integer value, with the gradient of x · (1 − 2^−d)."""
    linear = x * (1 - 2.0**-dash)
    exact = x.detach() - _decay_value(x.detach(), dash)
    return linear + (exact - linear).detach()


def _surrogate(u: Tensor, theta: Tensor, window: float, cap: float) -> tuple[Tensor, Tensor]:
    """Rockpool's PeriodicExponential (∂n/∂u, ∂n/∂θ), window w·θ (docs/design.md §3)."""
    w = window * theta
    vs = u - theta / 2
    ns = torch.minimum(torch.floor(vs / theta), torch.as_tensor(cap - 1.0, dtype=u.dtype))
    v_hat = torch.where(u < theta, vs, vs - ns * theta)
    pdf = torch.exp(-(v_hat - theta / 2).abs() / w) / theta
    return pdf, -pdf * u / theta


def _spike(u: Tensor, theta: Tensor, window: float, cap: float) -> Tensor:
    """n = min(floor(u/θ), cap) for u ≥ θ > 0, with the surrogate's gradient in u and θ."""
    ud, td = u.detach(), theta.detach()
    exact = torch.clamp(torch.floor(ud / td), 0, cap)
    du, dtheta = _surrogate(ud, td, window, cap)
    return exact + du * (u - ud) + dtheta * (theta - td)


def _deliver(current: Tensor, counts: Tensor, weights: Tensor, limit: int) -> Tensor:
    """Add ``counts[b, c]`` events of ``weights[c]`` (C, …) to ``current`` (B, …), source
    after source, each event saturating; gradient: the plain sum's, or 0 where clipped."""
    exact = current.detach().clone()
    for c in range(weights.shape[0]):
        for e in range(limit):
            active = (counts[:, c] > e).to(exact.dtype).reshape(-1, *([1] * (exact.ndim - 1)))
            exact = torch.clamp(exact + active * weights[c].detach(), LOW, HIGH)
    plain = current + torch.einsum("bc,c...->b...", counts.to(current.dtype), weights)
    return torch.where(exact == plain.detach(), plain, exact)


def literal_xylo(spec: dict[str, Any], values: dict[str, Tensor], events: np.ndarray,
                 window: float, output_mode: str = "Spike") -> Tensor:
    """The chip's output (B, T, Nout) float64 on ``events`` (B, T, Nin), differentiable in the
    float64 ``values`` (weights_in (Nin, N_in, S), weights_rec (N, N, S), weights_out
    (Noen, Nout), threshold, bias, threshold_out, bias_out); dashes and shifts from ``spec``."""
    w_in, w_rec, w_out = values["weights_in"], values["weights_rec"], values["weights_out"]
    n_in, n_targets, n_syn = w_in.shape
    n_hidden = w_rec.shape[0]
    n_sources, n_out = w_out.shape
    w_in = torch.nn.functional.pad(w_in, (0, 0, 0, n_hidden - n_targets))
    w_in = w_in * 2.0 ** spec["weight_shift_in"]
    w_rec = w_rec * 2.0 ** spec["weight_shift_rec"]
    w_out_full = torch.zeros(n_hidden, n_out, dtype=torch.float64)
    w_out_full = w_out_full.index_put((torch.arange(n_hidden - n_sources, n_hidden),),
                                      w_out * 2.0 ** spec["weight_shift_out"])
    dash_syn = torch.as_tensor(np.stack([spec["dash_syn"], spec["dash_syn_2"]], 1)[:, :n_syn],
                               dtype=torch.float64)
    dash_mem = torch.as_tensor(spec["dash_mem"], dtype=torch.float64)
    dash_syn_out = torch.as_tensor(spec["dash_syn_out"], dtype=torch.float64)
    dash_mem_out = torch.as_tensor(spec["dash_mem_out"], dtype=torch.float64)
    theta, theta_out = values["threshold"], values["threshold_out"]
    bias, bias_out = values["bias"], values["bias_out"]
    counts_in = torch.as_tensor(np.minimum(events, 15), dtype=torch.float64)
    batch, steps, _ = counts_in.shape

    def evolve(i: Tensor, v: Tensor, dash_s: Tensor, dash_m: Tensor, b: Tensor, th: Tensor,
               cap: float) -> tuple[Tensor, Tensor, Tensor]:
        i = _straight_decay(i, dash_s)
        decay_linear = v * 2.0**-dash_m
        decay = _decay_value(v.detach(), dash_m)
        decay = torch.where(decay == LOW, -LOW, decay)
        dv = i.sum(-1) - (decay_linear + (decay - decay_linear).detach())
        dv = torch.clamp(torch.clamp(dv, LOW, HIGH) + b, LOW, HIGH)
        u = torch.clamp(v + dv, LOW, HIGH)
        assert bool((th > 0).all()), "the oracle models positive thresholds only"
        n = _spike(u, th, window, cap)
        return i, u - n * th, n

    i = torch.zeros(batch, n_hidden, n_syn, dtype=torch.float64)
    v = torch.zeros(batch, n_hidden, dtype=torch.float64)
    n = torch.zeros_like(v)
    i_out = torch.zeros(batch, n_out, 1, dtype=torch.float64)
    v_out = torch.zeros(batch, n_out, dtype=torch.float64)
    outputs = []
    for t in range(steps):
        # one delivery per step: input events (channels ascending), then the previous
        # step's hidden spikes (neurons ascending)
        i = _deliver(i, torch.cat([counts_in[:, t], n], 1), torch.cat([w_in, w_rec]), 31)
        i_out = _deliver(i_out, n, w_out_full[:, :, None], 31)
        i, v, n = evolve(i, v, dash_syn, dash_mem, bias, theta, 31.0)
        i_out, v_out, n_out_t = evolve(i_out, v_out, dash_syn_out[:, None], dash_mem_out,
                                       bias_out, theta_out, 1.0)
        outputs.append({"Spike": n_out_t, "Vmem": v_out, "Isyn": i_out[..., 0]}[output_mode])
    assert math.isfinite(float(torch.stack(outputs).detach().sum()))
    return torch.stack(outputs, dim=1)
