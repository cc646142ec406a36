"""`npu-console bench latency|concurrency|serve|compare …`: the benchmark stage from the shell.

The three modes run the stage as a subprocess (`python -m tui.stages.bench`), exactly as the
console runs it, with its events, stderr, `requests.jsonl` and result kept in a run directory.
Progress goes to stderr as one updating line; the summary (vLLM's "Serving Benchmark Result"
layout) or, with `--json`, the result object goes to stdout. `compare` reads two saved results
in-process and prints the deltas. Exit status: 0 completed (even with some failed requests),
1 no request succeeded or the server is unreachable, 2 bad usage, an unreadable file or a runs
folder that cannot be written; Ctrl-C 130, SIGTERM 143, SIGHUP 129 (the stage is stopped first).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.stages.events import Progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tui.stages.bench.options import MODES, add_compare_arguments, add_mode_arguments

    modes = parser.add_subparsers(dest="bench_mode", metavar="MODE", required=True)
    helps = {
        "latency": "N sequential requests: latency mean/p50/min/max/std, TTFT, TPOT",
        "concurrency": "N requests with C in flight: QPS, success rate, latency percentiles, failures",
        "serve": "vLLM's serving benchmark: random dataset, request rate, TTFT/TPOT/ITL/E2EL, throughput",
    }
    for mode in MODES:
        sub = modes.add_parser(mode, help=helps[mode], description=helps[mode] + ".")
        add_mode_arguments(sub, mode)
        sub.add_argument("--json", action="store_true", help="print the result object on stdout instead")
        sub.add_argument("--python", metavar="PATH", help="the interpreter that runs the stage (default: this one)")
        sub.add_argument("--runs-dir", metavar="DIR", type=Path,
                         help="where the run folder goes (default: $XDG_DATA_HOME/npu-console/runs/cli)")
    compare = modes.add_parser("compare", help="two saved results side by side, with deltas in percent",
                               description="Compare two results written by --result-json (A is the baseline).")
    add_compare_arguments(compare)


def run(args: argparse.Namespace) -> int:
    if args.bench_mode == "compare":
        return _compare(args)
    return _run_stage(args)


def _compare(args: argparse.Namespace) -> int:
    from tui.commands.stage_cli import print_comparison
    from tui.stages.bench.__main__ import compare_files
    from tui.stages.bench.compare import CompareError, format_table

    return print_comparison("npu-console bench compare", lambda: compare_files(args.a, args.b), format_table,
                            as_json=args.json, unreadable=CompareError)


def _progress(event: Progress) -> str:
    """The running figures: requests done, request rate, median TTFT."""
    rate, ttft = event.extra.get("req_s"), event.extra.get("ttft_p50_ms")
    figures = (f" {rate:.1f} req/s" if isinstance(rate, (int, float)) else "") + (
        f" TTFT p50 {ttft:.1f} ms" if isinstance(ttft, (int, float)) else "")
    return f"{event.message[:50]}{figures:<40}"


def _run_stage(args: argparse.Namespace) -> int:
    from tui.commands.stage_cli import StageEcho, cli_run_dir, exit_status, run_stage_to_end
    from tui.stages.bench.options import to_stage_argv
    from tui.stages.bench.report import format_summary

    mode = args.bench_mode
    echo = StageEcho(f"npu-console bench {mode}", _progress)
    run_dir = cli_run_dir(echo.prog, args.runs_dir, "cli", f"bench {mode}")
    if run_dir is None:
        return 2
    outcome = run_stage_to_end("bench", to_stage_argv(args, mode), run_dir=run_dir, python=args.python, echo=echo,
                               kept=f"the requests sent so far are in {run_dir}")
    if isinstance(outcome, int):
        return outcome
    if outcome.result is not None:
        if args.json:
            print(json.dumps(dict(outcome.result), indent=2, ensure_ascii=False))
        else:
            print(format_summary(outcome.result))
    return exit_status(outcome, echo)
