"""The JSON-lines protocol a stage speaks on stdout, as typed values.

A stage (`python -m tui.stages.<name>`) prints one JSON object per line:
`{"event": "progress", "done": 3, "total": 252, "unit": "tensor", "message": "…"}`,
`{"event": "log", "level": "info", "message": "…"}`, `{"event": "result", …}` and
`{"event": "error", "message": "…"}` (see CONTRACTS.md, "Stages"). The TUI, the CLI
and a shell script read the same lines, so this module is the one place that
knows their shape.

Stdlib only, and importable on its own: stages import the `emit_*` helpers from
here while running under the serving environment's Python, where nothing but
the `tui` package folder (put on PYTHONPATH by the runner) is available.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

__all__ = [
    "STAGE_DIR_ENV",
    "LogEvent",
    "Progress",
    "Result",
    "StageError",
    "StageEvent",
    "emit",
    "emit_error",
    "emit_log",
    "emit_progress",
    "emit_result",
    "event_to_json",
    "parse_event",
    "stage_folder",
]

STAGE_DIR_ENV = "NPU_CONSOLE_STAGE_DIR"
"""Set by the runner to the stage's own run folder, where it may write files beside result.json."""


def stage_folder(default: str | None = None) -> str | None:
    """The run folder the runner gave this stage (`NPU_CONSOLE_STAGE_DIR`), else `default` (run by hand)."""
    return os.environ.get(STAGE_DIR_ENV) or default


@dataclass(frozen=True)
class Progress:
    """`done` of `total` `unit`s finished; `total` is None when the stage cannot know it yet.

    `extra` holds any other keys of the event: a stage's live figures (the
    benchmark's running req/s and TTFT percentiles, say), which a generic
    reader may ignore.
    """

    done: float
    total: float | None = None
    unit: str = ""
    message: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        """0..1, or None without a (positive) total: a bar must not pretend to know."""
        if self.total is None or self.total <= 0:
            return None
        return min(max(self.done / self.total, 0.0), 1.0)


@dataclass(frozen=True)
class LogEvent:
    """A line for the stage's live log, with the stage's own level (`info`, `warning`, …)."""

    level: str
    message: str


@dataclass(frozen=True)
class Result:
    """The stage's result: the keys of `{"event": "result", …}` other than `event`."""

    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StageError:
    """The stage's own sentence for why it failed; it wins over any exit code or stderr."""

    message: str


StageEvent: TypeAlias = Progress | LogEvent | Result | StageError


def _number(value: Any) -> float | None:
    """A finite int/float (bool is not a number here), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


_PROGRESS_KEYS = frozenset({"event", "done", "total", "unit", "message"})


def parse_event(line: str) -> StageEvent | str:
    """The event on `line`, or the line itself (without its newline) when it is not one.

    Anything that is not a JSON object with a known `"event"` and well-typed
    fields comes back as the raw string, for the stage log: a stray `print` or a
    library's chatter on stdout must never crash the runner.

    A result is either `{"event": "result", "data": {…}}` (exactly those two keys)
    or flat, `{"event": "result", "key": value, …}`; both give the same `Result`.
    """
    text = line.rstrip("\r\n")
    stripped = text.strip()
    if not stripped.startswith("{"):
        return text
    try:
        obj = json.loads(stripped)
    except (ValueError, RecursionError):
        return text
    if not isinstance(obj, dict):
        return text
    kind = obj.get("event")
    if kind == "progress":
        done = _number(obj.get("done"))
        total_raw = obj.get("total")
        total = _number(total_raw)
        if done is None or (total_raw is not None and total is None):
            return text
        extra = {key: value for key, value in obj.items() if key not in _PROGRESS_KEYS}
        return Progress(done=done, total=total, unit=_text(obj.get("unit")), message=_text(obj.get("message")),
                        extra=extra)
    if kind == "log":
        return LogEvent(level=_text(obj.get("level")) or "info", message=_text(obj.get("message")))
    if kind == "result":
        data = obj.get("data")
        if set(obj) == {"event", "data"} and isinstance(data, dict):
            return Result(data=data)
        return Result(data={key: value for key, value in obj.items() if key != "event"})
    if kind == "error":
        return StageError(message=_text(obj.get("message")) or "the stage reported an error without a message")
    return text


def event_to_json(event: StageEvent) -> dict[str, Any]:
    """The wire form of `event` (what `parse_event` reads back to an equal value)."""
    if isinstance(event, Progress):
        return {**event.extra, "event": "progress", "done": event.done, "total": event.total, "unit": event.unit,
                "message": event.message}
    if isinstance(event, LogEvent):
        return {"event": "log", "level": event.level, "message": event.message}
    if isinstance(event, Result):
        return {"event": "result", "data": dict(event.data)}
    return {"event": "error", "message": event.message}


def emit(event: Mapping[str, Any]) -> None:
    """Print `event` as one compact JSON line on stdout and flush.

    Flushing each line is what makes progress live: stdout is a pipe, and a
    block-buffered pipe would deliver everything at exit.
    """
    sys.stdout.write(json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


def emit_progress(done: float, total: float | None = None, unit: str = "", message: str = "", **extra: Any) -> None:
    """Emit a progress event; `extra` keys (live figures) ride along beside the standard ones."""
    emit({**extra, "event": "progress", "done": done, "total": total, "unit": unit, "message": message})


def emit_log(message: str, level: str = "info") -> None:
    """Emit a line for the stage's live log."""
    emit({"event": "log", "level": level, "message": message})


def emit_result(data: Mapping[str, Any]) -> None:
    """Emit the stage's result (wrapped in `data`, so any key name is allowed)."""
    emit({"event": "result", "data": dict(data)})


def emit_error(message: str) -> None:
    """Emit the one sentence that says why the stage failed (then exit non-zero)."""
    emit({"event": "error", "message": message})
