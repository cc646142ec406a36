"""One physical log line made readable: control bytes out, process prefix off, record head split.

A saved `vllm serve` log is what a terminal, `tee` or a paste made of several
processes' stdout and stderr, so the same fact arrives wrapped in many ways:
ANSI colour around the `(EngineCore pid=N)` prefix (and Ray's nested
`(RayWorkerWrapper pid=N, ip=…)` inside it), CR LF endings, tqdm frames joined by
bare CRs, NUL padding, a vim scrape's literal `^M`, torch's `[rank0]: `. Every
matcher downstream expects the plain message, so all of that is removed here,
once, with substring checks first: the common clean line costs a few `in` tests.

The record head is vLLM's `LEVEL MM-DD HH:MM:SS [file.py:line] ` (≤ v0.7 without
the `[`), or uvicorn's `LEVEL:` padded to 9 characters, or nothing (raw stderr:
tracebacks, tqdm, print()). Which of the three a line is decides whether it may
carry an error (RULES.md §2 "Record heads" and "Errors").
"""

from __future__ import annotations

import re

RAW = 0
"""No vLLM or uvicorn head: raw stderr, a traceback line, a tqdm frame, a foreign format."""
RECORD = 1
"""A vLLM logger record: level, `MM-DD HH:MM:SS` time, `[file.py:line]`."""
UVICORN = 2
"""A uvicorn line: `INFO:     message` (access lines, startup and shutdown)."""

ERROR_LEVELS = frozenset(("ERROR", "CRITICAL"))

_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")
_RECORD_HEAD = re.compile(
    r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) (\d\d-\d\d \d\d:\d\d:\d\d) (?:vllm-mindspore)?\[?[^\s\]]*\] "
)
_RANK = re.compile(r"\[rank\d+\]:\s?")
_GLUED_PREFIX = re.compile(r"\((?:[\w.-]+(?: [\w.=-]+)? )?pid=\d+(?:, ip=[\d.:a-fA-F]+)?\) ")
_PREFIX_SCAN = 160  # a prefix is short; never look further for its closing parenthesis


def clean(line: str) -> str:
    """`line` without its line-end CR, trailing literal `^M`, NUL bytes and ANSI escapes.

    Bare CRs inside the line (tqdm frames) are kept: the reader decides what
    they mean.
    """
    if line.endswith("\r"):
        line = line.rstrip("\r")
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    if "\x00" in line:
        line = line.replace("\x00", "")
    while line.endswith("^M"):
        line = line[:-2]
    return line


def strip_prefix(line: str) -> str:
    """`line` without its process prefixes (and torch's `[rank0]: `).

    Handles `(EngineCore pid=N) `, `(Worker_TP0 pid=N) `, `(VllmWorker rank=1 pid=N) `,
    Ray's nested `(RayWorkerWrapper pid=N, ip=…) ` and `(pid=N) `, a prefix-only line,
    and a log cut inside its first prefix (`Worker_TP0_EP0 pid=N) ERROR …`). Works on
    indices and slices once: this runs for every line.
    """
    if not line:
        return line
    start = 0
    if line[0] != "(":
        close = line.find(") ", 0, _PREFIX_SCAN)
        if close >= 0 and line.find("pid=", 0, close) >= 0 and line.find("(", 0, close) < 0:
            start = close + 2
    while line.startswith("(", start):
        close = line.find(")", start + 1, start + _PREFIX_SCAN)
        if close < 0 or line.find("pid=", start + 1, close) < 0:
            break
        start = close + 2 if line.startswith(" ", close + 1) else close + 1
    if line.startswith("[rank", start):
        match = _RANK.match(line, start)
        if match:
            start = match.end()
    return line[start:] if start else line


_UVICORN_LEVELS = ("INFO:", "WARNING:", "ERROR:", "DEBUG:", "CRITICAL:", "TRACE:")
_RECORD_FIRST = frozenset("IWEDCT")


def split_head(text: str) -> tuple[int, str, str, str]:
    """(form, level, time, message) of a line whose prefix is already off.

    `form` is RAW, RECORD or UVICORN; `level` is "" and `time` is "" where the
    line has none. The message keeps its own leading spaces (traceback frames
    are told apart by them) and loses trailing whitespace.
    """
    if text[:1] in _RECORD_FIRST:
        if text.startswith(_UVICORN_LEVELS):
            colon = text.find(":")
            return UVICORN, text[:colon], "", text[colon + 1:].strip()
        match = _RECORD_HEAD.match(text)
        if match:
            return RECORD, match.group(1), match.group(2), text[match.end():].rstrip()
    return RAW, "", "", text.rstrip()


def glued_record_start(text: str) -> int:
    """Where a process-prefixed record starts inside `text` (a tqdm frame with a record glued on), or -1."""
    match = _GLUED_PREFIX.search(text, 1)
    return match.start() if match else -1
