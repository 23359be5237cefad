"""The torch backend against the literal loop (naive.py): forward bitwise in float32, the
hand-written backward against autograd through the loop in float64."""

from __future__ import annotations

from unittest.mock import patch

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from synnet_triton.ops.lif import torch_steps as lif_torch_steps
from synnet_triton.ops.lif.functional import lif, lif_decays
from synnet_triton.ops.lif.naive import naive_lif
from synnet_triton.ops.lif.types import LIFState, Surrogate
from synnet_triton.ops.scan import torch_backend as scan_torch_backend

CONFIGS = st.fixed_dictionaries(
    {
        "batch": st.integers(1, 3),
        "steps": st.integers(1, 40),
        "neurons": st.integers(1, 9),
        "synapses": st.integers(1, 3),
        "max_spikes": st.sampled_from([1.0, 3.0, 31.0, 2.0**16]),
        "surrogate": st.sampled_from(list(Surrogate)),
        "recurrent": st.booleans(),
        "checkpoint": st.sampled_from([None, 1, 4, 7]),
        "seed": st.integers(0, 2**31 - 1),
    }
)


def _problem(cfg: dict, dtype: torch.dtype) -> dict:
    g = torch.Generator().manual_seed(cfg["seed"])
    b, t, n, s = cfg["batch"], cfg["steps"], cfg["neurons"], cfg["synapses"]

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g, dtype=torch.float64)

    tensors = {
        "x": (torch.randn(b, t, n * s, generator=g, dtype=torch.float64) * 0.8),
        "alpha": 0.4 + 0.59 * rand(n),
        "beta": 0.4 + 0.59 * rand(n, s),
        "threshold": 0.3 + 1.5 * rand(n),
        "bias": 0.1 * torch.randn(n, generator=g, dtype=torch.float64),
        "v0": torch.randn(b, n, generator=g, dtype=torch.float64),
        "i0": torch.randn(b, n, s, generator=g, dtype=torch.float64) * 0.3,
        "s0": torch.randint(0, 3, (b, n), generator=g).double(),
        # small enough that recurrent feedback does not run away (huge u is ill-conditioned)
        "w_rec": torch.randn(n, n * s, generator=g, dtype=torch.float64) * 0.1,
        "noise": torch.randn(b, t, n, generator=g, dtype=torch.float64) * 0.05,
        "weights": torch.randn(b, t, n, generator=g, dtype=torch.float64),
    }
    return {k: v.to(dtype) for k, v in tensors.items()}


def _loss(out, final, weights):
    return (
        (out.spikes * weights).sum()
        + 0.1 * (out.vmem**2).sum()
        + 0.3 * (out.isyn * weights.unsqueeze(-1)).sum()
        + final.vmem.sum()
        + 2 * final.isyn.sum()
        + 0.5 * final.spikes.sum()
    )


TRAINED = ("x", "alpha", "beta", "threshold", "bias", "v0", "i0", "s0", "w_rec")


def _run(cfg: dict, dtype: torch.dtype, ours: bool):
    p = _problem(cfg, dtype)
    for name in TRAINED:
        p[name].requires_grad_()
    w_rec = p["w_rec"] if cfg["recurrent"] else None
    state = LIFState(p["v0"], p["i0"], p["s0"])
    if ours:
        out, final = lif_decays(
            p["x"], p["alpha"], p["beta"], p["threshold"], p["bias"],
            n_synapses=cfg["synapses"], surrogate=cfg["surrogate"],
            max_spikes_per_dt=cfg["max_spikes"], noise=p["noise"], w_rec=w_rec,
            initial_state=state, output_final_state=True, record=True,
            checkpoint_every=cfg["checkpoint"], backend="torch",
        )
    else:
        out, final = naive_lif(
            p["x"], p["alpha"], p["beta"], p["threshold"], p["bias"],
            surrogate=cfg["surrogate"], max_spikes_per_dt=cfg["max_spikes"], noise=p["noise"],
            w_rec=w_rec, initial_state=state,
        )
    inputs = [p[k] for k in TRAINED if k != "w_rec" or cfg["recurrent"]]
    grads = torch.autograd.grad(_loss(out, final, p["weights"]), inputs, allow_unused=True)
    return out, final, grads


@settings(max_examples=40, deadline=None)
@given(CONFIGS)
def test_forward_is_bitwise_the_literal_loop_in_float32(cfg):
    out, final, _ = _run(cfg, torch.float32, ours=True)
    ref, ref_final, _ = _run(cfg, torch.float32, ours=False)
    assert torch.equal(out.spikes, ref.spikes)
    assert torch.equal(out.vmem, ref.vmem)
    assert torch.equal(out.isyn, ref.isyn)
    for a, b in zip(final, ref_final):
        assert torch.equal(a, b)


