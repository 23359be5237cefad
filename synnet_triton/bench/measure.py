"""Measurement: interleaved timing, saved-for-backward bytes, peak memory, the copy bandwidth
and the roofline model, one :class:`ResultRow` per contender, workload and pass."""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from synnet_triton.bench.answers import check_answer
from synnet_triton.bench.peers import Contender, Runner, batch_first
from synnet_triton.bench.workloads import FORWARD, PASSES, Workload, make_input
from synnet_triton.ops.lif.memory import SavedBytes, count_saved_bytes


@dataclass
class ResultRow:
    """One line of the CSV: a contender on a workload and pass."""

    device: str
    workload: str
    suite: str
    batch: int
    steps: int
    neurons: int
    synapses: int
    linear: bool
    contender: str
    pass_: str
    status: str = "ok"
    repeats: int = 0
    median_s: float = math.nan
    min_s: float = math.nan
    ratio_to_ours: float = math.nan
    neuron_steps_per_s: float = math.nan
    saved_new_bytes_per_neuron_step: float = math.nan
    saved_referenced_bytes_per_neuron_step: float = math.nan
    peak_allocated_mib: float = math.nan
    model_bytes: float = math.nan
    achieved_gbps: float = math.nan
    copy_gbps: float = math.nan
    fraction_of_copy: float = math.nan
    note: str = ""
    answer_check: str = ""


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pass_call(runner: Runner, x: Tensor, pass_: str) -> Callable[[], None]:
    """A closure running one forward (no grad) or one forward + backward of spikes.sum()."""
    if pass_ == FORWARD:
        def forward_only() -> None:
            with torch.no_grad():
                runner.forward(x)
        return forward_only

    def forward_backward() -> None:
        x.grad = None
        for parameter in runner.parameters:
            parameter.grad = None
        runner.forward(x).sum().backward()
    return forward_backward


def synchronized(call: Callable[[], None], device: torch.device) -> Callable[[], None]:
    """``call`` followed by waiting for the device, so that a timing covers the GPU's work."""
    if device.type != "cuda":
        return call

    def call_and_wait() -> None:
        call()
        _synchronize(device)

    return call_and_wait


def _timed(call: Callable[[], None], device: torch.device) -> float:
    _synchronize(device)
    start = time.perf_counter()
    call()
    _synchronize(device)
    return time.perf_counter() - start


def median_ms(call: Callable[[], Any], device: torch.device, repeats: int) -> float:
    """Median wall time of ``call()`` over ``repeats`` calls in ms: CUDA events on a GPU (the
    device's own time between the launches), ``perf_counter`` elsewhere. No warm-up."""
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            stop.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(stop))
        else:
            begin = time.perf_counter()
            call()
            times.append((time.perf_counter() - begin) * 1e3)
    return statistics.median(times)


def _saved_bytes(runner: Runner, workload: Workload, device: torch.device, seed: int
                 ) -> SavedBytes:
    """Saved-for-backward bytes of one forward at batch ≤ 2 (the count scales with B)."""
    batch = min(workload.batch, 2)
    x = runner.prepare(make_input(workload, device, seed))
    x = (x[:batch] if runner.prepare is batch_first else x[:, :batch]).clone()
    x.requires_grad_(not workload.linear)
    spikes, saved = count_saved_bytes(lambda: runner.forward(x), [x, *runner.parameters])
    del spikes
    scale = workload.batch / batch
    return SavedBytes(round(saved.new_bytes * scale), round(saved.referenced_bytes * scale),
                      saved.n_storages)


def _peak_allocated_mib(call: Callable[[], None], device: torch.device) -> float:
    if device.type != "cuda":
        return math.nan
    _synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device)
    call()
    _synchronize(device)
    return (torch.cuda.max_memory_allocated(device) - baseline) / 2**20


