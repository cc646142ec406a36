"""A real writer process per test, driven step by step, killed in teardown."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui.server.tail import LogTail, TailBatch

WRITER = Path(__file__).with_name("writer_process.py")
STEP_TIMEOUT_S = 10.0


class Writer:
    """A writer process in command mode: each call returns once the bytes are on disk."""

    def __init__(self, path: Path, *, append: bool = True) -> None:
        self.path = path
        self.process = subprocess.Popen(
            [sys.executable, str(WRITER), str(path), "append" if append else "overwrite"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def _send(self, **command: str) -> Writer:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer == "ok\n", f"writer failed on {command}: {answer!r}"
        return self

    def open(self) -> Writer:
        return self._send(op="open")

    def write(self, data: str | bytes) -> Writer:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        return self._send(op="write", hex=raw.hex())

    def truncate(self) -> Writer:
        return self._send(op="truncate")

    def reopen(self) -> Writer:
        return self._send(op="reopen")

    def close(self) -> Writer:
        return self._send(op="close")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def stream_writer(
    path: Path, lines: list[str], *, seed: int = 0, pause_at: int | None = None
) -> subprocess.Popen[bytes]:
    """A writer process in stream mode: it writes `lines` in random-sized pieces and exits.

    With `pause_at` it holds after that many bytes until a line is written to its stdin.
    """
    spec = path.with_name(f"{path.name}.spec.json")
    spec.write_text(json.dumps({"lines": lines, "seed": seed, "pause_at": pause_at}), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(path), "append", "stream", str(spec)], stdin=subprocess.PIPE
    )


def read_until(
    tail: LogTail, done: Callable[[list[str]], bool], timeout_s: float = STEP_TIMEOUT_S
) -> tuple[list[str], list[TailBatch]]:
    """Call `read_available` until the collected lines satisfy `done`; fail at the deadline."""
    lines: list[str] = []
    batches: list[TailBatch] = []
    deadline = time.monotonic() + timeout_s
    while not done(lines):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out with {len(lines)} lines; last: {lines[-3:]!r}")
        batch = tail.read_available()
        batches.append(batch)
        lines.extend(batch.lines)
        if not batch.lines and not batch.more:
            time.sleep(0.005)
    return lines, batches


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "server.log"


@pytest.fixture
def writer(log_path: Path) -> Iterator[Callable[..., Writer]]:
    """A factory of writer processes on `log_path`; all are killed afterwards."""
    started: list[Writer] = []

    def start(*, append: bool = True, open_now: bool = True) -> Writer:
        w = Writer(log_path, append=append)
        started.append(w)
        return w.open() if open_now else w

    yield start
    for w in started:
        w.stop()


@pytest.fixture
def tail_of(log_path: Path) -> Iterator[Callable[..., LogTail]]:
    """A factory of tails on `log_path`; all are closed afterwards."""
    tails: list[LogTail] = []

    def make(**kwargs: Any) -> LogTail:
        t = LogTail(log_path, **kwargs)
        tails.append(t)
        return t

    yield make
    for t in tails:
        t.close()
