"""Finding the line a TOML key was written on, which tomllib does not tell us.

Every validation error names a file and a line, so the operator can jump to it.
tomllib returns plain dicts with no positions; rather than depend on a second
TOML parser, `KeyLocator` walks the source once (text that tomllib has already
accepted) and records the first line of each key: table headers `[a.b]` and
`[[a.b]]`, dotted keys `a.b = …`, quoted keys `"max-model-len" = …`, keys
inside inline tables, and the items of arrays (as integer path parts). Values
are skipped, multi-line strings and arrays included, so their contents are
never mistaken for keys. Anything it does not understand stops the walk and
keeps what was found: a missing line degrades the message, never breaks it.
"""

from __future__ import annotations

import bisect
import re

KeyPath = tuple[str | int, ...]

_BARE_KEY_STOP = frozenset(" \t\r\n.=[]{},#\"'")
_VALUE_STOP = frozenset(",]}#\r\n")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", "e": "\x1b", '"': '"', "\\": "\\"}
_UNICODE_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)
_SYNTAX_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_SYNTAX_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


class _StopWalkError(Exception):
    """The walk met something it does not handle; keep what was recorded so far."""


class KeyLocator:
    """Line numbers (1-based) of the keys, tables and array items in one TOML text."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._newlines = [index for index, char in enumerate(text) if char == "\n"]
        self.lines: dict[KeyPath, int] = {}
        try:
            self._document()
        except (_StopWalkError, IndexError, ValueError):
            pass

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest enclosing table or key when it is not written."""
        for size in range(len(path), 0, -1):
            line = self.lines.get(path[:size])
            if line is not None:
                return line
        return None

    @property
    def last_line(self) -> int:
        """The number of the file's last line, where an error "at end of document" points."""
        return len(self._newlines) + (0 if self._text.endswith("\n") else 1) or 1

    # The walk --------------------------------------------------------------------------

    def _line(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def _record(self, path: KeyPath, pos: int) -> None:
        line = self._line(pos)
        for size in range(1, len(path) + 1):
            self.lines.setdefault(path[:size], line)

    def _peek(self, ahead: int = 0) -> str:
        index = self._pos + ahead
        return self._text[index] if index < len(self._text) else ""

    def _skip_blank(self, newlines: bool) -> None:
        """Skip spaces and tabs, comments, and line breaks too when `newlines`."""
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            if char in " \t" or (newlines and char in "\r\n"):
                self._pos += 1
            elif char == "#":
                end = text.find("\n", self._pos)
                self._pos = len(text) if end < 0 else end
            else:
                return

    def _document(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank(newlines=True)
            if self._pos >= len(self._text):
                return
            start = self._pos
            if self._peek() == "[":
                is_array = self._peek(1) == "["
                self._pos += 2 if is_array else 1
                table = tuple(self._key())
                self._skip_blank(newlines=False)
                for _ in range(2 if is_array else 1):
                    if self._peek() != "]":
                        raise _StopWalkError
                    self._pos += 1
                self._record(table, start)
            else:
                self._key_value(table)

    def _key_value(self, prefix: KeyPath) -> None:
        start = self._pos
        path = prefix + tuple(self._key())
        self._skip_blank(newlines=False)
        if self._peek() != "=":
            raise _StopWalkError
        self._pos += 1
        self._record(path, start)
        self._skip_blank(newlines=False)
        self._value(path)

    def _key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self._skip_blank(newlines=False)
            parts.append(self._simple_key())
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return parts
            self._pos += 1

    def _simple_key(self) -> str:
        char = self._peek()
        if char in ("'", '"'):
            return self._string()
        start = self._pos
        text = self._text
        while self._pos < len(text) and text[self._pos] not in _BARE_KEY_STOP:
            self._pos += 1
        if self._pos == start:
            raise _StopWalkError
        return text[start : self._pos]

    def _value(self, path: KeyPath) -> None:
        char = self._peek()
        if char == "{":
            self._pos += 1
            self._inline_table(path)
        elif char == "[":
            self._pos += 1
            self._array(path)
        elif char in ("'", '"'):
            self._string()
        else:
            start = self._pos
            text = self._text
            while self._pos < len(text) and text[self._pos] not in _VALUE_STOP:
                self._pos += 1
            if self._pos == start:
                raise _StopWalkError

    def _inline_table(self, path: KeyPath) -> None:
        while True:
            self._skip_blank(newlines=True)
            if self._peek() == "}":
                self._pos += 1
                return
            self._key_value(path)
            self._skip_blank(newlines=True)
            if self._peek() == ",":
                self._pos += 1
            elif self._peek() != "}":
                raise _StopWalkError

    def _array(self, path: KeyPath) -> None:
        index = 0
        while True:
            self._skip_blank(newlines=True)
            if self._peek() == "]":
                self._pos += 1
                return
            self._record((*path, index), self._pos)
            self._value((*path, index))
            self._skip_blank(newlines=True)
            if self._peek() == ",":
                self._pos += 1
                index += 1
            elif self._peek() != "]":
                raise _StopWalkError

    def _string(self) -> str:
        """Skip one string of any of TOML's four kinds; return its text (escapes decoded)."""
        text = self._text
        start = self._pos
        for delimiter, escapes in (('"""', True), ("'''", False)):
            if text.startswith(delimiter, start):
                index = start + 3
                while True:
                    if escapes and text[index] == "\\":
                        index += 2
                        continue
                    if text.startswith(delimiter, index):
                        end = index + 3
                        # Up to two quote characters may sit right before the closing delimiter.
                        while end < len(text) and text[end] == delimiter[0] and end - index < 5:
                            end += 1
                        self._pos = end
                        body = text[start + 3 : end - 3]
                        return _unescape(body) if escapes else body
                    index += 1
        quote = text[start]
        index = start + 1
        while text[index] != quote:
            if text[index] in "\r\n":
                raise _StopWalkError
            index += 2 if quote == '"' and text[index] == "\\" else 1
        self._pos = index + 1
        body = text[start + 1 : index]
        return _unescape(body) if quote == '"' else body


def _unescape(body: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, code)

    return _UNICODE_ESCAPE.sub(replace, body)


def syntax_error_position(message: str, last_line: int) -> tuple[str, int | None, int | None]:
    """Split tomllib's "… (at line L, column C)" into (text, line, column).

    "(at end of document)" points at the last line. Messages in another form come
    back whole, with no position.
    """
    found = _SYNTAX_POSITION.search(message)
    if found:
        return message[: found.start()], int(found.group(1)), int(found.group(2))
    found = _SYNTAX_AT_END.search(message)
    if found:
        return message[: found.start()] + " at the end of the file", last_line, None
    return message, None, None
