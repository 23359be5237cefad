"""``LIFExodus``: Rockpool's ``LIFExodus`` constructor and call convention, computing what
Rockpool's ``LIFTorch`` computes, on the CPU and on CUDA.

Rockpool's ``LIFExodus`` (``rockpool.nn.modules.sinabs.lif_exodus``) runs sinabs-exodus's CUDA
kernels and so needs CUDA and sinabs-exodus; it refuses recurrent weights and noise, fixes
the threshold (``Constant``) and replaces the surrogate with sinabs' ``Heaviside`` window. This
class keeps its positional order (``shape, tau_mem, tau_syn, threshold, learning_window,
bias, has_rec, noise_std``) and defaults, and computes :class:`LIFTriton`'s (that is,
``LIFTorch``'s) dynamics and gradients with them: recurrence and noise are accepted, the
threshold trains unless given as ``Constant``, the surrogate is ``spike_generation_fn``
(``LIFTorch``'s default, ``PeriodicExponential`` with ``learning_window``), and any device.
"""

from __future__ import annotations

from typing import Any

from synnet_triton.rockpool.lif import LIFTriton

__all__ = ["LIFExodus"]


class LIFExodus(LIFTriton):
    """Drop-in for ``rockpool.nn.modules.LIFExodus`` (see the module docstring).

    Args:
        shape: (N·S, N) as ``LIFTorch``'s.
        tau_mem, tau_syn, threshold, learning_window, bias, has_rec, noise_std: in
            ``LIFExodus``'s order and with its defaults (0.02, 0.05, 1.0, 0.5, 0.0, False, 0.0).
        **kwargs: any further ``LIFTorch`` argument (``w_rec``, ``dt``,
            ``spike_generation_fn``, ``max_spikes_per_dt``, ``leak_mode``, …) and
            :class:`LIFTriton`'s ``backend`` and ``checkpoint_every``.

    ``forward(x)``: x (B, T, N·S) or (T, N·S) → spike counts (B, T, N).
    """

    def __init__(
        self,
        shape: tuple,
        tau_mem: Any = 0.02,
        tau_syn: Any = 0.05,
        threshold: Any = 1.0,
        learning_window: Any = 0.5,
        bias: Any = 0.0,
        has_rec: bool = False,
        noise_std: Any = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(shape=shape, tau_mem=tau_mem, tau_syn=tau_syn, threshold=threshold,
                         learning_window=learning_window, bias=bias, has_rec=has_rec,
                         noise_std=noise_std, **kwargs)
