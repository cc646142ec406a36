"""Reading a stage's stdout and stderr pipes line by line, with a bound on what one line may hold."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

CHUNK = 64 * 1024
MAX_LINE = 64 * 1024 * 1024  # a result line larger than this is a stage bug; it is cut, not held forever


async def read_lines(stream: asyncio.StreamReader, handle_line: Callable[[str], None],
                     max_line: int = MAX_LINE, on_chunk: Callable[[bytes], None] | None = None) -> None:
    """Split `stream` into lines ourselves: StreamReader.readline fails on lines over 64 KiB.

    A line longer than `max_line` is handed on in pieces of that size. `on_chunk`, when given, sees
    every raw chunk first (the stderr log keeps the bytes exactly as they came).
    """
    pending = b""
    while True:
        chunk = await stream.read(CHUNK)
        if not chunk:
            break
        if on_chunk is not None:
            on_chunk(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            handle_line(raw.decode("utf-8", errors="replace"))
        if len(pending) > max_line:
            handle_line(pending.decode("utf-8", errors="replace"))
            pending = b""
    if pending:
        handle_line(pending.decode("utf-8", errors="replace"))
