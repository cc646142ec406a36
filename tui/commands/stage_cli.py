"""Running a stage from a subcommand: its run folder, its events echoed on stderr, Ctrl-C, the exit status.

`npu-console dequant`, `npu-console bench` (and any other stage command) run the stage as a
subprocess through `StageRun`, exactly as the console runs it, so the run folder holds the same
evidence. What they print differs (a result listing, a benchmark summary); where the run folder
goes and how they follow the stage do not, and live here once.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tui.clock import SystemClock
from tui.commands.guard import say
from tui.failures import os_error_reason
from tui.files.runs import create_run_dir
from tui.files.xdg import default_runs_dir
from tui.stages.events import LogEvent, Progress, StageError, StageEvent
from tui.stages.runner import StageOutcome, StageRun


def cli_run_dir(prog: str, runs_dir: Path | None, label: str, command: str) -> Path | None:
    """A new run folder under `--runs-dir` (default: the user's runs folder); None, said in one sentence, if not."""
    runs_root = (runs_dir or default_runs_dir()).expanduser()
    try:
        return create_run_dir(runs_root, label, SystemClock(), {"command": command})
    except OSError as error:
        say(f"{prog}: cannot create a run folder under {runs_root}: {os_error_reason(error)}; "
            "give --runs-dir a writable folder.")
        return None


def print_comparison(prog: str, compare: Callable[[], Mapping[str, Any]], table: Callable[[Mapping[str, Any]], str],
                     *, as_json: bool, unreadable: type[Exception]) -> int:
    """`compare()` as a table (or JSON) on stdout, 0; exit 2 with its sentence when a run is `unreadable`."""
    try:
        comparison = compare()
    except unreadable as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(comparison, indent=2, ensure_ascii=False) if as_json else table(comparison))
    return 0


def progress_line(event: Progress) -> str:
    """`done/total unit message`, for stages whose progress has no figures of its own."""
    total = f"/{event.total:g}" if event.total else ""
    return f"{event.done:g}{total} {event.unit} {event.message[:60]:<60}"


class StageEcho:
    """Prints a stage's events on stderr: one updating progress line, log lines, the error sentence."""

    def __init__(self, prog: str, line: Callable[[Progress], str] = progress_line) -> None:
        self.prog = prog
        self.line = line
        self.said_error = False
        self._open = False  # a progress line is on the terminal without its newline yet
        self._tty = sys.stderr.isatty()

    def _end_progress(self) -> None:
        if self._open:
            print(file=sys.stderr)
            self._open = False

    def __call__(self, event: StageEvent | str) -> None:
        if isinstance(event, Progress):
            if self._tty:  # one line that updates in place; into a pipe or a file, no \r frames at all
                print(f"\r{self.line(event)}", end="", file=sys.stderr, flush=True)
                self._open = True
        elif isinstance(event, LogEvent):
            self._end_progress()
            print(f"{event.level}: {event.message}", file=sys.stderr)
        elif isinstance(event, StageError):
            self.said_error = True
            self._end_progress()
            print(f"{self.prog}: {event.message}", file=sys.stderr)
        elif isinstance(event, str) and event.strip():
            self._end_progress()
            print(event, file=sys.stderr)

    def close(self) -> None:
        """End an open progress line (after the stage)."""
        self._end_progress()


def run_stage(name: str, args: Sequence[str], *, run_dir: Path, python: str | None,
              echo: StageEcho, env: Mapping[str, str] | None = None) -> StageOutcome:
    """Run stage `name` to its end (Ctrl-C raises KeyboardInterrupt after the stage is stopped)."""
    stage = StageRun(name, args, run_dir=run_dir, python=python, env=env, on_event=echo)
    outcome = asyncio.run(stage.run())
    echo.close()
    return outcome


def run_stage_to_end(name: str, args: Sequence[str], *, run_dir: Path, python: str | None, echo: StageEcho,
                     kept: str, env: Mapping[str, str] | None = None) -> StageOutcome | int:
    """`run_stage`, with SIGTERM and SIGHUP stopping the stage as Ctrl-C does (the CLI contract).

    The stage's outcome; or, once a signal stopped it, 128 + the signal, having said
    which signal and `kept` (what is left); or 2 when the runs folder filled up or went
    read-only before the stage could start.
    """
    from tui.commands.guard import interrupt_signals, say
    from tui.failures import os_error_reason

    with interrupt_signals() as signals:
        try:
            return run_stage(name, args, run_dir=run_dir, python=python, echo=echo, env=env)
        except KeyboardInterrupt:
            say(f"\n{echo.prog}: interrupted ({signals.name}); the stage was stopped and {kept}.")
            return signals.exit_status
        except OSError as error:
            say(f"{echo.prog}: cannot keep the run's files in {run_dir}: {os_error_reason(error)}; "
                "give --runs-dir a writable folder with free space.")
            return 2


def exit_status(outcome: StageOutcome, echo: StageEcho) -> int:
    """0 when the stage succeeded, else its own 1 or 2 (anything else is 1), its sentence said once."""
    if outcome.ok:
        print(f"Run files: {outcome.run_folder}", file=sys.stderr)
        return 0
    if outcome.error and not echo.said_error:
        print(f"{echo.prog}: {outcome.error}", file=sys.stderr)
    return outcome.exit_code if outcome.exit_code in (1, 2) else 1
