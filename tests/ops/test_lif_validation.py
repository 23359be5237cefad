"""Bad input to ``lif`` and ``LIF`` fails before any work, with the argument named."""

from __future__ import annotations

import pytest
import torch

from synnet_triton import LIF, LIFState, lif

X = torch.zeros(2, 5, 6)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: lif([[0.0]]), TypeError, "x must be a torch.Tensor"),
        (lambda: lif(torch.zeros(2, 5, 6, dtype=torch.int32)), TypeError, "x must be float32"),
        (lambda: lif(torch.zeros(2, 5, 6, dtype=torch.float64)), TypeError, "float64"),
        (lambda: lif(torch.zeros(6)), ValueError, r"x must have shape \(B, T, N\*S\)"),
        (lambda: lif(torch.zeros(1, 2, 3, 6)), ValueError, "4 dims"),
        (lambda: lif(X, n_synapses=4), ValueError, "multiple of n_synapses"),
        (lambda: lif(X, n_synapses=0), ValueError, "n_synapses"),
        (lambda: lif(X, tau_mem=-0.01), ValueError, "tau_mem must be > 0"),
        (lambda: lif(X, tau_mem=torch.ones(5)), ValueError, r"tau_mem must have shape"),
        (lambda: lif(X, tau_syn=torch.ones(6, 2)), ValueError, "tau_syn must have shape"),
        (lambda: lif(X, tau_syn=0.0), ValueError, "tau_syn must be > 0"),
        (lambda: lif(X, threshold=0.0), ValueError, "threshold must be > 0"),
        (lambda: lif(X, threshold=torch.tensor(float("nan"))), ValueError,
         "threshold must be finite"),
        (lambda: lif(X, bias=float("inf")), ValueError, "bias must be finite"),
        (lambda: lif(X, bias="0"), TypeError, "bias must be a float or a tensor"),
        (lambda: lif(X, tau_mem=torch.ones(6, dtype=torch.int64)), TypeError,
         "tau_mem must be a floating"),
        (lambda: lif(X, learning_window=0.0), ValueError, "learning_window must be finite and > 0"),
        (lambda: lif(X, max_spikes_per_dt=0), ValueError, "max_spikes_per_dt"),
        (lambda: lif(X, max_spikes_per_dt=2.5), ValueError, "max_spikes_per_dt"),
        (lambda: lif(X, max_spikes_per_dt=2**17), ValueError, "max_spikes_per_dt"),
        (lambda: lif(X, dt=0.0), ValueError, "dt must be finite and > 0"),
        (lambda: lif(X, noise_std=-1.0), ValueError, "noise_std"),
        (lambda: lif(X, surrogate="sigmoid"), ValueError, "surrogate must be one of"),
        (lambda: lif(X, backend="cuda"), ValueError, "backend must be one of"),
        (lambda: lif(X, checkpoint_every=0), ValueError, "checkpoint_every"),
        (lambda: lif(X, w_rec=torch.zeros(6, 5)), ValueError, r"w_rec must have shape \(6, 6\)"),
        (lambda: lif(X, initial_state=LIFState(torch.zeros(3, 6), torch.zeros(2, 6, 1),
                                               torch.zeros(2, 6))),
         ValueError, "initial_state.vmem must have shape"),
        (lambda: lif(X, initial_state=(1, 2)), TypeError, "initial_state must be a LIFState"),
        (lambda: LIF(0), ValueError, "n_neurons"),
        (lambda: LIF(4, tau_mem=torch.ones(3)), ValueError, "tau_mem must have shape"),
        (lambda: LIF(4, w_rec=torch.zeros(4, 4)), ValueError, "has_rec"),
    ],
)
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error path")
def test_triton_backend_on_cpu_without_interpreter_is_a_clear_error(monkeypatch):
    # Triton reads TRITON_INTERPRET when it is first imported and when a kernel is decorated:
    # both must happen before the variable goes, or every later interpreter test in this
    # process runs compiled kernels on the CPU (it failed the SynNet tests run after it)
    import synnet_triton.ops.lif.triton_backend  # noqa: F401

    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        lif(X, backend="triton")


def test_public_functions_do_not_modify_their_inputs():
    x = torch.randn(2, 20, 6)
    state = LIFState(torch.randn(2, 6), torch.randn(2, 6, 1), torch.zeros(2, 6))
    tau = torch.full((6,), 0.01)
    copies = [t.clone() for t in (x, *state, tau)]
    out, _ = lif(x, tau_mem=tau, initial_state=state, output_final_state=True, backend="torch")
    out.spikes.sum()
    for before, after in zip(copies, (x, *state, tau)):
        assert torch.equal(before, after)
