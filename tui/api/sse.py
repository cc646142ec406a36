"""Server-sent events from raw bytes: a pure, incremental decoder with no I/O.

Kept apart from the HTTP client so every way a real stream misbehaves can be
tested on crafted bytes: keep-alive comments (`: ping`), `data:` split over
several lines, CR LF or lone CR line ends (also split across two network
reads), a UTF-8 character cut in half by a read, a byte-order mark, and a
stream that stops in the middle of a line. It follows the WHATWG
"event stream interpretation" rules with two deliberate leniencies that real
servers need: at the end of the stream, complete `data:` lines that never got
their blank line are still delivered (a server that exits right after its last
event), and an unterminated last line is reported as `truncated` instead of
being silently dropped, so the caller can say the connection was cut.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

DEFAULT_MAX_LINE_CHARS = 8 * 1024 * 1024
"""A line longer than this is not an SSE stream any more; refusing it keeps memory bounded."""


class SSEProtocolError(ValueError):
    """The bytes cannot be an event stream (a line beyond the size bound)."""


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: its type (`message` unless an `event:` field said otherwise) and its data."""

    data: str
    event: str = "message"
    id: str | None = None
    retry_ms: int | None = None


class SSEDecoder:
    """Turns the bytes of a `text/event-stream` body into `SSEEvent`s as they arrive.

    Feed every network read to `feed`; call `close` once at the end of the body.
    The decoder keeps only the unfinished line and the event being built, so it
    can run for hours on a long stream.
    """

    def __init__(self, *, max_line_chars: int = DEFAULT_MAX_LINE_CHARS) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._max_line_chars = max_line_chars
        self._buffer = ""
        self._skip_lf = False
        self._at_start = True
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._last_id: str | None = None
        self._retry: int | None = None
        self.comments = 0
        """Comment lines seen (`: ping` keep-alives): evidence that the server is alive but silent."""
        self.truncated = False
        """True after `close` when the body stopped in the middle of a line or of a multi-byte character."""

    def feed(self, data: bytes) -> list[SSEEvent]:
        """The events completed by this read (often none, often several)."""
        return self._feed_text(self._decoder.decode(data))

    def close(self) -> list[SSEEvent]:
        """End of body: the events still pending, and `truncated` set if a line was cut."""
        tail = self._decoder.decode(b"", final=True)
        events = self._feed_text(tail)
        if "\ufffd" in tail:
            self.truncated = True
        if self._buffer:
            self.truncated = True
            self._buffer = ""
        if self._data:
            events.append(self._dispatch_event())
        return events

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if self._at_start:
            self._at_start = False
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._skip_lf:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        buffer = self._buffer + text
        if "\r" in buffer:
            trailing_cr = buffer.endswith("\r")
            if trailing_cr:
                buffer = buffer[:-1]
            buffer = buffer.replace("\r\n", "\n").replace("\r", "\n")
            if trailing_cr:
                # A CR ends the line now; if the next read starts with LF, it belongs to this CR.
                buffer += "\n"
                self._skip_lf = True
        lines = buffer.split("\n")
        self._buffer = lines.pop()
        if len(self._buffer) > self._max_line_chars:
            raise SSEProtocolError(
                f"an event-stream line grew past {self._max_line_chars:,} characters without ending"
            )
        events: list[SSEEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            if self._data:
                return self._dispatch_event()
            self._event = ""  # a blank line with no data: the spec drops the event type too
            return None
        if line.startswith(":"):
            self.comments += 1
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch_event(self) -> SSEEvent:
        if self._id is not None:
            self._last_id = self._id
        event = SSEEvent(
            data="\n".join(self._data),
            event=self._event or "message",
            id=self._last_id,
            retry_ms=self._retry,
        )
        self._data = []
        self._event = ""
        self._id = None
        self._retry = None
        return event


def decode_all(chunks: list[bytes] | tuple[bytes, ...]) -> tuple[list[SSEEvent], SSEDecoder]:
    """Every event of a whole body given as its network reads, and the decoder (for `truncated`, `comments`)."""
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events, decoder
