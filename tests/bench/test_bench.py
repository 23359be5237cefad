"""The benchmark harness end to end on tiny sizes, and saved-for-backward memory counts.

No timing is asserted anywhere: only that the harness measures, reports and plots what it
should, and the memory figures, which are deterministic byte counts.
"""

from __future__ import annotations

import csv
import importlib.util
import math

import pytest
import torch

from synnet_triton import bench
from synnet_triton.nn.lif import LIF
from synnet_triton.ops.lif.memory import SavedBytes, count_saved_bytes

CPU = torch.device("cpu")
FAST_CONTENDERS = ["synnet_triton [torch", "rockpool LIFTorch", "snntorch", "eager step loop"]


def _saved_new_bytes(steps: int, **lif_kwargs) -> int:
    lif = LIF(16, 1, max_spikes_per_dt=31, backend="torch", **lif_kwargs)
    x = (0.01 + 0.05 * torch.randn(2, steps, 16)).requires_grad_()
    _, saved = count_saved_bytes(lambda: lif(x), [x, *lif.parameters()])
    return saved.new_bytes


def _bytes_per_neuron_step(**lif_kwargs) -> float:
    """Growth of the saved bytes per added neuron-step (B=2, N=16), which leaves out the
    per-call constant (decays, parameters) that does not scale with the sequence."""
    grown = _saved_new_bytes(256, **lif_kwargs) - _saved_new_bytes(128, **lif_kwargs)
    return grown / (2 * 128 * 16)


def test_our_lif_saves_at_most_4_bytes_per_neuron_step():
    assert _bytes_per_neuron_step() <= 4.0


def test_our_checkpointed_lif_saves_at_most_half_a_byte_per_neuron_step():
    assert _bytes_per_neuron_step(checkpoint_every=32) <= 0.5


def test_counter_counts_each_storage_once_and_separates_references():
    x = torch.randn(100, requires_grad=True)
    weight = torch.randn(100, requires_grad=True)

    def forward():
        y = torch.exp(x)  # saves its output: a new allocation of 400 B
        z = y[:50] * y[50:]  # two views of that same storage
        return (z * weight[:50]).sum()  # views of the caller's weight: a reference

    _, saved = count_saved_bytes(forward, [x, weight])
    # exp's output (400 B, saved again by the first product through two views) and z (200 B)
    assert saved.new_bytes == 400 + 200
    assert saved.referenced_bytes == 400
    assert saved.n_storages == 3


def test_harness_runs_end_to_end_on_tiny_sizes(tmp_path):
    contenders = bench.select_contenders(bench.all_contenders(), FAST_CONTENDERS)
    workloads = bench.suite_workloads("tiny", CPU) + [
        bench.Workload(f"T{t}", "sweep-t", 2, t, 4) for t in (6, 12)
    ] + [bench.Workload(f"N{n}", "sweep-n", 2, 6, n) for n in (3, 6)]
    rows = bench.run_comparison(workloads, contenders, CPU, repeats=2, budget_s=30.0)

    assert {r.workload for r in rows} == {w.name for w in workloads}
    ours = [r for r in rows if r.contender == "synnet_triton [torch]"]
    assert ours and all(r.status == "ok" and r.repeats == 2 for r in ours)
    assert all(r.ratio_to_ours == 1.0 for r in ours)
    for row in rows:
        if row.status == "ok":
            assert row.median_s > 0 and row.min_s <= row.median_s
            assert row.saved_new_bytes_per_neuron_step >= 0
        else:
            assert row.status.startswith("skipped: ") and len(row.status) > len("skipped: ")
    if importlib.util.find_spec("snntorch") is not None:
        snn_s2 = [r for r in rows if r.contender == "snntorch Synaptic" and r.synapses == 2]
        assert all("S > 1" in r.status for r in snn_s2)

    bench.write_csv(rows, tmp_path / "results.csv")
    with (tmp_path / "results.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(rows)
    table = bench.format_markdown(rows)
    assert "synnet_triton [torch]" in table and "fwd+bwd × ours" in table
    plots = bench.plot_results(rows, tmp_path)
    assert {p.name for p in plots} == {"time_vs_T.png", "time_vs_N.png", "memory_vs_T.png"}
    assert all(p.stat().st_size > 0 for p in plots)


def test_main_writes_table_csv_and_environment(tmp_path, capsys):
    status = bench.main(["--suite", "tiny", "--contender", "synnet_triton [torch]",
                         "--repeats", "1", "--out", str(tmp_path), "--no-progress"])
    assert status == 0
    assert {"results.csv", "table.md", "environment.json"} <= {
        p.name for p in tmp_path.iterdir()}
    assert "tiny-S2" in capsys.readouterr().out


def test_missing_or_unsuitable_peers_are_skipped_with_a_reason():
    workload = bench.Workload("w", "tiny", 1, 4, 3)
    exodus = next(c for c in bench.all_contenders() if c.name == "rockpool LIFExodus")
    assert "CUDA" in exodus.unavailable(workload, CPU)
    triton = next(c for c in bench.all_contenders() if c.name == "synnet_triton [triton]")
    assert triton.unavailable(workload, CPU) is not None


@pytest.mark.parametrize("peer", ["rockpool LIFTorch", "snntorch Synaptic"])
def test_peer_memory_is_counted_the_same_way_as_ours(peer):
    """The harness's memory column for a peer is count_saved_bytes over its forward, with
    its input and parameters as references, scaled per neuron-step like ours."""
    contender = next(c for c in bench.all_contenders() if c.name == peer)
    workload = bench.Workload("w", "tiny", 2, 32, 8)
    reason = contender.unavailable(workload, CPU)
    if reason is not None:
        pytest.skip(reason)
    (row, _) = [r for r in bench.run_workload(workload, [contender], CPU, repeats=1)]
    runner = contender.build(workload, CPU)
    x = runner.prepare(bench.make_input(workload, CPU, seed=0)).requires_grad_()
    _, saved = count_saved_bytes(lambda: runner.forward(x), [x, *runner.parameters])
    # Rockpool's module state makes a few per-call tensors (a few hundred bytes, not per
    # neuron-step) depend on the call history, hence the tolerance.
    assert row.saved_new_bytes_per_neuron_step == pytest.approx(
        saved.new_bytes / workload.neuron_steps, rel=0.02)
    # Rockpool and snnTorch keep several tensors per step; our op keeps one.
    assert row.saved_new_bytes_per_neuron_step > 4.0


def test_roofline_model_counts_io_and_saved_bytes():
    workload = bench.Workload("w", "tiny", 2, 10, 3, synapses=2)
    io = 2 * 10 * 3 * 4 * 3  # x has 2 synapses per neuron, spikes 1: 12 B per neuron-step
    assert bench.model_bytes(workload, bench.FORWARD, None) == io
    saved = SavedBytes(new_bytes=100, referenced_bytes=7, n_storages=2)
    # The backward moves as much I/O again, the saved bytes are written then read, references
    # read once.
    assert bench.model_bytes(workload, bench.FORWARD_BACKWARD, saved) == 2 * io + 200 + 7
    linear = bench.Workload("l", "tiny", 2, 10, 3, linear=True)
    assert math.isnan(bench.model_bytes(linear, bench.FORWARD, None))