def measure_copy_bandwidth(device: torch.device, repeats: int = 5) -> float:
    """Bytes per second of a device-to-same-device tensor copy (read + write counted)."""
    n_floats = 2**28 if device.type == "cuda" else 2**25
    source = torch.ones(n_floats, device=device)
    target = torch.empty_like(source)

    def copy() -> None:
        target.copy_(source)

    copy()
    times = [_timed(copy, device) for _ in range(repeats)]
    return 2 * source.numel() * source.element_size() / statistics.median(times)


def model_bytes(workload: Workload, pass_: str, saved: SavedBytes | None) -> float:
    """Lower bound on the bytes a LIF pass moves (fp32): inputs and outputs, plus the saved
    tensors written in the forward and read in the backward (references read once).

    Not defined with the Linear layer in front: there the matrix products dominate.
    """
    if workload.linear:
        return math.nan
    per_step = 4 * workload.neurons * (workload.synapses + 1)  # read x, write spikes
    io = workload.batch * workload.steps * per_step
    if pass_ == FORWARD:
        return float(io)
    if saved is None:
        return math.nan
    # The backward reads the spike gradient and writes the input gradient: as much again.
    return float(2 * io + 2 * saved.new_bytes + saved.referenced_bytes)


@dataclass
class _Entry:
    """A contender's runner and measurements on one workload."""

    contender: Contender
    runner: Runner | None = None
    skip_reason: str | None = None
    wrong_answer: str | None = None
    answer: str = ""
    times: dict[str, list[float]] = field(default_factory=dict)
    saved: SavedBytes | None = None
    memory_note: str = ""
    peak_mib: dict[str, float] = field(default_factory=dict)


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="call", file=sys.stderr, leave=False)


