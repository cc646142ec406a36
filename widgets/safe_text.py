"""Text from outside (a server's replies, its log) made safe to draw.

A reply can carry escape sequences — a window title, a screen clear, a cursor
move — and a terminal obeys them if they reach it. Everything drawn from such
text goes through here first: control characters other than newline and tab are
shown escaped (`\\x1b`), never written to the terminal as they are.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
_ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def escape_controls(text: str) -> str:
    """`text` with every control character but newline and tab written as `\\xNN`."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def log_text(text: str) -> str:
    """A log line to draw: colour codes (which logs are full of) dropped, any other control escaped."""
    return escape_controls(_ANSI_COLOUR.sub("", text))
