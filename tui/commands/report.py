"""`npu-console report RUN_DIR… [--lang zh|en] [--out FILE]`: the verification report from run folders.

Reads only what the console left on disk (launch, log facts and phases, diagnoses, environment, inference
evidence, benchmarks and comparisons, precision, accuracy, dequant) and writes the eight sections of the
hand-written reports as Markdown, with the same content as JSON beside it (`report.json` next to
`report.md`). A section without evidence says "not run" and the command that would produce it. Exit
status: 0 written, 2 a folder that is missing or holds no console evidence, or an unwritable --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROG = "npu-console report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", type=Path,
                        help="run folders (runs/<profile>/<timestamp>), or a folder of them (runs/<profile>); "
                             "several make one report (eager and graph)")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="the report's language (default zh)")
    parser.add_argument("--out", metavar="FILE", type=Path,
                        help="the Markdown file (default: RUN_DIR/report.md for one folder, ./report.md for several)")


def run(args: argparse.Namespace) -> int:
    from tui.report.build import ReportError, write_report
    from tui.report.collect import is_run_folder

    folders: list[Path] = []
    for folder in args.run_dirs:
        if not folder.is_dir():
            print(f"{PROG}: {folder} is not a folder; pass run folders such as runs/<profile>/<timestamp>.",
                  file=sys.stderr)
            return 2
        inside = sorted(child for child in folder.iterdir() if is_run_folder(child)) if not is_run_folder(
            folder) else [folder]
        if not inside:
            print(f"{PROG}: {folder} holds no console evidence (no run.json, launch or stage run); "
                  "pass a run folder such as runs/<profile>/<timestamp>.", file=sys.stderr)
            return 2
        folders += inside
    out = args.out or (folders[0] / "report.md" if len(folders) == 1 else Path("report.md"))
    try:
        markdown, data = write_report(folders, args.lang, out)
    except ReportError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    print(f"{markdown}\n{data}")
    return 0
