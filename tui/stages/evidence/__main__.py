"""`python -m tui.stages.evidence --url URL …`: the inference-evidence stage's entry point.

Exit status: 0 the evidence was gathered (differing runs are findings, said in the result and the log),
1 the server could not be reached or every request failed, 2 bad options; every failure ends with one
`error` event.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tui.files.atomic import atomic_write_json
from tui.stages.entry import StageParser, run_stage_main
from tui.stages.evidence.options import add_stage_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = StageParser(prog="python -m tui.stages.evidence",
                         description="Inference evidence: prompts at temperature 0 twice, API exchanges as curl.")
    add_stage_arguments(parser)
    parser.add_argument("--json", dest="json_file", metavar="FILE", help="also write the result to FILE")
    return parser


async def _evidence(args: argparse.Namespace) -> dict[str, Any]:
    """The stage's result, also written to `--json FILE` when given."""
    from tui.stages.evidence.stage import run_evidence

    result = await run_evidence(args)
    if args.json_file:
        atomic_write_json(args.json_file, result)
    return result


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_stage_main(_evidence(args),
                          cancelled="the evidence run was cancelled; the requests so far are in prompts.jsonl.")


if __name__ == "__main__":
    sys.exit(main())
