"""The server log pane: a bounded, filtered, searchable window that follows the bottom."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.highlighter import Highlighter
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Log, Static

from tui.server.log_window import FILTER_KINDS, FILTERS, LineKind, LogFilter, LogLine
from tui.server.own_requests import process_prefix_end

PANE_LINES = 5000


class VllmHighlighter(Highlighter):
    """Colours what an operator scans a vLLM log for (explicit styles, no theme names needed)."""

    RULES: ClassVar[tuple[tuple[re.Pattern[str], str], ...]] = (
        (re.compile(r"\b(ERROR|CRITICAL)\b.*|^Traceback.*|\b\w+(Error|Exception)\b:.*"), "bold red"),
        (re.compile(r"\bWARNING\b"), "yellow"),
        (re.compile(r"Application startup complete\.|Starting vLLM (API )?server\b.*"), "bold green"),
        (re.compile(r"Resolved architecture: \S+|Using max model len \d+|Loading model weights took [\d.]+ \w+|"
                    r"Model loading took [\d.]+ GiB|GPU KV cache size: [\d,]+ tokens|Maximum concurrency for .*|"
                    r"Calculated maximum supported batch sizes for ACL graph: \d+|with \d+ sizes"), "bold cyan"),
        (re.compile(r"\b(EZ|EE|EH|EL|EI|ERR)\d{4,5}\b"), "bold white on red"),
        (re.compile(r"\" [2]\d\d OK$"), "green"),
        (re.compile(r"\" [45]\d\d [A-Za-z ]+$"), "red"),
        (re.compile(r"⟶ hint: .*"), "bold magenta"),
    )

    def __init__(self) -> None:
        self.term: str = ""

    def highlight(self, text: Text) -> None:
        plain = text.plain
        prefix = process_prefix_end(plain)
        if prefix:
            text.stylize("dim", 0, prefix)
        for pattern, style in self.RULES:
            for match in pattern.finditer(plain):
                text.stylize(style, match.start(), match.end())
        if self.term:
            lowered, needle = plain.lower(), self.term.lower()
            start = lowered.find(needle)
            while start != -1:
                text.stylize("black on yellow", start, start + len(needle))
                start = lowered.find(needle, start + len(needle))


class PaneLog(Log):
    """Textual's `Log`, measuring the width of new rows where they are written.

    `Log` measures them in a thread worker started per write, and a worker's description is the `repr` of its
    arguments: every row written, formatted on the UI's loop. The pane's rows come prepared by the parse thread
    (`LogLine.shown`: no control characters, tabs expanded), so their width is their length when ASCII.
    """

    def _update_size(self, *args: Any, **kwargs: Any) -> Any:
        """Textual 8's private hook, called as `(updates, lines)`; any other shape goes to Textual's own."""
        if len(args) == 2 and not kwargs and isinstance(args[0], int) and isinstance(args[1], list):
            updates, lines = args
            if lines:
                widest = max(len(line) if line.isascii() else cell_len(line) for line in lines)
                self._update_maximum_width(updates, widest)
            return None
        return super()._update_size(*args, **kwargs)


class ServerLog(Vertical):
    """A toolbar (filter, search), the log, and a search box that opens with `/`."""

    DEFAULT_CSS = """
    ServerLog { height: 1fr; }
    ServerLog #log-toolbar { height: 1; color: $text-muted; }
    ServerLog Log { height: 1fr; scrollbar-size: 1 1; }
    ServerLog #log-search { display: none; height: 3; }
    ServerLog #log-search.-open { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "cycle_filter", "Filter"),
        Binding("o", "toggle_own", "Our requests", show=False),
        Binding("slash", "open_search", "Search"),
        Binding("n", "find_next", "Next match", show=False),
        Binding("escape", "close_search", "Close search", show=False),
    ]

    class FilterChanged(Message):
        def __init__(self, log_filter: LogFilter) -> None:
            super().__init__()
            self.log_filter = log_filter

    class SearchRequested(Message):
        def __init__(self, term: str) -> None:
            super().__init__()
            self.term = term

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.log_filter: LogFilter = "all"
        self.show_own = False  # the console's own GET /metrics, /v1/models… lines are hidden unless asked for
        self.search_term = ""
        self.match_at: tuple[int, int] | None = None  # (line number in the log, column) of the shown match
        self._total = 0
        self.last_match = -1  # index (in the shown lines) of the last search hit; the next search goes on after

    def compose(self) -> ComposeResult:
        yield Static("", id="log-toolbar")
        log = PaneLog(id="server-log", max_lines=PANE_LINES, highlight=True, auto_scroll=True)
        log.highlighter = VllmHighlighter()
        yield log
        yield Input(placeholder="search the log (Enter finds next, Esc closes)", id="log-search")

    def on_mount(self) -> None:
        self._show_toolbar(0, 0)

    @property
    def log_widget(self) -> Log:
        return self.query_one("#server-log", Log)

    # ---- drawing -------------------------------------------------------------------------------

    def append(self, lines: Sequence[LogLine], total: int) -> None:
        """Add lines that pass the filter; follow the bottom only if the reader is there."""
        log = self.log_widget
        at_bottom = log.is_vertical_scroll_end or log.max_scroll_y == 0
        log.auto_scroll = at_bottom
        kinds, own = self._wanted()
        wanted = [line.shown for line in lines if (own if line.own else line.kind in kinds)]  # `passes`, per batch
        if wanted:
            log.write_lines(wanted)
        self._show_toolbar(log.line_count, total)

    def replace(self, lines: Sequence[LogLine], total: int) -> None:
        """Show exactly `lines` (after a filter change), scrolled to the end."""
        log = self.log_widget
        log.clear()
        log.auto_scroll = True
        log.write_lines([line.shown for line in lines[-PANE_LINES:]])
        self.last_match = -1
        self._show_toolbar(log.line_count, total)

    def scroll_to_line(self, index: int, column: int = 0, number: int | None = None) -> None:
        """Put shown line `index` (0-based, in the pane) near the top with `column` in view, stop following,
        and say in the toolbar where the match is."""
        log = self.log_widget
        log.auto_scroll = False
        width = max(1, log.scrollable_content_region.width)
        x = 0 if column < width - 10 else max(0, column - width // 3)
        log.scroll_to(x=x, y=max(0, index - 2), animate=False)
        self.match_at = (number if number is not None else index + 1, column + 1)
        self._show_toolbar(log.line_count, self._total)

    def passes(self, line: LogLine) -> bool:
        """Whether the pane shows `line` under the current filter."""
        kinds, own = self._wanted()
        return own if line.own else line.kind in kinds

    def _wanted(self) -> tuple[frozenset[LineKind], bool]:
        """The kinds the filter shows, and whether the console's own polls show (never key lines or problems:
        only in "all", when asked for)."""
        return FILTER_KINDS[self.log_filter], self.show_own and self.log_filter == "all"

    def _show_toolbar(self, shown: int, total: int) -> None:
        self._total = total
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("show ")
        for name in FILTERS:
            text.append(f" {name} ", style="bold reverse" if name == self.log_filter else "dim")
        text.append(f"   {shown} shown of {total}", style="dim")
        text.append(" · our polls shown" if self.show_own else " · our polls hidden", style="dim")
        if self.search_term:
            text.append(f"   search: {self.search_term!r}", style="italic")
            if self.match_at is not None:
                text.append(f" at line {self.match_at[0]}, column {self.match_at[1]}", style="bold")
        text.append("   f filter · o our polls · / search · n next · ←→ sideways", style="dim")
        self.query_one("#log-toolbar", Static).update(text, layout=False)  # one row whatever it says: no re-layout

    # ---- input ---------------------------------------------------------------------------------

    def action_cycle_filter(self) -> None:
        index = FILTERS.index(self.log_filter)
        self.log_filter = FILTERS[(index + 1) % len(FILTERS)]
        self.post_message(self.FilterChanged(self.log_filter))

    def action_toggle_own(self) -> None:
        """Show or hide the console's own requests (`GET /metrics` every 2 s…) in every filter."""
        self.show_own = not self.show_own
        self.post_message(self.FilterChanged(self.log_filter))

    def action_open_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.add_class("-open")
        box.focus()

    def action_close_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.remove_class("-open")
        self.log_widget.focus()

    def action_find_next(self) -> None:
        if self.search_term:
            self.post_message(self.SearchRequested(self.search_term))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search_term = event.value.strip()
        self.last_match = -1
        self.match_at = None
        highlighter = self.log_widget.highlighter
        if isinstance(highlighter, VllmHighlighter):
            highlighter.term = self.search_term
            self.log_widget.refresh()
        if self.search_term:
            self.post_message(self.SearchRequested(self.search_term))