@settings(max_examples=40, deadline=None)
@given(CONFIGS)
def test_backward_matches_autograd_through_float64_loop(cfg):
    """Within 1e-4 of the float64 truth, or — where float32 itself cannot get that close (a
    small gradient summed from cancelling terms) — no worse than 4× the literal float32 loop."""
    out, _, grads = _run(cfg, torch.float32, ours=True)
    ref, _, ref_grads = _run(cfg, torch.float64, ours=False)
    _, _, literal32_grads = _run(cfg, torch.float32, ours=False)
    # float32 and float64 runs must take the same spike decisions for gradients to compare
    if not torch.equal(out.spikes.double(), ref.spikes):
        return
    names = [k for k in TRAINED if k != "w_rec" or cfg["recurrent"]]
    for name, g, r, g32 in zip(names, grads, ref_grads, literal32_grads):
        if r is None:  # unused (s0 without recurrence): ours must then be zero
            assert g is None or not g.any(), name
            continue
        scale = r.norm().clamp_min(1e-6)
        err = ((g.double() - r).norm() / scale).item()
        literal_err = ((g32.double() - r).norm() / scale).item()
        assert err < max(1e-4, 4 * literal_err), (name, err, literal_err)


@settings(max_examples=30, deadline=None)
@given(CONFIGS)
def test_backward_matches_autograd_through_float32_loop(cfg):
    """Same precision, so the same spike and surrogate-branch decisions; only the order of the
    float32 sums differs (which, with cancellation in a small gradient, reaches ~2e-5)."""
    _, _, grads = _run(cfg, torch.float32, ours=True)
    _, _, ref_grads = _run(cfg, torch.float32, ours=False)
    for g, r in zip(grads, ref_grads):
        if r is None:
            assert g is None or not g.any()
            continue
        assert ((g - r).norm() / r.norm().clamp_min(1e-6)).item() < 1e-4


def test_same_spike_decisions_in_float32_and_float64_for_the_gradient_check():
    """Guard for the early return above: most drawn problems must be compared."""
    compared = 0
    for seed in range(20):
        cfg = {"batch": 2, "steps": 30, "neurons": 5, "synapses": 2, "max_spikes": 31.0,
               "surrogate": Surrogate.PERIODIC_EXPONENTIAL, "recurrent": seed % 2 == 0,
               "checkpoint": None, "seed": seed}
        out, _, _ = _run(cfg, torch.float32, ours=True)
        ref, _, _ = _run(cfg, torch.float64, ours=False)
        compared += torch.equal(out.spikes.double(), ref.spikes)
    assert compared >= 15


@settings(max_examples=15, deadline=None)
@given(CONFIGS, st.data())
def test_chunked_streaming_equals_one_call(cfg, data):
    if cfg["steps"] < 2:
        cfg["steps"] = 2
    cut = data.draw(st.integers(1, cfg["steps"] - 1))
    p = _problem(cfg, torch.float32)
    kwargs = dict(n_synapses=cfg["synapses"], surrogate=cfg["surrogate"],
                  max_spikes_per_dt=cfg["max_spikes"], backend="torch",
                  checkpoint_every=cfg["checkpoint"])
    params = [p[k].requires_grad_() for k in ("alpha", "beta", "threshold", "bias")]
    w_rec = p["w_rec"].requires_grad_() if cfg["recurrent"] else None
    x = p["x"].requires_grad_()
    state = LIFState(p["v0"], p["i0"], p["s0"])

    whole, _ = lif_decays(x, *params, w_rec=w_rec, initial_state=state, **kwargs)
    first, mid = lif_decays(x[:, :cut], *params, w_rec=w_rec, initial_state=state,
                            output_final_state=True, **kwargs)
    second, _ = lif_decays(x[:, cut:], *params, w_rec=w_rec, initial_state=mid, **kwargs)
    chunked = torch.cat([first.spikes, second.spikes], 1)
    assert torch.equal(whole.spikes, chunked)

    inputs = [x, *params] + ([w_rec] if w_rec is not None else [])
    g_whole = torch.autograd.grad((whole.spikes * p["weights"]).sum(), inputs)
    g_chunk = torch.autograd.grad((chunked * p["weights"]).sum(), inputs)
    # x's gradient per element; a parameter's is a sum over B·T terms that can cancel well
    # below their own size, so its float32 rounding is relative to the terms: 1e-4
    for index, (a, b) in enumerate(zip(g_whole, g_chunk, strict=True)):
        tolerance = 1e-5 if index == 0 else 1e-4
        assert ((a - b).norm() / a.norm().clamp_min(1e-6)).item() < tolerance, index


