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
    import asyncio

    from tui.clock import SystemClock
    from tui.runs import create_run_dir
    from tui.stages.events import LogEvent, Progress, StageError, StageEvent
    from tui.stages.runner import StageRun
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

    said_error = False

    def on_event(event: StageEvent | str) -> None:
        nonlocal said_error
        if isinstance(event, Progress):
            total = f"/{event.total:g}" if event.total else ""
            print(f"\r{event.done:g}{total} {event.unit} {event.message[:60]:<60}", end="", file=sys.stderr,
                  flush=True)
        elif isinstance(event, LogEvent):
            print(f"\n{event.level}: {event.message}", file=sys.stderr)
        elif isinstance(event, StageError):
            said_error = True
            print(f"\nnpu-console dequant: {event.message}", file=sys.stderr)
        elif isinstance(event, str) and event.strip():
            print(event, file=sys.stderr)

    stage = StageRun("dequant", stage_args, run_dir=run_dir, python=args.python, on_event=on_event)
    try:
        outcome = asyncio.run(stage.run())
    except KeyboardInterrupt:
        print("\nnpu-console dequant: interrupted; DST was not written.", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    if outcome.result is not None:
        if args.json:
            print(json.dumps(dict(outcome.result), indent=2, ensure_ascii=False))
        else:
            for key, value in outcome.result.items():
                print(f"{key}: {value}")
    if not outcome.ok:
        if outcome.error and not outcome.result and not said_error:
            print(f"npu-console dequant: {outcome.error}", file=sys.stderr)
        return outcome.exit_code if outcome.exit_code in (1, 2) else 1
    print(f"Run files: {outcome.run_folder}", file=sys.stderr)
    return 0
