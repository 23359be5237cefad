"""Side-by-side comparison of our LIF operation with every installed peer library.

Every contender (ours per backend, Rockpool ``LIFTorch``/``LIFExodus``, SpikingJelly
``LIFNode``, snnTorch ``Synaptic``, Norse ``LIF``, a plain torch step loop eager and under
``torch.compile``) gets the same work: one LIF layer (optionally behind a ``Linear`` layer) on
the same input, forward alone and forward + backward of ``spikes.sum()``. Calls are
interleaved round-robin within one run so that load on a shared machine hits every contender
alike; the table reports the median and its ratio to ours.

Memory is reported two ways: bytes saved for backward per neuron-step, counted with
saved-tensor hooks (:mod:`synnet_triton.ops.lif.memory`; device independent, new allocations apart
from references to inputs and parameters), and on CUDA the peak allocated memory of one
forward + backward.

Roofline: the bytes an implementation must move are at least its inputs and outputs plus
what it saves (written once, read once); achieved bandwidth is that byte count over the
median time, compared with a measured copy on the same device. This is a model, a lower bound
on the traffic of every contender; it is meaningful on a GPU, printed on CPU for completeness.

Peers are optional: a contender whose library is missing, or that cannot run the workload
(device, synapse count), is listed with the reason and never replaced by anything else.

Modules: ``workloads`` (what is measured), ``peers`` (one adapter per contender),
``answers`` (each contender's answer checked before it is timed), ``measure`` (timing,
memory, roofline), ``report`` (CSV, Markdown, PNG), ``cli``.

Run ``python -m synnet_triton.bench --help``; the rows with Norse and SpikingJelly need the
peers venv built by ``benchmarks/setup_peers_venv.sh``.
"""

from synnet_triton.bench.cli import build_parser, main
from synnet_triton.bench.measure import (
    ResultRow,
    measure_copy_bandwidth,
    model_bytes,
    run_comparison,
    run_workload,
)
from synnet_triton.bench.peers import Contender, Runner, all_contenders, select_contenders
from synnet_triton.bench.report import environment, format_markdown, plot_results, write_csv
from synnet_triton.bench.workloads import (
    DEFAULT_SUITES,
    FORWARD,
    FORWARD_BACKWARD,
    PASSES,
    SUITES,
    Workload,
    make_input,
    suite_workloads,
)

__all__ = [
    "DEFAULT_SUITES",
    "FORWARD",
    "FORWARD_BACKWARD",
    "PASSES",
    "SUITES",
    "Contender",
    "ResultRow",
    "Runner",
    "Workload",
    "all_contenders",
    "build_parser",
    "environment",
    "format_markdown",
    "main",
    "make_input",
    "measure_copy_bandwidth",
    "model_bytes",
    "plot_results",
    "run_comparison",
    "run_workload",
    "select_contenders",
    "suite_workloads",
    "write_csv",
]
