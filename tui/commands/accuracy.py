"""`npu-console accuracy --url URL …` and `npu-console accuracy compare A B`: GSM8K from the shell.

A run goes through the stage as a subprocess (`python -m tui.stages.accuracy`), exactly as the
console runs it, with its events, stderr, `items.jsonl` and result kept in a run directory.
Progress goes to stderr as one updating line with the running accuracy; the summary goes to stdout,
and `--json F` writes the result object to F. `compare` reads two saved runs in-process and lists
the problems that flipped. Exit status: 0 completed (failed requests are counted apart and said),
1 no request succeeded or the server is unreachable, 2 bad usage or an unreadable file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.stages.events import Progress

PROG = "npu-console accuracy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tui.stages.accuracy.options import add_run_arguments

    add_run_arguments(parser, url_required=False)
    parser.add_argument("--python", metavar="PATH", help="the interpreter that runs the stage (default: this one)")
    parser.add_argument("--runs-dir", metavar="DIR", type=Path,
                        help="where the run folder goes (default: $XDG_DATA_HOME/npu-console/runs/cli)")
    actions = parser.add_subparsers(dest="accuracy_action", metavar="compare")
    compare = actions.add_parser("compare", help="two accuracy runs problem by problem: which problems flipped",
                                 description="Compare two accuracy runs (A is the baseline): give each run's "
                                             "folder, its result.json or its items.jsonl.")
    compare.add_argument("a", type=Path, metavar="A", help="the first run (the baseline)")
    compare.add_argument("b", type=Path, metavar="B", help="the second run, compared with the first")
    compare.add_argument("--json", action="store_true", dest="compare_json", help="print the comparison as JSON")


def run(args: argparse.Namespace) -> int:
    if args.accuracy_action == "compare":
        return _compare(args)
    if not args.url:
        print(f"{PROG}: --url is required: the OpenAI-compatible server to ask, e.g. --url http://127.0.0.1:8000",
              file=sys.stderr)
        return 2
    return _run_stage(args)


def _compare(args: argparse.Namespace) -> int:
    from tui.commands.stage_cli import print_comparison
    from tui.stages.accuracy.compare import CompareError, compare_paths, format_comparison

    return print_comparison(f"{PROG} compare", lambda: compare_paths(args.a, args.b), format_comparison,
                            as_json=args.compare_json, unreadable=CompareError)


def _progress(event: Progress) -> str:
    """Problems done and the running accuracy."""
    accuracy, failed = event.extra.get("accuracy"), event.extra.get("failed")
    total = f"/{event.total:g}" if event.total else ""
    figures = f" · accuracy {accuracy:.2f} %" if isinstance(accuracy, (int, float)) else ""
    if isinstance(failed, int) and failed:
        figures += f" · {failed} failed"
    return f"{event.done:g}{total} problems{figures:<40}"


def format_summary(result: Mapping[str, Any], items: Path | None) -> str:
    """The result for a terminal, in the words a verification report uses."""
    accuracy = result.get("accuracy")
    settings = result.get("settings") or {}
    top_p = settings.get("top_p")
    rows = [
        ("Model", result.get("model")),
        ("Problems", f"the first {result.get('limit')} of the {result.get('dataset')} test split"),
        ("Prompt", f"{result.get('shots')}-shot chain of thought, {result.get('mode')} form"),
        ("Grader", result.get("grader")),
        ("Correct", f"{result.get('correct')} / {result.get('total')}"),
        ("Accuracy", "n/a" if not isinstance(accuracy, (int, float)) else f"{accuracy:.2f} %"),
        ("Extraction failures", result.get("extraction_failures")),
        ("Failed requests", result.get("failed_requests")),
        ("Duration", f"{result.get('duration_s')} s"),
        ("Sampling", f"temperature {settings.get('temperature')}, "
                     f"top_p {'not sent' if top_p is None else top_p}, max_tokens {settings.get('max_tokens')}"),
    ]
    if items is not None:
        rows.append(("Per-problem file", str(items)))
    width = max(len(name) for name, _ in rows) + 2
    return "\n".join(f"{name + ':':<{width}}{value}" for name, value in rows)


def _run_stage(args: argparse.Namespace) -> int:
    from tui.commands.stage_cli import StageEcho, cli_run_dir, exit_status, run_stage_to_end
    from tui.stages.accuracy.items import ITEMS_FILE
    from tui.stages.accuracy.options import to_stage_argv

    echo = StageEcho(PROG, _progress)
    run_dir = cli_run_dir(PROG, args.runs_dir, "cli", "accuracy")
    if run_dir is None:
        return 2
    outcome = run_stage_to_end("accuracy", to_stage_argv(args), run_dir=run_dir, python=args.python, echo=echo,
                               kept=f"the problems answered so far are in {run_dir}")
    if isinstance(outcome, int):
        return outcome
    if outcome.result is not None:
        items = outcome.run_folder / ITEMS_FILE
        print(format_summary(outcome.result, items if items.is_file() else None))
    return exit_status(outcome, echo)
