"""Every message a worker sends to the UI: workers never touch widgets themselves."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from tui.devices.host import HostSnapshot
from tui.profiles import Profile


class HostSampled(Message):
    """A new reading of host CPU and memory."""

    def __init__(self, snapshot: HostSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HostSampled)


class DeviceToolRead(Message):
    """One run of the device tool: what ran, its output, or why there is none."""

    def __init__(self, source: str, output: str, error: str | None) -> None:
        super().__init__()
        self.source = source
        self.output = output
        self.error = error


class RunDirReady(Message):
    """The session's run directory exists (or could not be made: `error`)."""

    def __init__(self, path: Path | None, error: str | None = None) -> None:
        super().__init__()
        self.path = path
        self.error = error


class ProfileLoaded(Message):
    """A profile was read and validated and is now the session's."""

    def __init__(self, profile: Profile) -> None:
        super().__init__()
        self.profile = profile
