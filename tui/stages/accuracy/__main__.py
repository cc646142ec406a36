"""`python -m tui.stages.accuracy --url URL …`: the accuracy stage's entry point.

Speaks the stage protocol (JSON lines on stdout). Exit status: 0 the run completed (even with some
failed requests, which are counted apart), 1 no request succeeded or the server could not be
reached, 2 bad options or an unreadable dataset; every failure ends with one `error` event.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui.stages.accuracy.options import add_run_arguments
from tui.stages.entry import StageParser, run_stage_main


def build_parser() -> argparse.ArgumentParser:
    parser = StageParser(prog="python -m tui.stages.accuracy",
                         description="GSM8K accuracy of an OpenAI-compatible server (few-shot chain of thought)")
    add_run_arguments(parser)
    parser.add_argument("--items", type=Path, metavar="FILE",
                        help="the per-problem JSONL (default: items.jsonl in the stage's run folder)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tui.stages.accuracy.stage import run_accuracy

    return run_stage_main(run_accuracy(args),
                          cancelled="the accuracy run was cancelled; the problems answered so far are in items.jsonl.")


if __name__ == "__main__":
    sys.exit(main())
