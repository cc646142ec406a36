"""`python -m tui.stages.evidence --url URL …`: the inference-evidence stage's entry point.

Exit status: 0 the evidence was gathered (differing runs are findings, said in the result and the log),
1 the server could not be reached or every request failed, 2 bad options; every failure ends with one
`error` event.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tui.files.atomic import atomic_write_json
from tui.stages.events import emit_error, emit_result
from tui.stages.evidence.options import add_stage_arguments


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        emit_error(f"{self.prog}: {message}")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m tui.stages.evidence",
                     description="Inference evidence: prompts at temperature 0 twice, API exchanges as curl.")
    add_stage_arguments(parser)
    parser.add_argument("--json", dest="json_file", metavar="FILE", help="also write the result to FILE")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tui.stages.evidence.stage import EvidenceError, run_evidence

    try:
        result = asyncio.run(run_evidence(args))
    except EvidenceError as exc:
        if exc.result is not None:
            emit_result(exc.result)
        emit_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        emit_error("the evidence run was cancelled; the requests so far are in prompts.jsonl.")
        return 1
    if args.json_file:
        atomic_write_json(args.json_file, result)
    emit_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
