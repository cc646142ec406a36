"""`within`: `asyncio.wait_for` without the lost cancellation of Python before 3.12.

Before 3.12, `asyncio.wait_for` returns the inner result when the inner awaitable finishes in the same loop
iteration as the caller's cancellation, and the cancellation is lost (CPython gh-86296). A stream whose next
chunk is always ready, such as a real vLLM streaming a few hundred tokens a second, hits that window nearly every
time: Esc cancelled the playground's worker and the reply went on to its end. `within` waits with
`asyncio.wait`, which never swallows the caller's cancellation, and cancels the inner work on a timeout or a
cancel, as `wait_for` does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], timeout: float | None) -> T:
    """The result of `awaitable`, or `asyncio.TimeoutError` after `timeout` seconds (None: no bound)."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        await _cancel(task)
        raise
    if not done:
        await _cancel(task)
        raise asyncio.TimeoutError
    return task.result()


async def _cancel(task: asyncio.Future[T]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
