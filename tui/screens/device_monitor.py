"""Keeps the device readings coming: the poll loop as an invisible widget.

It owns the `DevicePoller`, starts each read only after the previous one has
ended (the timer is re-armed when a read completes, never on a fixed
interval), skips reads while the Devices area is hidden, and reports each
result with a `DevicesPolled` message that bubbles up to the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual import work
from textual.timer import Timer
from textual.widget import Widget

from tui.devices.backends import pick_backend
from tui.devices.poller import DevicePoller, DeviceState
from tui.devices.processes import describe_holders
from tui.screens.messages import DevicesPolled, DevicesUnavailable
from tui.startup.session import ConsoleSession


class DeviceMonitor(Widget):
    """Not drawn; hosts the poll loop's timer and worker."""

    DEFAULT_CSS = "DeviceMonitor { display: none; }"

    def __init__(self, session: ConsoleSession, interval_s: float, timeout_s: float,
                 is_shown: Callable[[], bool]) -> None:
        super().__init__()
        self._session = session
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._is_shown = is_shown
        self._timer: Timer | None = None
        self._in_flight = False
        self._again = False
        self._asked = False
        self.poller: DevicePoller | None = None

    @property
    def interval_s(self) -> float:
        return self._interval_s

    @property
    def state(self) -> DeviceState | None:
        return self.poller.state if self.poller else None

    @property
    def reading(self) -> bool:
        """A read is running now."""
        return self._in_flight

    def start(self) -> None:
        """Pick the backend this host has and take the first reading."""
        backend = pick_backend("auto", self._session.env)
        if isinstance(backend, str):
            self.post_message(DevicesUnavailable(backend))
            return
        self.poller = DevicePoller(backend, self._session.command_runner, self._session.clock,
                                   interval_s=self._interval_s, timeout_s=self._timeout_s)
        self.poll_now()

    def poll_now(self) -> bool:
        """Read as soon as possible: now, or right after the read in flight. False when there is no tool.

        An asked-for read happens even while the Devices area is hidden: whoever asked (a stop's memory
        check, a preflight) needs the chips as they are now; only the periodic reads pause.
        """
        if self.poller is None:
            return False
        self._asked = True
        if self._in_flight:
            self._again = True
            return True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._read()
        return True

    @work(group="device-poll")
    async def _read(self) -> None:
        poller = self.poller
        assert poller is not None
        self._in_flight = True
        try:
            if not self._is_shown() and not self._asked:
                return  # paused while nobody sees it; `poll_now` resumes when the area is shown
            self._asked = False
            state = await poller.poll_once()
            processes = state.snapshot.processes if state.snapshot is not None and state.error is None else ()
            our_pids = self._session.launched_pids
            holders = await asyncio.to_thread(describe_holders, processes, our_pids) if processes else ()
            self.post_message(DevicesPolled(state, holders))
        finally:
            self._in_flight = False
            delay = 0.0 if self._again else poller.next_delay()
            self._again = False
            if self.is_mounted:
                self._timer = self.set_timer(delay, self._read) if delay else None
                if not delay:
                    self._read()
