"""Physical lines out of text chunks cut anywhere, as a live server's output arrives.

A tail of `server.log` hands over whatever bytes were written: half a line,
a CR without its LF, half an ANSI escape, a tqdm bar that grows frame by frame
for minutes without a newline. Lines are only complete at their `\\n` (the
contract numbers physical lines split on `\\n` only), so the tail of a chunk is
held until its newline; meanwhile the tqdm frames it already holds (ended by
a bare CR) are offered for progress, once each.
"""

from __future__ import annotations

from collections.abc import Sequence

from tui.server.logfacts.events import LogEvent

_NO_EVENTS: tuple[LogEvent, ...] = ()
_FRAME_TAIL = 256  # enough of the held text to hold one whole tqdm frame


class ChunkReader:
    """Base of a line reader: `feed`, `feed_line`, `close`; subclasses read one physical line in `_physical`.

    Events a subclass appends to `self._out` during a call are what the call
    returns; `self._out` is None when events are not collected.
    """

    __slots__ = ("_collect", "_line", "_out", "_pending", "_pending_crs")

    def __init__(self, collect_events: bool) -> None:
        self._collect = collect_events
        self._line = 0
        self._out: list[LogEvent] | None = None
        self._pending: list[str] = []
        self._pending_crs = 0

    @property
    def lines(self) -> int:
        """Physical lines read so far."""
        return self._line

    @property
    def reported_frames(self) -> int:
        """How many CR-ended frames of the line now being completed were already offered as partial."""
        return max(0, self._pending_crs - 1)

    def feed(self, chunk: str) -> Sequence[LogEvent]:
        """Read `chunk` (any cut of the log text); return the events of the lines it completed."""
        out = self._begin()
        newline = chunk.find("\n")
        if newline < 0:
            if chunk:
                if "\r" in chunk:
                    self._partial(chunk)
                    self._pending_crs += chunk.count("\r")
                self._pending.append(chunk)
            return self._end(out)
        physical = self._physical
        if self._pending:
            self._pending.append(chunk[:newline])
            physical("".join(self._pending))
            self._pending.clear()
            self._pending_crs = 0
            chunk = chunk[newline + 1:]
        lines = chunk.split("\n")
        tail = lines.pop()
        for line in lines:
            physical(line)
        if tail:
            if "\r" in tail:
                self._partial(tail)
                self._pending_crs = tail.count("\r")
            self._pending.append(tail)
        return self._end(out)

    def feed_line(self, line: str) -> Sequence[LogEvent]:
        """Read one physical line (without its newline); a pending partial line is completed by it."""
        if self._pending:
            return self.feed(line.removesuffix("\n") + "\n")
        out = self._begin()
        self._physical(line.removesuffix("\n"))
        return self._end(out)

    def close(self) -> Sequence[LogEvent]:
        """Read the held partial line as the last line of the log (a file that does not end in a newline)."""
        out = self._begin()
        if self._pending:
            line = "".join(self._pending)
            self._pending.clear()
            self._physical(line)
            self._pending_crs = 0
        return self._end(out)

    def _begin(self) -> list[LogEvent] | None:
        self._out = [] if self._collect else None
        return self._out

    def _end(self, out: list[LogEvent] | None) -> Sequence[LogEvent]:
        self._out = None
        return out if out else _NO_EVENTS

    def _partial(self, text: str) -> None:
        """`text` joins the held line: offer its last complete frame (the piece before the last CR)."""
        tail = ""
        for part in reversed(self._pending):
            tail = part + tail
            if len(tail) >= _FRAME_TAIL:
                break
        pieces = (tail[-_FRAME_TAIL:] + text).split("\r")
        if len(pieces) >= 2 and pieces[-2]:
            self._partial_frame(pieces[-2])

    def _physical(self, line: str) -> None:
        """Read one complete physical line (without its `\\n`)."""
        raise NotImplementedError

    def _partial_frame(self, frame: str) -> None:
        """A tqdm frame of a line that has no newline yet; by default ignored."""
