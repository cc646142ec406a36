"""The messages one area sends to another (the App routes them); each carries frozen values only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rich.text import Text
from textual.message import Message

from tui.stages.events import StageEvent
from tui.stages.runner import StageOutcome


class StageEventArrived(Message):
    """One line from the running stage, parsed (or raw text), with the progress reading when it is one.

    `ttft_history` is the benchmark's running TTFT p50, one value per progress
    event so far (bounded), for the sparkline; empty for other stages.
    """

    def __init__(self, name: str, event: StageEvent | str, line: Text | None,
                 ttft_history: tuple[float | None, ...] = ()) -> None:
        super().__init__()
        self.name = name
        self.event = event
        self.line = line
        self.ttft_history = ttft_history


class StageFinished(Message):
    """A stage has ended (done, failed or cancelled)."""

    def __init__(self, outcome: StageOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class ComparisonReady(Message):
    """Two benchmark results compared (`tui.stages.bench.compare` rows), and where the comparison was saved."""

    def __init__(self, comparison: Mapping[str, Any], folder: Path | None) -> None:
        super().__init__()
        self.comparison: Mapping[str, Any] = MappingProxyType(dict(comparison))
        self.folder = folder


class OwnServerProcessStopped(Message):
    """The operator stopped `pid` (`name`), a process of the server this console launched, from the Devices area:
    the server's end that follows is told as what it was."""

    def __init__(self, pid: int, name: str) -> None:
        super().__init__()
        self.pid = pid
        self.name = name


class AttachedTreeChanged(Message):
    """The processes of the server we attached to (empty when not attached): the Devices area neither offers
    to stop them nor marks them as leftovers."""

    def __init__(self, pids: frozenset[int]) -> None:
        super().__init__()
        self.pids = pids

