"""`within` keeps the caller's cancellation where Python < 3.12's `asyncio.wait_for` loses it (gh-86296)."""

from __future__ import annotations

import asyncio

import pytest

from tui.api.bounded import within


async def test_a_cancel_while_the_inner_result_is_ready_is_not_lost() -> None:
    """The window that made Esc fail against a fast stream: the inner work finishes as the cancel arrives."""
    results: list[str] = []

    async def reader() -> None:
        while True:
            ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            ready.set_result("chunk")  # always ready, as the next chunk of a fast server is
            results.append(await within(ready, 5.0))

    for steps in range(60):  # the cancel lands at every point of the reader's loop in turn
        task = asyncio.ensure_future(reader())
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.wait({task}, timeout=2)
        lost = not task.done()
        for _ in range(1000):  # clean up a reader that lost its cancel (it would read forever)
            if task.done():
                break
            task.cancel()
            await asyncio.sleep(0.001)
        assert not lost and task.cancelled(), f"the cancel after {steps} loop steps was lost"
    assert results, "the reader read"


async def test_a_timeout_cancels_the_inner_work() -> None:
    cancelled = asyncio.Event()

    async def slow() -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    with pytest.raises(asyncio.TimeoutError):
        await within(slow(), 0.05)
    assert cancelled.is_set()


async def test_the_result_comes_through() -> None:
    async def quick() -> int:
        return 7

    assert await within(quick(), None) == 7