def test_checkpointing_gives_the_default_gradients():
    """Equal up to float32 rounding: segments change how the sweep groups its additions."""
    cfg = {"batch": 2, "steps": 64, "neurons": 6, "synapses": 2, "max_spikes": 31.0,
           "surrogate": Surrogate.PERIODIC_EXPONENTIAL, "recurrent": False, "seed": 3}
    results = []
    for k in (None, 1, 10, 64, 100):
        _, _, grads = _run({**cfg, "checkpoint": k}, torch.float32, ours=True)
        results.append(grads)
    for grads in results[1:]:
        for a, b in zip(results[0], grads):
            if a is None:
                assert b is None or not b.any()
            else:
                assert ((a - b).norm() / a.norm().clamp_min(1e-6)).item() < 1e-5


def test_lif_decays_from_time_constants_as_rockpool_computes_them():
    tau_mem = torch.tensor([0.01, 0.02, 0.05])
    tau_syn = torch.tensor([[0.004], [0.02], [0.1]])
    x = torch.randn(2, 30, 3)
    out, _ = lif(x, tau_mem, tau_syn, dt=1e-3, backend="torch")
    ref, _ = naive_lif(x, torch.exp(-1e-3 / tau_mem), torch.exp(-1e-3 / tau_syn),
                       torch.ones(3), torch.zeros(3))
    assert torch.equal(out.spikes, ref.spikes)


def test_noise_is_reproducible_with_a_generator_and_scaled_by_sqrt_dt():
    x = torch.zeros(64, 200, 4)
    run = [
        lif(x, noise_std=2.0, dt=1e-2, generator=torch.Generator().manual_seed(7),
            record=True, threshold=1e6, tau_mem=1e6, backend="torch")[0].vmem
        for _ in range(2)
    ]
    assert torch.equal(run[0], run[1])
    # with τ_mem → ∞ and no spikes the membrane is a random walk: var(v_T) = σ²·dt·T
    variance = run[0][:, -1].var().item()
    expected = 2.0**2 * 1e-2 * 200
    assert abs(variance - expected) / expected < 0.15


def test_nan_input_propagates_into_spikes_and_membrane():
    x = torch.ones(1, 5, 2)
    x[0, 2, 0] = float("nan")
    out, _ = lif(x, record=True, backend="torch")
    assert torch.isnan(out.spikes[0, 2:, 0]).all() and torch.isnan(out.vmem[0, 2:, 0]).all()
    assert not torch.isnan(out.spikes[0, :2]).any() and not torch.isnan(out.spikes[..., 1]).any()


def test_empty_batch_or_time_gives_empty_outputs_and_the_initial_state():
    for shape in ((0, 5, 3), (2, 0, 3)):
        x = torch.zeros(shape, requires_grad=True)
        out, final = lif(x, record=True, output_final_state=True, backend="torch")
        assert out.spikes.shape == (shape[0], shape[1], 3)
        assert out.isyn.shape == (shape[0], shape[1], 3, 1)
        assert final.vmem.shape == (shape[0], 3) and not final.vmem.any()


def test_counts_beyond_float32_integers_follow_rockpools_clamp_formula():
    """Rockpool's s − (s − M)·(s > M) loses the count once s passes 2²⁴; so must we."""
    x = torch.zeros(1, 3, 2)
    x[0, 0, 0], x[0, 1, 1] = 3e8, 1e9
    alpha, beta = torch.full((2,), 0.9), torch.full((2, 1), 0.8)
    threshold, bias = torch.full((2,), 0.5), torch.zeros(2)
    out, _ = lif_decays(x, alpha, beta, threshold, bias, max_spikes_per_dt=5, record=True,
                        backend="torch")
    ref, _ = naive_lif(x, alpha, beta, threshold, bias, max_spikes_per_dt=5)
    assert torch.equal(out.spikes, ref.spikes) and torch.equal(out.vmem, ref.vmem)


@settings(max_examples=20, deadline=None)
@given(CONFIGS)
def test_torch_operations_path_equals_the_numpy_path(cfg):
    """On CUDA the backend's step loops run torch operations instead of numpy's ufuncs; the
    same IEEE float32 operations give the same forward, bit for bit, and the same gradients
    up to the order of float32 sums (a reduction over synapses and BLAS)."""
    out, final, grads = _run(cfg, torch.float32, ours=True)
    def torch_ops(t: torch.Tensor):  # type: ignore[no-untyped-def]
        return torch, lambda a: a

    with patch.object(lif_torch_steps, "array_namespace", torch_ops), \
            patch.object(scan_torch_backend, "array_namespace", torch_ops):
        t_out, t_final, t_grads = _run(cfg, torch.float32, ours=True)
    assert torch.equal(out.spikes, t_out.spikes)
    for a, b in zip((*out, *final), (*t_out, *t_final)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    for g, r in zip(grads, t_grads):
        if r is None:
            assert g is None
            continue
        assert ((g - r).norm() / r.norm().clamp_min(1e-6)).item() < 1e-5
