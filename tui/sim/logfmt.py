"""Log lines in vLLM 0.18's exact format, so a log parser reads the sim like a real server.

A vLLM record is `[<(Name pid=N) >]LEVEL MM-DD HH:MM:SS [file.py:line] message`; a
multi-line message repeats everything before the message on each line. uvicorn's
lines carry no time and no `[file:line]`: `INFO:     message`. Like vLLM's
`decorate_logs()`, the process prefix is put on every line the process prints,
tracebacks and tqdm bars on stderr included (tqdm frames themselves are printed
bare, as in the real fixture 001). Every write is flushed at once, so a tailing
reader sees each line as it happens.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from tui.sim.settings import wall_time

_LOCK = threading.Lock()


def timestamp(now: float | None = None) -> str:
    """vLLM's `%m-%d %H:%M:%S` in local time: no year, no zone."""
    return time.strftime("%m-%d %H:%M:%S", time.localtime(wall_time() if now is None else now))


class VllmLog:
    """Writes one process's lines; `name` None means a process without a prefix."""

    def __init__(
        self,
        name: str | None,
        pid: int,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.name = name
        self.pid = pid
        self._out = out
        self._err = err
        self.prefix = f"({name} pid={pid}) " if name else ""

    def without_prefix(self) -> VllmLog:
        """The same streams, no process prefix: lines a process prints before vLLM decorates it."""
        return VllmLog(None, self.pid, self._out, self._err)

    @property
    def out(self) -> TextIO:
        return self._out if self._out is not None else sys.stdout

    @property
    def err(self) -> TextIO:
        return self._err if self._err is not None else sys.stderr

    def write(self, text: str, stream: TextIO | None = None) -> None:
        """Write already formatted lines (each ending in a newline) and flush."""
        target = stream if stream is not None else self.out
        with _LOCK:
            try:
                target.write(text)
                target.flush()
            except (BrokenPipeError, ValueError):
                pass  # the reader went away; a real server keeps running too

    def record(self, level: str, where: str, message: str) -> None:
        """One vLLM logger record; `where` is `file.py:line`."""
        head = f"{self.prefix}{level} {timestamp()} [{where}] "
        self.write("".join(f"{head}{line}\n" for line in message.split("\n")))

    def info(self, where: str, message: str) -> None:
        self.record("INFO", where, message)

    def warning(self, where: str, message: str) -> None:
        self.record("WARNING", where, message)

    def error(self, where: str, message: str) -> None:
        self.record("ERROR", where, message)

    def uvicorn(self, message: str, level: str = "INFO") -> None:
        """A uvicorn line: `INFO:` padded to 9 characters, a space, the message."""
        self.write(f"{self.prefix}{level + ':':<9} {message}\n")

    def access(self, client: str, method: str, path: str, status: int, phrase: str) -> None:
        """uvicorn's access line, e.g. `127.0.0.1:50926 - "POST /v1/completions HTTP/1.1" 200 OK`."""
        self.write(f'{self.prefix}INFO:     {client} - "{method} {path} HTTP/1.1" {status} {phrase}\n')

    def raw(self, text: str, to_stderr: bool = True) -> None:
        """Unformatted lines (a traceback, `print()` output) with the process prefix on each."""
        lines = text.split("\n")
        self.write(
            "".join(f"{self.prefix}{line}\n" for line in lines),
            self.err if to_stderr else self.out,
        )

    def bare(self, text: str, to_stderr: bool = True) -> None:
        """Lines with no prefix at all, such as tqdm progress frames."""
        self.write(text if text.endswith("\n") else text + "\n", self.err if to_stderr else self.out)
