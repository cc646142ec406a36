"""One batch of server log lines through the log-facts parser, off the event loop.

The pipeline hands each batch the tail delivers to `parse_batch` in a worker
thread (a flood of lines must not hold the loop that draws the screen or
answers signals). Whatever the log pane needs of a line that is pure string
work is done here too: its kind, whether it is the console's own poll, and its
row as drawn (secrets masked, controls escaped, the hint inline). The `LogFacts`
accumulator is touched only there, one batch at a time; what comes back is
immutable: the classified lines, the events the batch caused, and — when
something changed — a fresh `FactsView` that any thread may read while parsing
goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tui.server.log_window import LogLine, kind_of, shown_text
from tui.server.logfacts import LogFacts
from tui.server.logfacts.diagnosis import Diagnosis
from tui.server.logfacts.events import ErrorFound, LogEvent, Progress, Ready, Stats, StatsUpdated
from tui.server.logfacts.phases import Phase
from tui.server.own_requests import is_own_request


@dataclass(frozen=True)
class FactsView:
    """What the log has said so far, as one immutable value the UI can read while parsing goes on."""

    facts: Mapping[str, Any]
    phases: tuple[Phase, ...]
    root_cause: Diagnosis | None
    error_count: int

    @classmethod
    def of(cls, facts: LogFacts) -> FactsView:
        return cls(facts.facts(), tuple(facts.phases()), facts.root_cause, len(facts.errors))


@dataclass(frozen=True)
class ParsedBatch:
    """The result of one batch: lines as shown, every event in order, and what the panels need."""

    lines: tuple[LogLine, ...]
    events: tuple[LogEvent, ...]
    progress: tuple[str, int] | None
    stats: tuple[Stats, ...]
    ready: bool  # the log said the API is up (uvicorn's "Application startup complete.")
    view: FactsView | None  # None when no line of the batch changed a fact


def parse_batch(facts: LogFacts, lines: list[str], numbered_from: int, redact: Callable[[str], str]) -> ParsedBatch:
    """Feed `lines` to `facts`, classify each and prepare its row for the pane, secrets masked by `redact`
    (runs in a worker thread; `facts` is touched only here)."""
    shown: list[LogLine] = []
    seen: list[LogEvent] = []
    progress: tuple[str, int] | None = None
    stats: list[Stats] = []
    ready = False
    for offset, text in enumerate(lines, start=1):
        events = facts.feed_line(text)
        hint = None
        has_error = False
        for event in events:
            if isinstance(event, ErrorFound):
                has_error = True
                hint = event.diagnosis.hint
            elif isinstance(event, Progress):
                progress = (event.kind, event.pct)
            elif isinstance(event, StatsUpdated):
                stats.append(event.stats)
            elif isinstance(event, Ready):
                ready = True
        seen.extend(events)
        shown.append(LogLine(numbered_from + offset, text, kind_of(text, has_error, bool(events)),
                             shown_text(text, hint, redact), hint, is_own_request(text)))
    return ParsedBatch(tuple(shown), tuple(seen), progress, tuple(stats), ready,
                       FactsView.of(facts) if seen else None)


def diagnosis_message(diagnosis: Diagnosis) -> str:
    """The failure in its own words: the exception's message where the reader kept it, else the log line."""
    for name in ("message", "detail"):
        said = getattr(diagnosis, name, None)
        if isinstance(said, str) and said.strip():
            return said.strip()
    return diagnosis.text.strip()
