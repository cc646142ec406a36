"""Text from outside (a server's replies, its log) made safe to draw.

A reply can carry escape sequences — a window title, a screen clear, a cursor
move — and a terminal obeys them if they reach it. Everything drawn from such
text goes through here first: control characters other than newline and tab are
shown escaped (`\\x1b`), never written to the terminal as they are. Pure string
work, so the server pipeline can prepare its log lines off the UI's thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
_LINE_CONTROL = re.compile(r"[\x00-\x08\n-\x1f\x7f\x80-\x9f\u2028\u2029]")  # and what would break a log row
_ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` with every control character but newline and tab written as `\\xNN`."""
    return _CONTROL.sub(_escaped, text)


def log_text(text: str, redact: Callable[[str], str] | None = None) -> str:
    """A log line to draw on one row: colour codes (which logs are full of) dropped, then secrets masked by
    `redact` if given (a colour code in front would hide where a token starts), then any other control escaped —
    a newline or a line separator too — and tabs expanded."""
    shown = _ANSI_COLOUR.sub("", text)
    if redact is not None:
        shown = redact(shown)
    shown = _LINE_CONTROL.sub(_escaped, shown)
    return shown.expandtabs() if "\t" in shown else shown
