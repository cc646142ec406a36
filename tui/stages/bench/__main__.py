"""`python -m tui.stages.bench latency|concurrency|serve|compare …`: the benchmark stage's entry point.

Speaks the stage protocol (JSON lines on stdout). Exit status: 0 the run completed (even with some
failed requests), 1 no request succeeded or the server could not be reached, 2 bad options or an
unreadable input; every failure ends with one `error` event saying what to do.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tui.stages.bench.compare import CompareError, compare_results, label_of, load_result
from tui.stages.bench.options import MODES, add_compare_arguments, add_mode_arguments
from tui.stages.entry import StageParser, run_stage_main
from tui.stages.events import emit_error, emit_result


def build_parser() -> argparse.ArgumentParser:
    parser = StageParser(prog="python -m tui.stages.bench", description="LLM serving benchmarks (vLLM's definitions)")
    modes = parser.add_subparsers(dest="mode", required=True, metavar="MODE", parser_class=StageParser)
    for mode in MODES:
        add_mode_arguments(modes.add_parser(mode), mode)
    add_compare_arguments(modes.add_parser("compare"))
    return parser


def compare_files(a: Path, b: Path) -> dict[str, object]:
    first, second = load_result(a), load_result(b)
    return compare_results(first, second, label_of(first, a), label_of(second, b))


async def _benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """The benchmark's result; a run folder it cannot write (read-only, a full disk) is a failure too."""
    from tui.stages.bench.stage import BenchError, run_benchmark

    try:
        return await run_benchmark(args, args.mode)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise BenchError(f"the benchmark could not write its files{where}: {exc.strerror or exc}") from exc


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.mode == "compare":
        try:
            emit_result(compare_files(args.a, args.b))
        except CompareError as exc:
            emit_error(str(exc))
            return 2
        return 0
    return run_stage_main(_benchmark(args),
                          cancelled="the benchmark was cancelled; nothing was measured to the end.")


if __name__ == "__main__":
    sys.exit(main())
