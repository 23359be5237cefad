"""``python -m synnet_triton.bench``: the side-by-side comparison from the command line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import torch

from synnet_triton.bench.measure import run_comparison
from synnet_triton.bench.peers import all_contenders, select_contenders
from synnet_triton.bench.report import environment, format_markdown, plot_results, write_csv
from synnet_triton.bench.workloads import DEFAULT_SUITES, PASSES, SUITES, suite_workloads


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synnet-triton bench",
        description="Side-by-side LIF benchmark of synnet_triton against installed peers.")
    parser.add_argument("--suite", action="append", choices=SUITES,
                        help=f"workload suite, repeatable (default: {', '.join(DEFAULT_SUITES)})")
    parser.add_argument("--contender", action="append", metavar="SUBSTRING",
                        help="only contenders whose name contains this, repeatable")
    parser.add_argument("--pass", dest="passes", action="append", choices=PASSES,
                        help="fwd and/or fwd+bwd (default: both)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed calls per contender and pass (default 5)")
    parser.add_argument("--budget-s", type=float, default=60.0,
                        help="time budget per contender, workload and pass (default 60 s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench-results"),
                        help="folder for results.csv, table.md, environment.json and plots")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison, print the markdown table, write CSV, table, environment, plots."""
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    suites = args.suite or list(DEFAULT_SUITES)
    workloads = [w for suite in suites for w in suite_workloads(suite, device)]
    contenders = select_contenders(all_contenders(), args.contender)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = run_comparison(workloads, contenders, device, passes=args.passes or PASSES,
                          repeats=args.repeats, budget_s=args.budget_s, seed=args.seed,
                          progress=not args.no_progress,
                          on_workload_done=lambda so_far: write_csv(so_far,
                                                                    args.out / "results.csv"))
    env = environment()
    table = format_markdown(rows)
    header = (f"Measured {env['date_utc']} on {env['machine']}"
              f"{', GPU ' + env['gpu'] if env['gpu'] else ''}, "
              f"{env['torch_threads']} torch thread(s); load average "
              f"{', '.join(f'{x:.2f}' for x in env['load_average_1_5_15'])}; "
              f"command `{env['command']}`\n")
    (args.out / "table.md").write_text(header + table)
    (args.out / "environment.json").write_text(json.dumps(env, indent=2) + "\n")
    written = [] if args.no_plots else plot_results(rows, args.out)
    print(header + table)
    print(f"wrote {args.out / 'results.csv'}, {args.out / 'table.md'}"
          + "".join(f", {p}" for p in written))
    return 0

