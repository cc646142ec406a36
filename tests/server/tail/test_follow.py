"""`follow`: the async loop, its back-pressure and how it stops."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

from tests.server.tail.conftest import Writer, stream_writer
from tui.server.tail import LogTail, TailBatch, follow


async def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_follow_delivers_a_real_writer_s_lines_in_batches(
    log_path: Path, tail_of: Callable[..., LogTail]
) -> None:
    lines = [f"{index:05d} 日志行 {'x' * (index % 300)}" for index in range(5000)]
    tail = tail_of(from_start=True, max_bytes_per_call=64 * 1024)
    got: list[str] = []
    batches: list[TailBatch] = []

    def on_batch(batch: TailBatch) -> None:
        batches.append(batch)
        got.extend(batch.lines)

    stop = asyncio.Event()
    task = asyncio.create_task(follow(tail, on_batch, poll_s=0.01, stop=stop))
    process = stream_writer(log_path, lines, seed=3)
    try:
        await wait_until(lambda: len(got) >= len(lines))
    finally:
        stop.set()
        await asyncio.wait_for(task, 2)
        process.wait(timeout=10)
    assert got == lines
    assert len(batches) > 2, "a 1 MB log in 64 KB budgets comes in several batches"
    missing_reports = [batch for batch in batches if batch.missing]
    assert len(missing_reports) <= 1, "a still-missing file is reported once, not every poll"


async def test_back_pressure_stops_reading_while_the_consumer_is_behind(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail]
) -> None:
    w = writer()
    tail = tail_of(from_start=True)
    queue: list[str] = []
    behind = True
    stop = asyncio.Event()

    async def on_batch(batch: TailBatch) -> None:  # a coroutine handler is awaited
        await asyncio.sleep(0)
        queue.extend(batch.lines)

    task = asyncio.create_task(follow(tail, on_batch, poll_s=0.01, stop=stop, should_wait=lambda: behind))
    try:
        w.write("".join(f"line {index}\n" for index in range(100)))
        await asyncio.sleep(0.15)  # a dozen polls' worth
        assert queue == [] and tail.offset == 0 and tail.bytes_read == 0, "nothing may be read while behind"
        behind = False
        await wait_until(lambda: len(queue) == 100)
        assert queue == [f"line {index}" for index in range(100)]
        behind = True
        w.write("held back\n")
        await asyncio.sleep(0.1)
        assert len(queue) == 100
        behind = False
        await wait_until(lambda: len(queue) == 101)
        assert queue[-1] == "held back"
    finally:
        stop.set()
        await asyncio.wait_for(task, 2)


async def test_follow_stops_promptly_even_with_a_long_poll(tail_of: Callable[..., LogTail]) -> None:
    tail = tail_of()
    stop = asyncio.Event()
    seen: list[TailBatch] = []
    task = asyncio.create_task(follow(tail, seen.append, poll_s=600, stop=stop))
    await wait_until(lambda: bool(seen))
    assert seen[0].missing
    stop.set()
    # A follow that slept out its poll would take 600 s; the 60 s bound only guards a hang.
    await asyncio.wait_for(task, 60)
    assert len(seen) == 1


async def test_follow_reports_truncation_and_rotation(
    writer: Callable[..., Writer], tail_of: Callable[..., LogTail], log_path: Path
) -> None:
    w = writer()
    tail = tail_of(from_start=True)
    seen: list[TailBatch] = []
    stop = asyncio.Event()
    task = asyncio.create_task(follow(tail, seen.append, poll_s=0.005, stop=stop))
    try:
        w.write("one\n")
        await wait_until(lambda: any(b.lines == ("one",) for b in seen))
        w.truncate().write("two\n")
        await wait_until(lambda: any(b.truncated for b in seen))
        os.rename(log_path, log_path.with_name("server.log.1"))  # logrotate, from another "process"
        w.reopen().write("three\n")
        await wait_until(lambda: any(b.rotated for b in seen))
    finally:
        stop.set()
        await asyncio.wait_for(task, 2)
    assert [line for b in seen for line in b.lines] == ["one", "two", "three"]
    assert next(b for b in seen if b.truncated).lines == ("two",)
    assert next(b for b in seen if b.rotated).lines == ("three",)
