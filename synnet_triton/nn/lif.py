"""``LIF``: the torch-native module over :func:`synnet_triton.ops.lif.functional.lif`."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from synnet_triton.ops.lif.functional import lif
from synnet_triton.ops.lif.types import LIFOutput, LIFState, Surrogate
from synnet_triton.ops.lif.validation import check_surrogate


class LIF(nn.Module):
    """Leaky integrate-and-fire neurons with ``n_synapses`` synaptic currents each.

    A drop-in ``nn.Module`` (usable in ``nn.Sequential``): ``forward(x)`` maps
    x (B, T, N·S) or (T, N·S) to spike counts (B, T, N) or (T, N), starting from zero state.
    For streaming, pass ``state`` and ask for ``return_state=True``:
    ``(LIFOutput(spikes, vmem, isyn), LIFState)`` comes back, and the state goes into the
    next call. The state is explicit and per batch element; the module itself keeps none.

    Parameters are Rockpool's names and shapes: ``tau_mem`` () or (N,), ``tau_syn`` (),
    (1, S) or (N, S) (or (N,) when S = 1), ``threshold`` () or (N,), ``bias`` () or (N,); a float
    becomes a 0-d tensor shared by all neurons. Trainable ones are ``nn.Parameter``, fixed ones
    buffers of the same name. ``w_rec`` (N, N·S) exists only with ``has_rec``.
    """

    tau_mem: Tensor
    tau_syn: Tensor
    threshold: Tensor
    bias: Tensor

    def __init__(
        self,
        n_neurons: int,
        n_synapses: int = 1,
        *,
        tau_mem: float | Tensor = 0.02,
        tau_syn: float | Tensor = 0.02,
        threshold: float | Tensor = 1.0,
        bias: float | Tensor = 0.0,
        train_tau_mem: bool = True,
        train_tau_syn: bool = True,
        train_threshold: bool = True,
        train_bias: bool = True,
        dt: float = 1e-3,
        surrogate: Surrogate | str = Surrogate.PERIODIC_EXPONENTIAL,
        learning_window: float = 0.5,
        max_spikes_per_dt: float = 2.0**16,
        noise_std: float = 0.0,
        has_rec: bool = False,
        w_rec: Tensor | None = None,
        backend: str = "auto",
        checkpoint_every: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("n_neurons", n_neurons), ("n_synapses", n_synapses)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.n_neurons = n_neurons
        self.n_synapses = n_synapses
        self.dt = dt
        self.surrogate = check_surrogate(surrogate)
        self.learning_window = learning_window
        self.max_spikes_per_dt = max_spikes_per_dt
        self.noise_std = noise_std
        self.backend = backend
        self.checkpoint_every = checkpoint_every
        self._register("tau_mem", tau_mem, train_tau_mem)
        self._register("tau_syn", tau_syn, train_tau_syn)
        self._register("threshold", threshold, train_threshold)
        self._register("bias", bias, train_bias)
        if has_rec:
            if w_rec is None:
                w_rec = torch.empty(n_neurons, n_neurons * n_synapses)
                nn.init.kaiming_uniform_(w_rec)
            self.w_rec: Tensor | None = nn.Parameter(torch.as_tensor(w_rec, dtype=torch.float32))
        elif w_rec is not None:
            raise ValueError("w_rec may only be given with has_rec=True")
        else:
            self.w_rec = None
        # Validates every shape and value now rather than at the first forward.
        with torch.no_grad():
            self(torch.zeros(1, 1, n_neurons * n_synapses, device=self.tau_mem.device))

    def _register(self, name: str, value: float | Tensor, trainable: bool) -> None:
        tensor = torch.as_tensor(value, dtype=torch.float32).detach().clone()
        if trainable:
            self.register_parameter(name, nn.Parameter(tensor))
        else:
            self.register_buffer(name, tensor)

    def forward(
        self,
        x: Tensor,
        state: LIFState | None = None,
        *,
        return_state: bool = False,
        record: bool = False,
        lengths: Tensor | None = None,
    ) -> Tensor | tuple[LIFOutput, LIFState]:
        """x (B, T, N·S) or (T, N·S) → spikes (B, T, N), or (LIFOutput, LIFState) on request.

        ``lengths`` (B,) stops each sample of a padded batch at its own length (see
        :func:`synnet_triton.ops.lif.functional.lif`).
        """
        width = self.n_neurons * self.n_synapses
        if isinstance(x, Tensor) and x.ndim >= 1 and x.shape[-1] != width:
            raise ValueError(
                f"x must have {width} = n_neurons·n_synapses columns in its last dimension, "
                f"got shape {tuple(x.shape)}"
            )
        out, final = lif(
            x, self.tau_mem, self.tau_syn, self.threshold, self.bias,
            n_synapses=self.n_synapses, dt=self.dt, surrogate=self.surrogate,
            learning_window=self.learning_window, max_spikes_per_dt=self.max_spikes_per_dt,
            noise_std=self.noise_std, w_rec=self.w_rec, initial_state=state,
            output_final_state=return_state or record, record=record,
            checkpoint_every=self.checkpoint_every, lengths=lengths, backend=self.backend,
        )
        if return_state or record:
            assert final is not None
            return out, final
        return out.spikes

    def initial_state(self, batch: int, device: torch.device | None = None) -> LIFState:
        """Zero state for ``batch`` sequences: vmem (B, N), isyn (B, N, S), spikes (B, N)."""
        device = device if device is not None else self.tau_mem.device
        n, s = self.n_neurons, self.n_synapses
        return LIFState(
            torch.zeros(batch, n, device=device),
            torch.zeros(batch, n, s, device=device),
            torch.zeros(batch, n, device=device),
        )

    def extra_repr(self) -> str:
        return (
            f"n_neurons={self.n_neurons}, n_synapses={self.n_synapses}, dt={self.dt}, "
            f"surrogate={self.surrogate.value}, max_spikes_per_dt={self.max_spikes_per_dt}, "
            f"has_rec={self.w_rec is not None}, backend={self.backend!r}"
        )
