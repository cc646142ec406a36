"""Building the real app for tests the way `npu-console` builds it, and waiting on state."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tui.app import NpuConsoleApp, make_app
from tui.clock import FrozenClock
from tui.devices.host import HostSnapshot
from tui.startup.build import build_session

GIB = 1024**3
SNAPSHOT_TIME = datetime(2026, 11, 21, 9, 30, 0, tzinfo=timezone.utc)


class FixedHost:
    """Host readings that do not change, so screenshots and snapshots are stable."""

    def sample(self) -> HostSnapshot:
        return HostSnapshot(cpu_pct=12.0, cpu_count=192, load_1m=3.4,
                            memory_used_bytes=210 * GIB, memory_total_bytes=1510 * GIB, swap_used_bytes=0)


def demo_app(
    runs_dir: Path,
    *,
    profile: str | None = None,
    env: dict[str, str] | None = None,
    frozen: bool = False,
) -> NpuConsoleApp:
    """The `--demo` console, as the CLI would build it, with runs under `runs_dir`."""
    session = build_session(
        profile=profile, variant=None, runs_dir=runs_dir, demo=True,
        env=env if env is not None else dict(os.environ),
        clock=FrozenClock(SNAPSHOT_TIME) if frozen else None,
        move_busy_demo_port=not frozen,  # a picture must not depend on what else listens on 8000
    )
    return make_app(session, host_sampler=FixedHost() if frozen else None)


async def wait_until(pilot: Pilot[None], predicate: Callable[[], bool], timeout: float = 15.0,
                     what: str = "the condition") -> None:
    """Let the app run until `predicate()` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.05)
        await asyncio.sleep(0)


def capture_notes(app: NpuConsoleApp) -> list[str]:
    notes: list[str] = []
    original = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        notes.append(message)
        original(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return notes


async def confirm(pilot: Pilot[None], screen_type: type[Any] | None = None) -> None:
    """Answer yes to the confirmation that is open (or opens): the focus starts on Cancel, so Tab, then Enter."""
    from tui.screens.confirm import ConfirmScreen

    wanted = screen_type or ConfirmScreen
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, wanted), what="the confirmation")
    await pilot.press("tab", "enter")


LAUNCHED: list[tuple[int, float]] = []  # (pid, create time) of servers the tests launched; see conftest.py


def remember_launch(app: NpuConsoleApp) -> None:
    """Note the server `app` launched, so that a test that fails half-way still leaves nothing running."""
    import psutil

    pid = app.server.status.pid
    if pid is not None:
        try:
            LAUNCHED.append((pid, psutil.Process(pid).create_time()))
        except psutil.Error:
            pass
