"""The LIF operation over a whole sequence: ``lif`` and ``lif_decays``.

    out, final_state = lif(x, tau_mem, tau_syn, threshold, bias, initial_state=None,
                           output_final_state=False)

Shapes (B batch, T steps, N neurons, S synapses per neuron):

    x            (B, T, N·S) or (T, N·S); column k feeds neuron k // S, synapse k % S
    tau_mem      () or (N,)                      membrane time constant, seconds, > 0
    tau_syn      (), (N,) [S = 1], (1, S), (N, S) synaptic time constants, seconds, > 0
    threshold    () or (N,), > 0
    bias         () or (N,)
    w_rec        (N, N·S) recurrent weights acting on the previous step's spike counts
    out.spikes   (B, T, N) spike counts; out.vmem (B, T, N), out.isyn (B, T, N, S) with record
    final_state  LIFState(vmem (B, N), isyn (B, N, S), spikes (B, N)), float32

Semantics are Rockpool 3.1 ``LIFTorch`` exactly (docs/design.md §3); gradients come from the
hand-written reverse sweep (docs/design.md §4) with the PeriodicExponential or StepPWL surrogate.

Non-finite input: NaN or ±Inf in ``x`` (or in ``initial_state``) is not checked (a check would
cost a pass over the data); it propagates, so the affected neuron's spike counts and membrane
become NaN from that step on — never plausible-looking counts. Parameters are checked.

The op is registered with ``torch.library`` (``synnet_triton::lif_forward`` and
``synnet_triton::lif_backward``) so ``torch.compile(fullgraph=True)`` traces through it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from synnet_triton.ops.lif.backend import LIFInputs
from synnet_triton.ops.lif.op import lif_forward_op, resolve_backend
from synnet_triton.ops.lif.types import LIFOutput, LIFState, Surrogate
from synnet_triton.ops.lif.validation import (
    ValueChecks,
    as_parameter,
    check_input,
    check_max_spikes,
    check_positive_number,
    check_surrogate,
)


def lif_decays(
    x: Tensor,
    alpha: Tensor | float,
    beta: Tensor | float,
    threshold: Tensor | float = 1.0,
    bias: Tensor | float = 0.0,
    *,
    n_synapses: int = 1,
    surrogate: Surrogate | str = Surrogate.PERIODIC_EXPONENTIAL,
    learning_window: float = 0.5,
    max_spikes_per_dt: float = 2.0**16,
    noise: Tensor | None = None,
    w_rec: Tensor | None = None,
    initial_state: LIFState | None = None,
    output_final_state: bool = False,
    record: bool = False,
    checkpoint_every: int | None = None,
    lengths: Tensor | None = None,
    backend: str = "auto",
) -> tuple[LIFOutput, LIFState | None]:
    """The LIF operation with decays instead of time constants (α = exp(−dt/τ_mem), β likewise).

    ``alpha`` and ``beta`` take the shapes of ``tau_mem`` and ``tau_syn`` in :func:`lif`;
    ``noise`` (B, T, N) is added to the membrane as is. Everything else is as in :func:`lif`.
    """
    x = check_input(x, n_synapses)
    n, s = x.shape[-1] // n_synapses, n_synapses
    checks = ValueChecks()
    alpha_t = as_parameter("alpha", alpha, ((), (n,)), x.device, checks, decay=True)
    beta_t = as_parameter("beta", beta, _synaptic_shapes(n, s), x.device, checks, decay=True)
    return _lif(
        x, alpha_t, beta_t, threshold, bias, checks, n_synapses=n_synapses, surrogate=surrogate,
        learning_window=learning_window, max_spikes_per_dt=max_spikes_per_dt, noise=noise,
        w_rec=w_rec, initial_state=initial_state, output_final_state=output_final_state,
        record=record, checkpoint_every=checkpoint_every, lengths=lengths, backend=backend,
    )


def _synaptic_shapes(n: int, s: int) -> tuple[tuple[int, ...], ...]:
    """The shapes a per-synapse parameter (τ_syn or β) may take."""
    return ((), (1, s), (n, s)) + (((n,),) if s == 1 else ())


def _lif(
    x: Tensor,
    alpha: Tensor,
    beta: Tensor,
    threshold: Tensor | float,
    bias: Tensor | float,
    checks: ValueChecks,
    *,
    n_synapses: int,
    surrogate: Surrogate | str,
    learning_window: float,
    max_spikes_per_dt: float,
    noise: Tensor | None,
    w_rec: Tensor | None,
    initial_state: LIFState | None,
    output_final_state: bool,
    record: bool,
    checkpoint_every: int | None,
    lengths: Tensor | None,
    backend: str,
) -> tuple[LIFOutput, LIFState | None]:
    """The op on ``x`` and decays that :func:`lif` or :func:`lif_decays` checked (each its own
    arguments, their values gathered in ``checks``); everything else is checked here, and
    ``checks`` run (one host read for all parameter values), before the custom op runs."""
    unbatched = x.ndim == 2
    if unbatched:
        x = x.unsqueeze(0)
    batch, steps, width = x.shape
    n_neurons = width // n_synapses
    device = x.device
    surrogate = check_surrogate(surrogate)
    window = check_positive_number("learning_window", learning_window)
    max_spikes = check_max_spikes(max_spikes_per_dt)
    if checkpoint_every is None:
        checkpoint_every = 0
    elif isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) \
            or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be None or an integer >= 1, got "
                         f"{checkpoint_every!r}")

    n, s = n_neurons, n_synapses
    alpha_t = alpha.expand(n).contiguous()
    beta_t = beta.reshape(n, 1) if beta.shape == (n,) else beta
    beta_t = beta_t.expand(n, s).contiguous()
    threshold_t = as_parameter("threshold", threshold, ((), (n,)), device, checks, positive=True)
    threshold_t = threshold_t.expand(n).contiguous()
    bias_t = as_parameter("bias", bias, ((), (n,)), device, checks).expand(n).contiguous()
    if w_rec is not None:
        w_rec = _check_tensor("w_rec", w_rec, (n, n * s), device).float()
    if noise is not None:
        noise = _check_tensor("noise", noise, (batch, steps, n), device).float()
    v0, i0, s0 = _initial_state(initial_state, batch, n, s, device)
    resolved = resolve_backend(backend, device, recurrent=w_rec is not None,
                               n_synapses=n_synapses)
    checks.run()

    lengths_t = None if lengths is None else _check_lengths(lengths, batch, steps, device)
    run_x, run_noise = x, noise
    if lengths_t is not None and batch and not torch.compiler.is_compiling():
        # steps past the longest sample are never computed
        longest = int(lengths_t.max())
        run_x = x[:, :longest]
        run_noise = None if noise is None else noise[:, :longest]
    # with lengths, the final state is read from the records at each sample's last step;
    # they are kept in float32 so that state stays exact
    records = record or (lengths_t is not None and output_final_state)
    if records and lengths_t is not None:
        run_x = run_x.float()

    vmem: Tensor | None
    isyn: Tensor | None
    if batch == 0 or run_x.shape[1] == 0:
        run_steps = run_x.shape[1]
        spikes, vmem, isyn = (run_x.new_zeros((batch, run_steps, n)),
                              run_x.new_zeros((batch, run_steps, n)),
                              run_x.new_zeros((batch, run_steps, n, s)))
        v_t, i_t, s_t = v0.clone(), i0.clone(), s0.clone()
    else:
        inputs = LIFInputs(run_x.contiguous(), alpha_t, beta_t, threshold_t, bias_t,
                           None if run_noise is None else run_noise.contiguous(), w_rec, v0,
                           i0, s0)
        # membrane noise is an input, never a trained one
        save = torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in inputs._replace(noise=None)
        )
        spikes, vmem, isyn, v_t, i_t, s_t, _ = lif_forward_op(
            *inputs, max_spikes, records, checkpoint_every, resolved, surrogate.value, window,
            save,
        )
    if lengths_t is not None:
        spikes, vmem, isyn, (v_t, i_t, s_t) = _stop_at_lengths(
            lengths_t, steps, spikes, vmem if records else None, isyn if records else None,
            (v0, i0, s0), output_final_state, x.dtype,
        )
    out = LIFOutput(spikes, vmem if record else None, isyn if record else None)
    final = LIFState(v_t, i_t, s_t) if output_final_state else None
    if unbatched:
        out = LIFOutput(
            out.spikes.squeeze(0),
            None if out.vmem is None else out.vmem.squeeze(0),
            None if out.isyn is None else out.isyn.squeeze(0),
        )
        if final is not None:
            final = LIFState(*(t.squeeze(0) for t in final))
    return out, final


def lif(
    x: Tensor,
    tau_mem: Tensor | float = 0.02,
    tau_syn: Tensor | float = 0.02,
    threshold: Tensor | float = 1.0,
    bias: Tensor | float = 0.0,
    *,
    n_synapses: int = 1,
    dt: float = 1e-3,
    surrogate: Surrogate | str = Surrogate.PERIODIC_EXPONENTIAL,
    learning_window: float = 0.5,
    max_spikes_per_dt: float = 2.0**16,
    noise_std: float = 0.0,
    generator: torch.Generator | None = None,
    w_rec: Tensor | None = None,
    initial_state: LIFState | None = None,
    output_final_state: bool = False,
    record: bool = False,
    checkpoint_every: int | None = None,
    lengths: Tensor | None = None,
    backend: str = "auto",
) -> tuple[LIFOutput, LIFState | None]:
    """Run leaky integrate-and-fire neurons with S synapses each over a whole sequence.

    Args:
        x: (B, T, N·S) or (T, N·S) input currents (float32, float16 or bfloat16).
        tau_mem: () or (N,) membrane time constants in seconds.
        tau_syn: (), (N,) when S = 1, (1, S) or (N, S) synaptic time constants in seconds.
        threshold: () or (N,) firing thresholds, > 0.
        bias: () or (N,) constant input to the membrane.
        n_synapses: S, synapses per neuron.
        dt: time step in seconds; decays are α = exp(−dt/τ_mem), β = exp(−dt/τ_syn).
        surrogate: ``"periodic_exponential"`` (SynNet's) or ``"step_pwl"`` (LIFTorch's default).
        learning_window: width w of the surrogate, > 0.
        max_spikes_per_dt: M, the most spikes a neuron emits in one step (1 … 2¹⁶).
        noise_std: σ; the membrane gets σ·√dt·N(0, 1) per neuron and step.
        generator: the torch generator the noise is drawn from (reproducible runs).
        w_rec: (N, N·S) recurrent weights applied to the previous step's spike counts.
        initial_state: LIFState of (B, N), (B, N, S), (B, N) tensors (or unbatched (N,),
            (N, S), (N,), broadcast over the batch); zeros when None.
        output_final_state: return the state after the last step (for streaming).
        record: also return post-reset vmem (B, T, N) and post-decay isyn (B, T, N, S).
        checkpoint_every: K > 0 keeps only the state every K steps for the backward and
            recomputes each segment (saved memory O(T/K) instead of O(T)).
        lengths: (B,) integer steps of each sample in a padded batch: outputs past a sample's
            length are zero, its final state is its state after its last step, and no
            gradient flows from the padding — as if each sample ran alone.
        backend: ``"auto"``, ``"torch"``, ``"triton"`` or ``"numba"`` (see
            :func:`resolve_backend`).

    Returns:
        ``(LIFOutput(spikes, vmem, isyn), final_state)``; ``final_state`` is None unless
        ``output_final_state``. Unbatched input gives unbatched outputs.
    """
    x = check_input(x, n_synapses)
    dt = check_positive_number("dt", dt)
    noise_std = check_positive_number("noise_std", noise_std, allow_zero=True)
    n = x.shape[-1] // n_synapses
    s = n_synapses
    checks = ValueChecks()
    tau_mem_t = as_parameter("tau_mem", tau_mem, ((), (n,)), x.device, checks, positive=True)
    tau_syn_t = as_parameter("tau_syn", tau_syn, _synaptic_shapes(n, s), x.device, checks,
                             positive=True)
    # Rockpool computes exp(-dt / tau) in float32 exactly this way; spikes depend on its rounding
    alpha = torch.exp(-dt / tau_mem_t)
    beta = torch.exp(-dt / tau_syn_t)
    noise = None
    if noise_std > 0:
        batch = x.shape[0] if x.ndim == 3 else 1
        noise = membrane_noise(noise_std, dt, (batch, x.shape[-2], n), x.device, generator)
    # exp(−dt/τ) of a finite τ > 0 lies in (0, 1]: the decays need no second check
    return _lif(
        x, alpha, beta, threshold, bias, checks, n_synapses=n_synapses, surrogate=surrogate,
        learning_window=learning_window, max_spikes_per_dt=max_spikes_per_dt,
        noise=noise, w_rec=w_rec,
        initial_state=initial_state, output_final_state=output_final_state, record=record,
        checkpoint_every=checkpoint_every, lengths=lengths, backend=backend,
    )


def membrane_noise(
    noise_std: float,
    dt: float,
    shape: Sequence[int],
    device: torch.device,
    generator: torch.Generator | None = None,
) -> Tensor:
    """σ·√dt·N(0, 1) of ``shape`` (B, T, N), float32, computed as Rockpool does."""
    zeta = noise_std * torch.sqrt(torch.tensor(dt))
    return zeta.to(device) * torch.randn(tuple(shape), generator=generator, device=device)


def _check_lengths(lengths: object, batch: int, steps: int, device: torch.device) -> Tensor:
    if not isinstance(lengths, Tensor) or lengths.dtype not in (torch.int32, torch.int64):
        raise TypeError("lengths must be an integer tensor of shape (B,)")
    if tuple(lengths.shape) != (batch,):
        raise ValueError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
    if lengths.device != device:
        raise ValueError(f"lengths is on {lengths.device} but x is on {device}")
    if not torch.compiler.is_compiling() and batch and (
        bool((lengths < 0).any()) or bool((lengths > steps).any())
    ):
        raise ValueError(f"lengths must lie in [0, T={steps}], got {lengths.tolist()}")
    return lengths


def _stop_at_lengths(
    lengths: Tensor,
    steps: int,
    spikes: Tensor,
    vmem: Tensor | None,
    isyn: Tensor | None,
    initial: tuple[Tensor, Tensor, Tensor],
    output_final_state: bool,
    dtype: torch.dtype,
) -> tuple[Tensor, Tensor | None, Tensor | None, tuple[Tensor, Tensor, Tensor]]:
    """Zero every output past each sample's length, pad back to T steps, and take the final
    state at step length − 1 (the initial state for length 0).

    ``torch.where`` rather than a product: garbage in padding (even NaN) cannot leak, and no
    gradient flows into it.
    """
    batch, run_steps = spikes.shape[:2]
    time = torch.arange(run_steps, device=spikes.device)
    valid = time.unsqueeze(0) < lengths.unsqueeze(1)
    pad = steps - run_steps

    def masked(t: Tensor) -> Tensor:
        mask = valid.view(batch, run_steps, *([1] * (t.ndim - 2)))
        out = torch.where(mask, t, torch.zeros((), dtype=t.dtype, device=t.device))
        if pad:
            out = torch.cat([out, out.new_zeros((batch, pad, *t.shape[2:]))], 1)
        return out.to(dtype)

    final = initial
    if output_final_state and vmem is not None and isyn is not None and run_steps:
        last = (lengths - 1).clamp(min=0)
        rows = torch.arange(batch, device=spikes.device)
        started = lengths > 0
        final = tuple(  # type: ignore[assignment]
            torch.where(started.view(batch, *([1] * (ref.ndim - 1))), rec[rows, last].float(),
                        ref)
            for rec, ref in zip((vmem, isyn, spikes), initial)
        )
    return (
        masked(spikes),
        None if vmem is None else masked(vmem),
        None if isyn is None else masked(isyn),
        (final[0], final[1], final[2]),
    )


def _check_tensor(name: str, t: object, shape: tuple[int, ...], device: torch.device) -> Tensor:
    if not isinstance(t, Tensor) or not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {type(t).__name__}")
    if tuple(t.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    if t.device != device:
        raise ValueError(f"{name} is on {t.device} but x is on {device}")
    return t


def _initial_state(
    state: LIFState | None, batch: int, n: int, s: int, device: torch.device
) -> tuple[Tensor, Tensor, Tensor]:
    """(v0 (B, N), i0 (B, N, S), s0 (B, N)) float32, contiguous, from ``state`` or zeros."""
    if state is None:
        zeros = torch.zeros((batch, n), device=device)
        return zeros, torch.zeros((batch, n, s), device=device), zeros.clone()
    if not isinstance(state, tuple) or len(state) != 3:
        raise TypeError("initial_state must be a LIFState(vmem, isyn, spikes)")
    shapes = ((batch, n), (batch, n, s), (batch, n))
    out = []
    for name, t, full in zip(("vmem", "isyn", "spikes"), state, shapes):
        if not isinstance(t, Tensor) or not t.is_floating_point():
            raise TypeError(f"initial_state.{name} must be a floating-point tensor")
        if t.device != device:
            raise ValueError(f"initial_state.{name} is on {t.device} but x is on {device}")
        if tuple(t.shape) not in (full, full[1:]):
            raise ValueError(
                f"initial_state.{name} must have shape {full} or {full[1:]}, got "
                f"{tuple(t.shape)}"
            )
        out.append(t.float().expand(full).contiguous())
    return out[0], out[1], out[2]
