"""Every message a worker sends to the UI: workers never touch widgets themselves."""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

from tui.devices.host import HostSnapshot
from tui.devices.poller import DeviceState
from tui.devices.processes import HeldMemory
from tui.processes.tree import StopReport
from tui.profile import Profile
from tui.server.log_window import LogLine
from tui.server.serving_metrics import ServingMetrics
from tui.server.status import ServerStatus


class HostSampled(Message):
    """A new reading of host CPU and memory."""

    def __init__(self, snapshot: HostSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HostSampled)


class DevicesPolled(Message):
    """One device read has ended (well or not), with the processes joined to the host's view."""

    def __init__(self, state: DeviceState, holders: tuple[HeldMemory, ...]) -> None:
        super().__init__()
        self.state = state
        self.holders = holders


class DevicesUnavailable(Message):
    """This host has no device tool to read: the sentence says what to do."""

    def __init__(self, sentence: str) -> None:
        super().__init__()
        self.sentence = sentence


class TreeStopped(Message):
    """A process tree the operator asked to stop has been signalled (see `report`)."""

    def __init__(self, target: HeldMemory, report: StopReport) -> None:
        super().__init__()
        self.target = target
        self.report = report


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


class ServerStatusChanged(Message):
    """The watched server changed state (launched, ready, failed, stopped, attached)."""

    def __init__(self, status: ServerStatus) -> None:
        super().__init__()
        self.status = status


class ServerLinesArrived(Message):
    """A batch of new log lines (classified), and how many lines the log has so far."""

    def __init__(self, lines: list[LogLine], total: int) -> None:
        super().__init__()
        self.lines = lines
        self.total = total


class ServerFactsChanged(Message):
    """The facts, phases or diagnoses read from the log changed; read them from the control."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ServerFactsChanged)


class ServerMetricsRead(Message):
    """One scrape of `/metrics`: the parsed values, or the sentence saying why there are none."""

    def __init__(self, result: ServingMetrics | str, at: float) -> None:
        super().__init__()
        self.result = result
        self.at = at
