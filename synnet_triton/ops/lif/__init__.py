"""The whole-sequence LIF operation over (batch, time, neurons·synapses).

- ``functional``: :func:`lif`, :func:`lif_decays`, the public entry points (checks, broadcasting,
  ``lengths``);
- ``op``: the ``torch.library`` custom ops, their autograd and the backend dispatch;
- ``backend``: the contract every backend implements;
- ``torch_backend`` (with ``torch_steps``, ``torch_sweep``): the torch reference, the CPU path;
- ``triton_backend``: the fused Triton kernels of :mod:`synnet_triton.kernels`, the CUDA path;
- ``numba_backend`` (with ``numba_loops``): the compiled CPU loops, the CPU path with ``[cpu]``;
- ``naive``: the literal step loop, the readable oracle;
- ``surrogates``, ``validation``, ``memory`` (saved-bytes accounting), ``types``.
"""

from synnet_triton.ops.dispatch import triton_available
from synnet_triton.ops.lif.functional import lif, lif_decays, membrane_noise
from synnet_triton.ops.lif.op import numba_available, resolve_backend
from synnet_triton.ops.lif.types import LIFOutput, LIFState, Surrogate

__all__ = [
    "LIFOutput",
    "LIFState",
    "Surrogate",
    "lif",
    "lif_decays",
    "membrane_noise",
    "numba_available",
    "resolve_backend",
    "triton_available",
]
