"""Timing keystrokes as a user sees them: from the terminal driver to the frame that shows the effect.

Pilot's own `press` waits for the whole process to go idle, which times its
heuristics rather than the console, so the benchmarks send the key through the
driver and watch the app's display call (wrapped here) for the next frame.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from textual import events
from textual.app import App


class FrameClock:
    """Records when each frame is written to the (headless) terminal."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.frames: list[float] = []
        display = app._display

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            self.frames.append(time.perf_counter())

        app._display = timed_display  # type: ignore[method-assign]

    async def press(self, key: str, shown: Callable[[], bool], timeout_s: float = 5.0) -> float:
        """Send `key`; the milliseconds until a frame is written after `shown()` became true."""
        driver = self.app._driver
        assert driver is not None, "run the app (run_test) first"
        before = time.perf_counter()
        event = events.Key(key, key)
        event.set_sender(self.app)
        driver.send_message(event)
        # Polling on purpose: Textual writes the frame and signals nothing that could be awaited.
        while not shown() or not self.frames or self.frames[-1] < before:
            await asyncio.sleep(0.0005)
            if time.perf_counter() - before > timeout_s:
                raise TimeoutError(f"key {key!r} not shown within {timeout_s} s")
        return (self.frames[-1] - before) * 1000


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def summary(latencies: list[float], target_ms: float) -> str:
    """`N keys, median …, p99 …, worst … — worst = R x target`."""
    worst = max(latencies)
    return (f"{len(latencies)} keys, median {statistics.median(latencies):.1f} ms, p99 {p99(latencies):.1f} ms, "
            f"worst {worst:.1f} ms — worst = {worst / target_ms:.2f} x {target_ms:.0f} ms")
