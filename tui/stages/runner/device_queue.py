"""One heavy stage per device at a time: a first-come-first-served line that shows who holds it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass


@dataclass(eq=False)
class _Waiter:
    name: str
    future: asyncio.Future[None]


class DeviceQueue:
    """A first-come-first-served lock for one device, that shows who holds it and who waits.

    Two heavy stages on the same NPU would fight over HBM and both fail (or
    both measure nonsense), so the second waits; `running` and `waiting` let the
    stage panel say so instead of looking stuck. `on_change` is called whenever
    either changes.
    """

    def __init__(self, device: str = "default", on_change: Callable[[], None] | None = None) -> None:
        self.device = device
        self.on_change = on_change
        self._running: str | None = None
        self._waiters: deque[_Waiter] = deque()

    @property
    def running(self) -> str | None:
        return self._running

    @property
    def waiting(self) -> tuple[str, ...]:
        return tuple(waiter.name for waiter in self._waiters)

    @contextlib.asynccontextmanager
    async def slot(self, name: str) -> AsyncIterator[float]:
        """Hold the device for `name`; yields the seconds it waited. Cancelling while waiting leaves the line."""
        start = time.monotonic()
        if self._running is None and not self._waiters:
            self._running = name
        else:
            waiter = _Waiter(name, asyncio.get_running_loop().create_future())
            self._waiters.append(waiter)
            self._changed()
            try:
                await waiter.future
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                    self._changed()
                elif waiter.future.done() and not waiter.future.cancelled():
                    self._release()  # the slot was handed to us as we were cancelled: pass it on
                raise
        self._changed()
        try:
            yield time.monotonic() - start
        finally:
            self._release()

    def _release(self) -> None:
        self._running = None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.future.done():
                self._running = waiter.name
                waiter.future.set_result(None)
                break
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
