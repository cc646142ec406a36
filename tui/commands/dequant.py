"""`npu-console dequant SRC DST [--block 128] [--force] [--dry-run] [--json]`: the dequant stage from the shell.

The stage runs as a subprocess (`python -m tui.stages.dequant`), exactly as the
console runs it, with its events, stderr and result kept in a run directory.
Progress goes to stderr as one updating line; `--json` prints the result
object on stdout. Exit status: the stage's (0 done, 1 failed, 2 bad input).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", metavar="SRC", help="the FP8 checkpoint folder")
    parser.add_argument("dst", metavar="DST", help="where the BF16 checkpoint goes (created; must not exist)")
    parser.add_argument("--block", type=int, metavar="N", help="block size (default: from config.json, else 128)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty DST")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and the output size; write nothing")
    parser.add_argument("--json", action="store_true", help="print the result object on stdout")
    parser.add_argument("--python", metavar="PATH", help="the interpreter that runs the stage (default: this one)")
    parser.add_argument("--runs-dir", metavar="DIR", type=Path,
                        help="where the run folder goes (default: $XDG_DATA_HOME/npu-console/runs/cli)")


def run(args: argparse.Namespace) -> int:
    from tui.clock import SystemClock
    from tui.commands.stage_cli import StageEcho, exit_status, run_stage
    from tui.runs import create_run_dir
    from tui.xdg import default_runs_dir

    stage_args = [args.src, args.dst]
    if args.block:
        stage_args += ["--block", str(args.block)]
    if args.force:
        stage_args.append("--force")
    if args.dry_run:
        stage_args.append("--dry-run")
    run_dir = create_run_dir((args.runs_dir or default_runs_dir()).expanduser(), "cli", SystemClock(),
                             {"command": "dequant"})
    echo = StageEcho("npu-console dequant")
    try:
        outcome = run_stage("dequant", stage_args, run_dir=run_dir, python=args.python, echo=echo)
    except KeyboardInterrupt:
        print("\nnpu-console dequant: interrupted; DST was not written.", file=sys.stderr)
        return 1
    if outcome.result is not None:
        if args.json:
            print(json.dumps(dict(outcome.result), indent=2, ensure_ascii=False))
        else:
            for key, value in outcome.result.items():  # nested values as JSON, never a Python repr
                shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                print(f"{key}: {shown}")
    return exit_status(outcome, echo)
