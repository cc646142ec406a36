"""One console session: the profile in use and the collaborators the app is built with.

The CLI and the tests build a `ConsoleSession` and hand it to `tui.app.make_app`;
nothing in the app reaches for globals (the clock, the environment subprocesses
get, the runs folder, the HTTP transport) — it asks the session. That is what
lets a test run the real app against a simulated host in a temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.clock import Clock, SystemClock
from tui.files.runs import create_run_dir
from tui.processes.commands import CommandRunner, SubprocessRunner
from tui.profile import Profile


@dataclass
class ConsoleSession:
    """What the app works on. Mutable only through its methods (profile switch, run dir)."""

    profile: Profile | None
    runs_root: Path
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    runner: CommandRunner | None = None
    clock: Clock = field(default_factory=SystemClock)
    http_transport: Any | None = None  # an httpx.AsyncBaseTransport; None = the network
    simulated: bool = False
    sim_home: Path | None = None
    variant: str | None = None
    run_dir: Path | None = None
    startup_note: str | None = None  # a sentence to show once the console is up
    launched_pids: tuple[int, ...] = ()  # roots of the server tree this console started (ours, not leftovers)

    def __post_init__(self) -> None:
        if self.runner is None:
            self.runner = SubprocessRunner(self.env)
        if self.profile is not None and self.variant is None:
            self.variant = self.profile.default_variant

    @property
    def command_runner(self) -> CommandRunner:
        assert self.runner is not None  # set in __post_init__
        return self.runner

    def use_profile(self, profile: Profile) -> None:
        """Switch to `profile`; the next evidence goes to a new run directory."""
        self.profile = profile
        self.variant = profile.default_variant
        self.run_dir = None

    def update_profile(self, profile: Profile) -> None:
        """The same profile, edited (and saved): the session, its variant and run directory go on."""
        self.profile = profile

    def ensure_run_dir(self) -> Path:
        """The session's run directory, created on first use (blocking I/O: call off the UI thread)."""
        if self.run_dir is None:
            name = self.profile.name if self.profile is not None else "no-profile"
            meta = {
                "simulated": self.simulated,
                "variant": self.variant,
                "profile_path": str(self.profile.path) if self.profile and self.profile.path else None,
            }
            self.run_dir = create_run_dir(self.runs_root, name, self.clock, meta)
        return self.run_dir
