"""A SynNet trained through the Xylo chip's integer arithmetic.

:class:`HardwareSynNet` wraps a :class:`synnet_triton.nn.SynNet` and shares its parameters: the
SynNet's float weights, thresholds and biases are the trainable shadows. Each forward quantises
them in the autograd graph with the arithmetic of ``to_xylo`` (Rockpool's mapper and
``global_quantize`` / ``channel_quantize``, :mod:`synnet_triton.xylo.quantize`, with a
straight-through rounding) and runs Xylo's integer dynamics
(:func:`synnet_triton.hardware.dynamics.xylo_dynamics`), so its outputs are bitwise
``XyloSim.from_specification(**net.to_xylo())(events)``'s. After training, ``net.to_xylo()``
is the chip network whose accuracy training measured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from synnet_triton.hardware.dynamics import INTEGER_KEYS, xylo_dynamics
from synnet_triton.nn.synnet import SynNet
from synnet_triton.ops.dispatch import BACKENDS
from synnet_triton.xylo.chip import MAX_INPUT_EVENTS
from synnet_triton.xylo.mapping import synnet_float_specification
from synnet_triton.xylo.quantize import (
    VALUE_KEYS,
    channel_quantize_tensors,
    global_quantize_tensors,
    rounded_dashes,
    straight_through_round,
)
from synnet_triton.xylo.sim import XyloSim
from synnet_triton.xylo.targets import DEFAULT_TARGET, get_target

QUANTIZERS: dict[str, Callable[..., dict[str, Tensor]]] = {
    "global": global_quantize_tensors, "channel": channel_quantize_tensors,
}


class HardwareSynNet(nn.Module):
    """The Xylo chip's computation of a SynNet, trainable with surrogate gradients.

    Args:
        net: the SynNet whose parameters train (shared, not copied). Its hidden and readout
            time constants set the dashes (rounded as ``to_xylo`` rounds them; not trained).
        quantize: ``"global"`` or ``"channel"``, as ``SynNet.to_xylo``.
        target: the chip (``"xylo-audio2"``, ``"xylo-audio3"``, ``"xylo-imu"``); its design
            rules are checked here (``DesignError`` names every violation).
        window: PeriodicExponential window as a fraction of each neuron's integer threshold;
            default: the SynNet's ``learning_window`` (0.5 at SynNet's θ = 1 stays half a
            threshold wide after the threshold is scaled to integers).
        backend: how the chip simulation and the backward's sweeps run (``XyloSim``'s
            ``backend``): ``"auto"`` is one Triton launch per layer and Triton scans on CUDA,
            vectorised steps and numpy's loops on the CPU; ``"triton"`` or ``"torch"`` force
            one (the same integers and gradients either way).
        checkpoint_every: K keeps only the chip's state every K steps for the backward,
            which re-simulates each segment (memory O(T/K) instead of 8 bytes per
            neuron-step); default: the SynNet's own ``checkpoint_every``.

    Calling it: ``out = hw(x)`` with ``x`` (B, T, n_channels) or (T, n_channels) non-negative
    integer event counts (float or integer dtype; more than 15 per step are clipped, as on the
    chip) gives (B, T, n_classes) float32 on ``x``'s device: readout spike counts (0 or 1), or
    for ``output="vmem"`` the readout membrane, exactly Xylo's. Every hidden → hidden and
    hidden → readout link adds one step of delay, as on the chip. The simulation and its
    backward run on the device of the SynNet's parameters: on CUDA the forward is one Triton
    launch per layer (:mod:`synnet_triton.xylo.layers`) and the backward's sweeps are Triton
    scans; on the CPU the vectorised step loop and numpy's.

    The backward rules (straight-through rounding, linear decay, clamps, the surrogate) are
    tabled in :mod:`synnet_triton.hardware.dynamics`; the quantiser's scale is held constant.
    """

    def __init__(
        self,
        net: SynNet,
        quantize: str = "global",
        target: str = DEFAULT_TARGET,
        window: float | None = None,
        backend: str = "auto",
        checkpoint_every: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(net, SynNet):
            raise TypeError(
                f"net must be a synnet_triton.nn.SynNet; got {type(net).__name__} (convert a "
                "Rockpool SynNet with synnet_triton.rockpool.synnet_from_rockpool)"
            )
        if quantize not in QUANTIZERS:
            raise ValueError(f"quantize must be one of {tuple(QUANTIZERS)}; got {quantize!r}")
        self.synnet = net
        self.quantize = quantize
        self.target = get_target(target).name
        net.to_xylo(quantize, self.target)  # raises DesignError when the chip cannot hold it
        self.window = float(net.neuron_layers()[0].learning_window if window is None else window)
        if not self.window > 0:
            raise ValueError(f"window must be positive; got {self.window}")
        self.output_mode = "Vmem" if net.output == "vmem" else "Spike"
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        if checkpoint_every is None:
            checkpoint_every = net.neuron_layers()[0].checkpoint_every
        if checkpoint_every is not None and not (isinstance(checkpoint_every, int)
                                                 and checkpoint_every >= 1):
            raise ValueError(f"checkpoint_every must be a positive integer or None; got "
                             f"{checkpoint_every!r}")
        self.checkpoint_every = checkpoint_every
        self._simulation: dict[str, XyloSim] = {}
        """The simulator forward refreshes (a plain dict: not a submodule, not in the state)."""

    def _quantised(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """(values, float spec): ``VALUE_KEYS`` → integer-valued float64 tensors on the
        parameters' device carrying the autograd graph, and the mapped float spec (dashes
        unrounded)."""
        float_spec = synnet_float_specification(
            **self.synnet.xylo_layers(), dt=self.synnet.dt, target=self.target, keep_graph=True
        )
        values = QUANTIZERS[self.quantize](
            {key: float_spec[key] for key in VALUE_KEYS}, straight_through_round
        )
        return values, float_spec

    def integer_values(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """The quantised network: (values, spec).

        values: ``INTEGER_KEYS`` → integer-valued float64 tensors on the parameters' device,
                carrying the autograd graph to the SynNet's parameters
        spec:   the integer spec (numpy, on the host), equal to ``net.to_xylo(quantize, target)``
        """
        values, float_spec = self._quantised()
        return values, _host_spec(values, float_spec)

    def simulator(self) -> XyloSim:
        """A new bit-exact simulator of the network's current integer spec (CPU)."""
        return XyloSim.from_specification(
            **self.integer_values()[1], target=self.target, verify_config=False,
            output_mode=self.output_mode,
        )

    def _simulator_of(self, values: dict[str, Tensor], float_spec: dict[str, Any],
                      device: torch.device) -> XyloSim:
        """The simulator of ``values`` on ``device``: built (and checked) the first time,
        refreshed in place after (the network's sizes, dashes and output mode do not change
        while it trains)."""
        integers = {key: values[key].detach() for key in INTEGER_KEYS}
        sim = self._simulation.get("sim")
        if sim is None or sim.threshold.device != device:
            sim = XyloSim.from_specification(
                **_host_spec(values, float_spec), target=self.target, verify_config=False,
                output_mode=self.output_mode, backend=self.backend).to(device)
            self._simulation["sim"] = sim
            return sim
        return sim.refresh(sim.spec.with_values(**integers))

    def forward(self, x: Tensor) -> Tensor:
        """Xylo's output for event counts ``x``; see the class docstring."""
        device = next(self.synnet.parameters()).device
        events = _event_counts(x, self.synnet.n_channels).to(device)
        values, float_spec = self._quantised()
        sim = self._simulator_of(values, float_spec, device)
        out = xylo_dynamics(events, sim, {key: values[key] for key in INTEGER_KEYS}, self.window,
                            self.checkpoint_every)
        return out.to(x.device)

    def to_xylo(self, check: bool = True) -> dict[str, Any]:
        """The integer spec this module computes (``SynNet.to_xylo`` with its settings)."""
        return self.synnet.to_xylo(self.quantize, self.target, check=check)

    def extra_repr(self) -> str:
        return (f"quantize={self.quantize!r}, target={self.target!r}, window={self.window}, "
                f"backend={self.backend!r}, checkpoint_every={self.checkpoint_every}")


