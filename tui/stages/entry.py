"""What a stage's `python -m tui.stages.<name>` entry point shares: bad usage, failures, exit status.

A stage that talks to a server (accuracy, evidence, bench) parses its options with `StageParser`
(bad usage is an `error` event and exit 2, so the console shows the sentence), raises `StageRunError`
(its sentence, exit status 1 or 2, and any partial result) when it cannot finish, and hands its work
to `run_stage_main`, which emits the `result` event, or the partial result and one `error` event,
and returns the exit status. Stdlib only, like `tui.stages.events`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Coroutine, Mapping
from typing import Any, NoReturn

from tui.stages.events import emit_error, emit_result


class StageParser(argparse.ArgumentParser):
    """Bad options become an `error` event (and exit 2), so the console shows the sentence."""

    def error(self, message: str) -> NoReturn:
        emit_error(f"{self.prog}: {message}")
        sys.exit(2)


class StageRunError(Exception):
    """The stage could not run or nothing succeeded; `exit_code` 1 (failed) or 2 (bad input)."""

    def __init__(self, message: str, exit_code: int = 1, result: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.result = result


def run_stage_main(work: Coroutine[Any, Any, Mapping[str, Any]], *, cancelled: str) -> int:
    """Run `work` to its result and emit it (exit 0); a `StageRunError` or Ctrl-C (`cancelled`) ends in one error."""
    import asyncio  # here, so a command's `--help` that adds the server options stays light

    try:
        result = asyncio.run(work)
    except StageRunError as exc:
        if exc.result is not None:
            emit_result(exc.result)
        emit_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        emit_error(cancelled)
        return 1
    emit_result(result)
    return 0
