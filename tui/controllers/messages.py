"""The messages one area sends to another (the App routes them); each carries frozen values only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rich.text import Text
from textual.message import Message

from tui.api.reply import Reply
from tui.playground.journal import Conversation
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



class AreaWanted(Message):
    """A worker's step needs `area` in front (a stage starts, a launch's preflight opens): the screen brings it."""

    def __init__(self, area: str) -> None:
        super().__init__()
        self.area = area


class StageStatusChanged(Message):
    """The Stages area's status line, said by a worker before a stage's own events come (waiting for the device,
    starting, building the demo's checkpoint, why that failed); `fresh` clears the last stage's log and result
    first, `busy` marks the progress bar as running; `line` None leaves the line as it was."""

    def __init__(self, line: Text | None, *, busy: bool, fresh: bool = False) -> None:
        super().__init__()
        self.line = None if line is None else line.copy()
        self.busy = busy
        self.fresh = fresh


class StageRunPicked(Message):
    """A past stage run the operator picked from the list (`S`): its result is shown in the Stages area."""

    def __init__(self, title: str, result: Mapping[str, Any] | None, error: str | None, folder: Path | None) -> None:
        super().__init__()
        self.title = title
        self.result: Mapping[str, Any] | None = None if result is None else MappingProxyType(dict(result))
        self.error = error
        self.folder = folder


class ReplyStarted(Message):
    """A Playground request is on its way: its turn (`reply_id`) is drawn with the prompt, the reply to follow."""

    def __init__(self, reply_id: int, prompt: str, label: str) -> None:
        super().__init__()
        self.reply_id = reply_id
        self.prompt = prompt
        self.label = label


class ReplyDelta(Message):
    """What has arrived of reply `reply_id` so far (the whole text and reasoning, not the increment)."""

    def __init__(self, reply_id: int, text: str, reasoning: str) -> None:
        super().__init__()
        self.reply_id = reply_id
        self.text = text
        self.reasoning = reasoning


class ReplyFinished(Message):
    """Reply `reply_id` has ended: complete, partial (`cancelled` when the operator pressed Esc), or, with `reply`
    None, never sent (`error` says why)."""

    def __init__(self, reply_id: int, reply: Reply | None, *, cancelled: bool = False, error: str | None = None
                 ) -> None:
        super().__init__()
        self.reply_id = reply_id
        self.reply = reply
        self.cancelled = cancelled
        self.error = error


class SessionChanged(Message):
    """The session's profile, selected variant or running launch changed (the session holds the new value
    already): what shows them is drawn again, only the header when `header_only`."""

    def __init__(self, *, header_only: bool = False) -> None:
        super().__init__()
        self.header_only = header_only


class ServerNoteChanged(Message):
    """The Server area's note (what an attach found), a warning when what it attached to is not alive."""

    def __init__(self, note: str | None, *, warning: bool = False) -> None:
        super().__init__()
        self.note = note
        self.warning = warning


class PlaygroundSettingsChanged(Message):
    """The Playground's model, system prompt or sampling changed: its settings line is drawn again."""


class PromptPicked(Message):
    """A preset the operator picked: it goes into the prompt box, to be edited and sent."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ConversationReopened(Message):
    """A saved conversation the Playground continues (its state already holds it): its turns are drawn."""

    def __init__(self, conversation: Conversation) -> None:
        super().__init__()
        self.conversation = conversation
