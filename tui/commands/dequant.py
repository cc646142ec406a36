"""`npu-console dequant SRC DST [--block 128] [--force] [--dry-run] [--json]`: the dequant stage from the shell.

The stage runs as a subprocess (`python -m tui.stages.dequant`), exactly as the
console runs it, with its events, stderr and result kept in a run directory.
Progress goes to stderr as one updating line; `--json` prints the result
object on stdout. Exit status: the stage's (0 done, 1 failed, 2 bad input); 2 also when the runs
folder cannot be written; 130/143/129 after Ctrl-C, SIGTERM or SIGHUP, which stop the stage first (it
removes its partial output), each said in one sentence.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PROG = "npu-console dequant"


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
    from tui.commands.stage_cli import StageEcho, cli_run_dir, exit_status, run_stage_to_end

    stage_args = [args.src, args.dst]
    if args.block:
        stage_args += ["--block", str(args.block)]
    if args.force:
        stage_args.append("--force")
    if args.dry_run:
        stage_args.append("--dry-run")
    echo = StageEcho(PROG)
    run_dir = cli_run_dir(PROG, args.runs_dir, "cli", "dequant")
    if run_dir is None:
        return 2
    outcome = run_stage_to_end("dequant", stage_args, run_dir=run_dir, python=args.python, echo=echo,
                               kept="DST was not written")
    if isinstance(outcome, int):
        return outcome
    if outcome.result is not None:
        if args.json:
            print(json.dumps(dict(outcome.result), indent=2, ensure_ascii=False))
        else:
            for key, value in outcome.result.items():  # nested values as JSON, never a Python repr
                shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                print(f"{key}: {shown}")
    return exit_status(outcome, echo)