def run_workload(workload: Workload, contenders: Sequence[Contender], device: torch.device,
                 *, passes: Sequence[str] = PASSES, repeats: int = 5, budget_s: float = 60.0,
                 seed: int = 0, copy_bandwidth: float = math.nan, progress: bool = False
                 ) -> list[ResultRow]:
    """Measure every contender on one workload, interleaved round-robin; one row per pass.

    First each contender's answer is checked (:func:`.answers.check_answer`): one that fails
    is reported ``wrong answer: ...`` and not timed. Each contender gets ``repeats`` timed
    calls per pass unless its warm-up call says that would exceed ``budget_s``; then it gets
    as many as fit (at least one) and sits out the later rounds. The order of contenders
    rotates every round.
    """
    entries = [_Entry(c) for c in contenders]
    base_input = make_input(workload, device, seed)
    for entry in entries:
        entry.skip_reason = entry.contender.unavailable(workload, device)
        if entry.skip_reason is not None:
            continue
        try:
            entry.runner = entry.contender.build(workload, device)
        except Exception as error:  # a peer that fails to build is reported, not fatal
            entry.skip_reason = f"failed to build: {type(error).__name__}: {error}"
    for entry in entries:
        if entry.runner is None:
            continue
        try:
            verdict = check_answer(entry.runner.spikes, entry.contender.oracle, workload,
                                   base_input)
        except Exception as error:  # a peer that fails on this workload is reported
            entry.skip_reason = f"failed: {type(error).__name__}: {error}"
            entry.runner = None
            continue
        entry.answer = verdict.detail
        if not verdict.passed:
            entry.wrong_answer = verdict.detail
            entry.runner = None
    usable = [e for e in entries if e.runner is not None]
    inputs = {}
    for entry in usable:
        assert entry.runner is not None
        x = entry.runner.prepare(base_input).clone()
        inputs[id(entry)] = x.requires_grad_(not workload.linear)

    bar = _progress(len(passes) * len(usable) * (repeats + 1), progress)
    for pass_ in passes:
        allowed: dict[int, int] = {}
        calls: dict[int, Callable[[], None]] = {}
        for entry in list(usable):
            assert entry.runner is not None
            call = pass_call(entry.runner, inputs[id(entry)], pass_)
            try:
                warm = _timed(call, device)
                if warm < budget_s / 4:
                    warm = _timed(call, device)
            except Exception as error:  # a peer that fails on this workload is reported
                entry.skip_reason = f"failed: {type(error).__name__}: {error}"
                usable.remove(entry)
                continue
            calls[id(entry)] = call
            allowed[id(entry)] = max(1, min(repeats, int(budget_s // max(warm, 1e-9))))
            entry.times[pass_] = []
            if bar is not None:
                bar.update(1)
        for round_index in range(repeats):
            rotation = round_index % max(len(usable), 1)
            for entry in usable[rotation:] + usable[:rotation]:
                if round_index < allowed.get(id(entry), 0):
                    entry.times[pass_].append(_timed(calls[id(entry)], device))
                    if bar is not None:
                        bar.update(1)
        for entry in usable:
            entry.peak_mib[pass_] = _peak_allocated_mib(calls[id(entry)], device)
    if bar is not None:
        bar.close()

    for entry in usable:
        assert entry.runner is not None
        try:
            entry.saved = _saved_bytes(entry.runner, workload, device, seed)
        except Exception as error:  # the memory count is optional for a peer that rejects it
            entry.memory_note = f"saved-bytes count failed: {type(error).__name__}: {error}"
    return _rows(workload, entries, passes, device, copy_bandwidth)


def _rows(workload: Workload, entries: Sequence[_Entry], passes: Sequence[str],
          device: torch.device, copy_bandwidth: float) -> list[ResultRow]:
    """Turn measurements into rows, with ratios to the first usable row of ours."""
    reference = next((e for e in entries if e.contender.is_ours and e.times), None)
    rows = []
    for entry in entries:
        for pass_ in passes:
            row = ResultRow(str(device), workload.name, workload.suite, workload.batch,
                            workload.steps, workload.neurons, workload.synapses,
                            workload.linear, entry.contender.name, pass_,
                            note="; ".join(filter(None, [entry.contender.note,
                                                         entry.memory_note])))
            times = entry.times.get(pass_)
            row.answer_check = entry.answer
            if entry.wrong_answer is not None:
                row.status = f"wrong answer: {entry.wrong_answer}"
                rows.append(row)
                continue
            if not times:
                row.status = f"skipped: {entry.skip_reason}"
                rows.append(row)
                continue
            row.repeats = len(times)
            row.median_s = statistics.median(times)
            row.min_s = min(times)
            row.neuron_steps_per_s = workload.neuron_steps / row.median_s
            if reference is not None and reference.times.get(pass_):
                row.ratio_to_ours = row.median_s / statistics.median(reference.times[pass_])
            if entry.saved is not None:
                row.saved_new_bytes_per_neuron_step = entry.saved.new_bytes / workload.neuron_steps
                row.saved_referenced_bytes_per_neuron_step = (
                    entry.saved.referenced_bytes / workload.neuron_steps)
            row.peak_allocated_mib = entry.peak_mib.get(pass_, math.nan)
            row.model_bytes = model_bytes(workload, pass_, entry.saved)
            row.achieved_gbps = row.model_bytes / row.median_s / 1e9
            row.copy_gbps = copy_bandwidth / 1e9
            row.fraction_of_copy = row.achieved_gbps / row.copy_gbps
            rows.append(row)
    return rows


def run_comparison(workloads: Iterable[Workload], contenders: Sequence[Contender],
                   device: torch.device, *, passes: Sequence[str] = PASSES, repeats: int = 5,
                   budget_s: float = 60.0, seed: int = 0, progress: bool = False,
                   on_workload_done: Callable[[list[ResultRow]], None] | None = None
                   ) -> list[ResultRow]:
    """Run :func:`run_workload` over ``workloads``; one copy-bandwidth measurement for all.

    ``on_workload_done`` receives the rows so far after each workload, so that a long run
    leaves its results behind even if it is stopped.
    """
    copy_bandwidth = measure_copy_bandwidth(device)
    rows: list[ResultRow] = []
    for workload in workloads:
        rows += run_workload(workload, contenders, device, passes=passes, repeats=repeats,
                             budget_s=budget_s, seed=seed, copy_bandwidth=copy_bandwidth,
                             progress=progress)
        if on_workload_done is not None:
            on_workload_done(rows)
    return rows
