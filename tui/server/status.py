"""What the console knows about "its" server right now, as one value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ServerState = Literal["not started", "preflight", "starting", "ready", "stopping", "stopped", "failed", "attached"]
LIVE_STATES: frozenset[ServerState] = frozenset(("starting", "ready", "stopping"))
SERVING_STATES: frozenset[ServerState] = frozenset(("ready", "attached"))


@dataclass(frozen=True)
class ServerStatus:
    """State, the process we started (None when attached or not started), where it answers, what happened."""

    state: ServerState = "not started"
    pid: int | None = None
    url: str | None = None
    detail: str | None = None  # one sentence: why it failed, what stopping found
    log_path: Path | None = None
    started_at: float | None = None  # monotonic, for the uptime

    @property
    def serving_url(self) -> str | None:
        """Where requests can go now: the URL of our server once it is ready, or of an attached one; else None."""
        return self.url if self.state in SERVING_STATES and self.url else None

    @property
    def ours_running(self) -> bool:
        """A server process this console started is (still) there."""
        return self.pid is not None and self.state in LIVE_STATES