def to_hardware(
    net: SynNet, quantize: str = "global", target: str = DEFAULT_TARGET
) -> HardwareSynNet:
    """``HardwareSynNet(net, quantize, target)``: the chip's computation of ``net``, trainable."""
    return HardwareSynNet(net, quantize, target)


def _host_spec(values: dict[str, Tensor], float_spec: dict[str, Any]) -> dict[str, Any]:
    """The integer spec of quantised ``values`` as numpy arrays on the host (``to_xylo``'s)."""
    return {
        **{key: (value.detach().cpu().numpy() if isinstance(value, Tensor) else value)
           for key, value in float_spec.items()},
        **{key: value.detach().cpu().numpy().astype(int) for key, value in values.items()},
        **rounded_dashes(float_spec),
    }


def _event_counts(x: Tensor, n_channels: int) -> Tensor:
    """``x`` checked and as (B, T, n_channels) int64 CPU event counts, clipped to 15."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
    if x.dim() == 2:
        x = x.unsqueeze(0)
    if x.dim() != 3 or x.shape[-1] != n_channels:
        raise ValueError(
            f"x must have shape (B, T, {n_channels}) or (T, {n_channels}); got {tuple(x.shape)}"
        )
    if x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"x must hold event counts (real numbers); got dtype {x.dtype}")
    if x.is_floating_point():
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x must be finite event counts; got NaN or infinity")
        if not bool((x == torch.round(x)).all()):
            raise ValueError("x must hold integer event counts; got fractional values "
                             "(Xylo receives whole events)")
    # negative counts: the simulator refuses them, in the same words
    return x.detach().cpu().clamp(max=MAX_INPUT_EVENTS).to(torch.int64)
