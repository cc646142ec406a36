"""The part of a server log the console keeps in memory: the last lines, each with its kind.

The whole log is on disk (`server.log`); the pane needs only a window of it,
classified so that it can show all lines, the key lines, or the warnings and
errors, and search what it holds. Memory stays bounded however long the
server runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from tui.safe_text import log_text

LineKind = Literal["plain", "key", "warning", "error"]
LogFilter = Literal["all", "key", "problems"]
FILTERS: tuple[LogFilter, ...] = ("all", "key", "problems")
FILTER_KINDS: dict[LogFilter, frozenset[LineKind]] = {
    "all": frozenset(("plain", "key", "warning", "error")),
    "key": frozenset(("key", "error")),
    "problems": frozenset(("warning", "error")),
}
DEFAULT_WINDOW = 20000


@dataclass(frozen=True)
class LogLine:
    """One line: its number in the whole log (1-based), text as read, kind, and a hint for errors.

    Everything the pane needs per line is decided in the parse thread, so that drawing a flood costs the UI's
    loop only the styling: `shown` is the row as drawn and searched (`shown_text`), and `own` marks an access
    line of the console's own polling (`/metrics`, `/v1/models` …).
    """

    number: int
    text: str
    kind: LineKind
    shown: str
    hint: str | None = None
    own: bool = False


def shown_text(text: str, hint: str | None, redact: Callable[[str], str]) -> str:
    """A line as the pane shows it: secrets masked (`redact`, a `tui.redact.Redactor`), colour codes dropped, any
    other control escaped, on one row; an error the parser diagnosed carries its hint inline."""
    if hint:
        text = f"{text}    ⟶ hint: {hint}"
    return log_text(text, redact)


class LogWindow:
    """The last `size` lines of the log."""

    def __init__(self, size: int = DEFAULT_WINDOW) -> None:
        self._lines: deque[LogLine] = deque(maxlen=size)
        self.total = 0  # lines seen since the start, kept or not

    def extend(self, lines: Sequence[LogLine]) -> None:
        if lines:
            self._lines.extend(lines)
            self.total = max(self.total, lines[-1].number)  # numbers rise within a batch

    def clear(self) -> None:
        self._lines.clear()
        self.total = 0

    def __len__(self) -> int:
        return len(self._lines)

    def shown(self, log_filter: LogFilter) -> list[LogLine]:
        """The lines `log_filter` keeps, oldest first."""
        kinds = FILTER_KINDS[log_filter]
        if log_filter == "all":
            return list(self._lines)
        return [line for line in self._lines if line.kind in kinds]

    @staticmethod
    def find(lines: list[LogLine], term: str, after: int = -1) -> int | None:
        """Index in `lines` of the next line whose row as shown contains `term` (case-insensitive) after `after`;
        wraps."""
        if not term or not lines:
            return None
        needle = term.lower()
        count = len(lines)
        for step in range(1, count + 1):
            index = (after + step) % count
            if needle in lines[index].shown.lower():
                return index
        return None


def kind_of(text: str, has_error: bool, has_fact: bool) -> LineKind:
    """How to show a line: an error the parser diagnosed, a line that stated a fact, a warning, or plain."""
    if has_error:
        return "error"
    if " WARNING " in text[:80] or text.startswith("WARNING") or "WARNING:" in text[:60]:
        return "warning"
    if " ERROR " in text[:80] or text.startswith(("ERROR", "Traceback")) or " CRITICAL " in text[:80]:
        return "error"
    if has_fact:
        return "key"
    return "plain"
