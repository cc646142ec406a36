"""What every controller has: the app it works for, the session, and a way to start workers."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.worker import Worker

from tui.screens.main import MainScreen
from tui.startup.session import ConsoleSession

if TYPE_CHECKING:
    from tui.app import NpuConsoleApp
    from tui.profile import Profile


class Controller:
    """One area's state and logic. Widgets are reached through `main`; results travel as messages."""

    def __init__(self, app: NpuConsoleApp) -> None:
        self.app = app

    @property
    def session(self) -> ConsoleSession:
        return self.app.session

    @property
    def main(self) -> MainScreen:
        return self.app.main

    def worker(self, work: Callable[..., Coroutine[Any, Any, object]], *args: Any, group: str,
               exclusive: bool = False) -> Worker[object]:
        """Run `work(*args)` as an App worker in `group` (the failure policy names a failure by its group)."""
        return self.app.run_worker(partial(work, *args), name=work.__name__, group=group, exclusive=exclusive)

    def picked_profile(self) -> Profile | None:
        """The session's profile; None, after asking the operator to pick one (p), when there is none."""
        profile = self.session.profile
        if profile is None:
            self.app.notify("Pick a profile first (p).", severity="warning")
        return profile
