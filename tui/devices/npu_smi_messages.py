"""The lines npu-smi (or the shell, or the loader) prints instead of, or after, a table.

Where the table would be, an operator can get a driver that is held by another
container (`dcmi module initialize failed. ret is -8005`), a missing library,
`command not found`, or a query the chip does not support. Those lines are the
snapshot's `error`, verbatim, because they are what a search engine or a
Huawei support ticket needs. The chatter around them (`DrvMngGetConsoleLogLevel
failed…`) is kept as warnings, and so is the driver's `[WARNING]` trailer,
which some pastes wrap onto two lines.
"""

from __future__ import annotations

import re

#: Lowercase fragments of lines that say why there is no table (FORMATS.md §3, and the driver's own texts).
ERROR_FRAGMENTS = (
    "dcmi module initialize failed",
    "dcmi model initialized failed",
    "error while loading shared libraries",
    "cannot open shared object file",
    "command not found",
    "no such file or directory",
    "permission denied",
    "does not support querying",
    "there is no npu card",
    "the parameter is invalid",
    "device is used",
)

_RET_CODE = re.compile(r"\bfailed\b.*\bret(?: is|=|:)\s*-?\d+", re.IGNORECASE)
_PROMPT = re.compile(r"^(?:.*[#$%>]\s*)?(?:sudo\s+)?npu-smi(?:\s+[-\w]+)*\s*$")
_BARE_PROMPT = re.compile(r"^(?:\[[^\]]*\]|[\w.-]+@[\w.-]+(?::\S*)?)\s*[#$%>]$")
_SENTENCE_END = (".", "!", "?", "。")

WARNING_PREFIX = "[WARNING]"


def is_error_line(line: str) -> bool:
    """True for a line that says what failed (not for the `…failed. (g_conLogLevel=3)` chatter)."""
    lowered = line.lower()
    if any(fragment in lowered for fragment in ERROR_FRAGMENTS):
        return True
    return _RET_CODE.search(line) is not None


def is_noise(line: str) -> bool:
    """Lines a paste adds that carry nothing: the echoed command, markdown fences."""
    if line.startswith(("```", "~~~")):
        return True
    return _PROMPT.match(line) is not None or _BARE_PROMPT.match(line) is not None


def continues_warning(warning: str, line: str) -> bool:
    """True when `line` is the rest of a `[WARNING]` sentence that a paste wrapped (it had not ended)."""
    return not warning.endswith(_SENTENCE_END) and not line.startswith(("[", "|", "+"))


class MessageCollector:
    """Sorts the text lines of an output into the error, the warnings, and a wrapped warning's tail.

    Feed it every line that is not part of a table; it keeps the first error
    line as the error and every other unexplained line as a warning.
    """

    __slots__ = ("_open_warning", "error", "warnings")

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings
        self.error: str | None = None
        self._open_warning = False

    def close(self) -> None:
        """A blank line or a table line ends a wrapped warning."""
        self._open_warning = False

    def add(self, line: str) -> None:
        """One stripped, non-empty text line."""
        if self._open_warning and continues_warning(self.warnings[-1], line):
            self.warnings[-1] = f"{self.warnings[-1].rstrip()} {line}"
            return
        self._open_warning = False
        if line.startswith(WARNING_PREFIX):
            self.warnings.append(line)
            self._open_warning = True
        elif is_error_line(line):
            if self.error is None:
                self.error = line
            else:
                self.warnings.append(line)
        elif not is_noise(line):
            self.warnings.append(line)
