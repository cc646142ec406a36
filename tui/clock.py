"""Time as a collaborator, so tests and screenshots can fix it.

The app never calls `datetime.now()` or `time.monotonic()` for what it shows or
names: it asks the clock it was built with. `SystemClock` is the real one;
`FrozenClock` stands still (for run-directory names, ages and SVG snapshots that
must not change). Timeouts do not use this clock: they are asyncio's, so a
frozen clock never stops a bounded call from ending.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    """Wall time for names and display, monotonic time for durations."""

    def now(self) -> datetime:
        """The current wall time, timezone-aware (local zone)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going backwards."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now().astimezone()

    def monotonic(self) -> float:
        return time.monotonic()


class FrozenClock:
    """A clock stopped at `at`: every reading is the same."""

    def __init__(self, at: datetime | None = None) -> None:
        self._at = at or datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self._at

    def monotonic(self) -> float:
        return 1000.0
