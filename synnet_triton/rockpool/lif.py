"""``LIFTriton``: Rockpool's ``LIFTorch`` with the whole sequence in one fused operation.

Same constructor, parameters (names, shapes, ``Constant`` handling, leak modes ``"taus"``,
``"decays"``, ``"bitshifts"``), state, record keys and graph export as ``LIFTorch`` — it
subclasses Rockpool's ``LIFBaseTorch`` — plus ``backend``. Only ``forward`` differs: instead of
a Python loop over time it calls :func:`synnet_triton.ops.lif.functional.lif_decays`.

Rockpool quirks reproduced on purpose:
- the state kept after a call is batch element 0's (``LIFTorch`` stores ``vmem[0]``); the next
  call broadcasts it to every batch element;
- the membrane noise is drawn from torch's global generator, ``randn(B, T, N)``, on every call,
  even at ``noise_std = 0`` — so seeded runs draw the same numbers as ``LIFTorch``;
- the ``irec`` record holds ``s_{t-1} @ w_rec`` (zeros without recurrence);
- time constants whose decays fall outside [0, 1] (NaN, or a negative τ) are computed as
  Rockpool computes them — by Rockpool's own ``LIFTorch`` step loop, with a warning — because
  the fused operation refuses them.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from rockpool.nn.modules.torch.lif_torch import (
    LIFBaseTorch,
    LIFTorch,
    PeriodicExponential,
    StepPWL,
)
from rockpool.parameters import Constant
from torch import Tensor

from synnet_triton.ops.lif.functional import lif_decays
from synnet_triton.ops.lif.types import LIFState, Surrogate

_LEAK_PARAMETERS = {"taus": ("tau_mem", "tau_syn"), "decays": ("alpha", "beta"),
                    "bitshifts": ("dash_mem", "dash_syn")}
"""The two decay parameters each Rockpool leak mode keeps."""


_SURROGATES = {PeriodicExponential.apply: Surrogate.PERIODIC_EXPONENTIAL,
               StepPWL.apply: Surrogate.STEP_PWL}


class LIFTriton(LIFBaseTorch):
    """Drop-in replacement of ``rockpool.nn.modules.LIFTorch`` (see the module docstring).

    Args:
        shape, tau_mem, tau_syn, alpha, beta, dash_mem, dash_syn, bias, threshold, has_rec,
        w_rec, noise_std, spike_generation_fn, learning_window, max_spikes_per_dt, dt,
        leak_mode, ...: exactly as ``LIFTorch``.
        backend: ``"auto"`` (Triton on CUDA, torch reference otherwise), ``"torch"``,
            ``"triton"``.
        checkpoint_every: recompute segments of this many steps in the backward (less memory).

    ``forward(x)``: x (B, T, N·S) or (T, N·S) → spike counts (B, T, N).
    """

    def __init__(
        self,
        *args: Any,
        backend: str = "auto",
        checkpoint_every: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        surrogate = _SURROGATES.get(self.spike_generation_fn)
        if surrogate is None:
            raise ValueError(
                "spike_generation_fn must be rockpool's PeriodicExponential or StepPWL, got "
                f"{self.spike_generation_fn!r}"
            )
        self._surrogate = surrogate
        self._backend = backend
        self._checkpoint_every = checkpoint_every
        self._warned_outside = False

    def forward(self, input_data: Tensor) -> Tensor:
        leak = self._get_all_leak_params()
        outside = [name for name, decay in zip(_LEAK_PARAMETERS[str(self.leak_mode)],
                                               (leak["alpha"], leak["beta"]), strict=True)
                   if not bool(((decay >= 0) & (decay <= 1)).all())]
        if outside:
            # The fused operation refuses decays outside [0, 1] (NaN from a time-constant
            # ladder that overflows, or a negative time constant); Rockpool computes them, so
            # its own step loop does, with the NaN or growing membrane that follows.
            if not self._warned_outside:
                warnings.warn(
                    f"{' and '.join(outside)} give decays outside [0, 1] (NaN or > 1); this "
                    f"layer runs Rockpool's LIFTorch step loop, and its result is Rockpool's "
                    f"(NaN or a growing membrane)", stacklevel=2,
                )
                self._warned_outside = True
            return LIFTorch.forward(self, input_data)
        n, s = self.size_out, self.n_synapses
        state: tuple[Tensor, Tensor, Tensor] = (
            self.vmem, self.spikes, self.isyn  # type: ignore[has-type]
        )
        input_data, (vmem, spikes, isyn) = self._auto_batch(
            input_data, state, ((n,), (n,), (n, s))
        )
        batch, steps, _ = input_data.shape
        noise_zeta = self.noise_std * torch.sqrt(torch.tensor(self.dt))
        noise = noise_zeta * torch.randn((batch, steps, n), device=vmem.device)
        w_rec = self.w_rec if self._has_rec else None
        out, final = lif_decays(
            input_data, leak["alpha"], leak["beta"], self.threshold, self.bias,
            n_synapses=s, surrogate=self._surrogate,
            learning_window=float(self.learning_window),
            max_spikes_per_dt=float(self.max_spikes_per_dt),
            noise=noise if self.noise_std != 0 else None, w_rec=w_rec,
            initial_state=LIFState(vmem, isyn, spikes), output_final_state=True,
            record=self._record, checkpoint_every=self._checkpoint_every,
            backend=self._backend,
        )
        assert final is not None
        if self._record:
            assert out.vmem is not None and out.isyn is not None
            self._record_dict["vmem"] = out.vmem
            self._record_dict["isyn"] = out.isyn
            spikes_before = torch.cat([spikes.unsqueeze(1), out.spikes[:, :-1]], 1)
            self._record_dict["irec"] = (
                (spikes_before @ self.w_rec).reshape(batch, steps, n, s)
                if w_rec is not None
                else torch.zeros_like(out.isyn)
            )
        self._record_dict["spikes"] = out.spikes
        self.vmem = final.vmem[0].detach()
        self.isyn = final.isyn[0].detach()
        self.spikes = final.spikes[0].detach()
        return out.spikes


def copy_lif(module: LIFBaseTorch, cls: type[LIFBaseTorch], **extra: Any) -> LIFBaseTorch:
    """A new ``cls`` (``LIFTorch``, :class:`LIFTriton`, a subclass) with ``module``'s
    constructor arguments, parameter values and trainability (fixed ones stay ``Constant``).

    Args:
        module: a Rockpool LIF layer (``LIFTorch`` or :class:`LIFTriton`).
        cls: the class of the copy.
        extra: further constructor arguments (``backend=``, ``checkpoint_every=``).

    The copy draws nothing from torch's generator (every tensor is given), and its state is
    zero.
    """
    trainable = dict(module.named_parameters(recurse=False))

    def value(name: str) -> Any:
        tensor = getattr(module, name).detach().clone()
        return tensor if name in trainable else Constant(tensor)

    leak_mode = str(module.leak_mode)
    arguments: dict[str, Any] = {
        name: value(name) for name in (*_LEAK_PARAMETERS[leak_mode], "bias", "threshold")
    }
    if module._has_rec:
        arguments.update(has_rec=True, w_rec=value("w_rec"))
    return cls(
        shape=(int(module.size_in), int(module.size_out)),
        leak_mode=leak_mode,
        noise_std=module.noise_std,
        spike_generation_fn=module.spike_generation_fn.__self__,
        learning_window=module.learning_window,
        max_spikes_per_dt=module.max_spikes_per_dt,
        dt=module.dt,
        **arguments,
        **extra,
    )
