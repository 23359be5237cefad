"""The harness checks answers before times: every contender's spikes are compared with its
model's oracle and probed for a causal response, and a contender that fails is reported as
a wrong answer and never timed. Planted contenders that run half the steps, or get the
wrong input, must be caught."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from synnet_triton import bench
from synnet_triton.bench.answers import check_answer, lif_oracle, snntorch_synaptic_oracle
from synnet_triton.bench.peers import Contender, Runner
from synnet_triton.bench.workloads import THRESHOLD

CPU = torch.device("cpu")
WORKLOADS = [bench.Workload("lif", "tiny", 2, 40, 6, synapses=2),
             bench.Workload("linear", "tiny", 2, 40, 6, linear=True)]


def _contender(name: str) -> Contender:
    return next(c for c in bench.all_contenders() if c.name == name)


def _available(name: str, workload: bench.Workload) -> Contender:
    contender = _contender(name)
    reason = contender.unavailable(workload, CPU)
    if reason is not None:
        pytest.skip(reason)
    return contender


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
@pytest.mark.parametrize("name", ["synnet_triton [torch]", "synnet_triton [torch, checkpoint "
                                  "every 32]", "rockpool LIFTorch", "torch eager step loop"])
def test_every_same_model_contender_agrees_with_the_reference_loop(name, workload):
    contender = _available(name, workload)
    runner = contender.build(workload, CPU)
    verdict = check_answer(runner.spikes, contender.oracle, workload,
                           bench.make_input(workload, CPU, seed=0))
    assert verdict.passed, verdict.detail
    assert "oracle agreement 100.00%" in verdict.detail


def test_snntorch_agrees_with_its_stated_recurrence():
    workload = bench.Workload("lif", "tiny", 2, 60, 8)
    contender = _available("snntorch Synaptic", workload)
    runner = contender.build(workload, CPU)
    x = bench.make_input(workload, CPU, seed=0) * 8  # enough drive for single spikes
    spikes = runner.spikes(x)
    assert spikes.sum() > 10
    assert torch.equal(spikes, snntorch_synaptic_oracle(workload, x))
    assert check_answer(runner.spikes, contender.oracle, workload, x).passed


def _planted(base: Contender, name: str, corrupt) -> Contender:
    """``base`` with its forward's input or output corrupted by ``corrupt(x, forward)``."""

    def build(workload, device):
        runner = base.build(workload, device)
        return dataclasses.replace(runner, forward=lambda x: corrupt(x, runner.forward))

    return dataclasses.replace(base, name=name, build=build, is_ours=False)


def _half_the_steps(x, forward):
    """Runs the first half of the sequence and pads the rest with no spikes."""
    spikes = forward(x[:, : x.shape[1] // 2])
    return torch.cat([spikes, torch.zeros_like(spikes[:, : x.shape[1] - spikes.shape[1]])], 1)


def _wrong_input(x, forward):
    """Gets a fresh random input of the right shape instead of the shared one."""
    return forward(torch.randn(x.shape, generator=torch.Generator().manual_seed(9)) * 0.05)


@pytest.mark.parametrize("oracle", [True, False], ids=["with oracle", "probe only"])
@pytest.mark.parametrize("corrupt", [_half_the_steps, _wrong_input])
@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda w: w.name)
def test_planted_wrong_contenders_are_reported_and_not_timed(corrupt, oracle, workload):
    ours = _contender("synnet_triton [torch]")
    bad = _planted(ours, f"planted {corrupt.__name__}", corrupt)
    if not oracle:
        bad = dataclasses.replace(bad, oracle=None)
    rows = bench.run_workload(workload, [ours, bad], CPU, repeats=1)
    good = [r for r in rows if r.contender == ours.name]
    wrong = [r for r in rows if r.contender == bad.name]
    assert all(r.status == "ok" and r.repeats == 1 for r in good)
    assert len(wrong) == 2
    for row in wrong:
        assert row.status.startswith("wrong answer: "), row.status
        assert row.repeats == 0 and math.isnan(row.median_s) and math.isnan(row.ratio_to_ours)


def test_a_contender_that_reverses_time_is_not_causal():
    workload = WORKLOADS[0]
    ours = _contender("synnet_triton [torch]")
    runner = ours.build(workload, CPU)
    reversed_run = dataclasses.replace(runner, forward=lambda x: runner.forward(x.flip(1)))
    verdict = check_answer(reversed_run.spikes, None, workload,
                           bench.make_input(workload, CPU, seed=0))
    assert not verdict.passed and "not causal" in verdict.detail


def test_a_wrong_output_shape_is_a_wrong_answer():
    workload = WORKLOADS[0]
    runner = _contender("synnet_triton [torch]").build(workload, CPU)
    dropped = Runner(runner.prepare, lambda x: runner.forward(x)[:, :-1], runner.parameters)
    verdict = check_answer(dropped.spikes, lif_oracle, workload,
                           bench.make_input(workload, CPU, seed=0))
    assert not verdict.passed and "shape" in verdict.detail


def test_the_probe_changes_only_the_last_quarter_by_a_stated_rule():
    workload = bench.Workload("w", "tiny", 1, 8, 2)
    seen = []

    def record(x):
        seen.append(x.clone())
        return torch.zeros(x.shape[0], x.shape[1], workload.neurons)

    x = torch.ones(1, 8, 2)
    verdict = check_answer(record, None, workload, x)
    assert not verdict.passed and "do not respond" in verdict.detail
    original, probe = seen
    assert torch.equal(original, x)
    assert torch.equal(probe[:, :6], x[:, :6])
    assert torch.equal(probe[:, 6:], torch.full((1, 2, 2), 4.0 + THRESHOLD))
