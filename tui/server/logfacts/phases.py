"""The start-up phases of a vLLM server, and how long each took when the log has timestamps.

An operator watching a start that "looks hung" needs to know which step it is in
and how long that step has been running (compiling and graph capture can take
minutes). The phases are the milestones every version prints in some wording:
process start, config resolved, weights loading (the safetensors progress bar),
weights loaded, torch.compile, graph capture, KV cache, API listening, ready.

vLLM stamps records `MM-DD HH:MM:SS` (no year, local time); uvicorn and raw lines
carry no time, so a phase entered on such a line takes the last stamp seen
before it (or the next one, when none came before). A phase is entered once, at
its first marker; durations run to the next phase entered, the last one to the
last stamp in the log. Interleaved processes can make stamps go backwards: such
a duration is unknown (None), never negative.
"""

from __future__ import annotations

from dataclasses import dataclass

START = "start"
CONFIG = "config"
WEIGHTS_LOADING = "weights_loading"
WEIGHTS_LOADED = "weights_loaded"
COMPILE = "compile"
GRAPH_CAPTURE = "graph_capture"
KV_CACHE = "kv_cache"
API_LISTENING = "api_listening"
READY = "ready"

LABELS: dict[str, str] = {
    START: "process start",
    CONFIG: "config resolved",
    WEIGHTS_LOADING: "weights loading",
    WEIGHTS_LOADED: "weights loaded",
    COMPILE: "compile",
    GRAPH_CAPTURE: "graph capture",
    KV_CACHE: "KV cache",
    API_LISTENING: "API listening",
    READY: "ready",
}
ORDER: tuple[str, ...] = tuple(LABELS)

_DAYS_BEFORE_MONTH = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_YEAR_S = 365 * 86400
_HALF_YEAR_S = _YEAR_S // 2


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase as the log shows it: where it began and, with timestamps, when and for how long."""

    name: str
    label: str
    line: int
    elapsed_s: float | None
    """Seconds from the first timestamp of the log to this phase's start."""
    duration_s: float | None
    """Seconds until the next phase began (the last phase: until the last timestamp); None when unknown."""

    def to_json(self) -> dict[str, object]:
        return {
            "phase": self.name, "label": self.label, "line": self.line,
            "elapsed_s": self.elapsed_s, "duration_s": self.duration_s,
        }


def stamp_seconds(stamp: str) -> int | None:
    """`MM-DD HH:MM:SS` as seconds into a notional non-leap year, or None when it is not that shape."""
    try:
        month, day = int(stamp[0:2]), int(stamp[3:5])
        hour, minute, second = int(stamp[6:8]), int(stamp[9:11]), int(stamp[12:14])
    except ValueError:
        return None
    if not 1 <= month <= 12:
        return None
    return ((_DAYS_BEFORE_MONTH[month - 1] + day - 1) * 24 + hour) * 3600 + minute * 60 + second


def seconds_between(earlier: str, later: str) -> float | None:
    """`later - earlier` in seconds across a year end; None when unknown or negative."""
    start, end = stamp_seconds(earlier), stamp_seconds(later)
    if start is None or end is None:
        return None
    delta = end - start
    if delta < -_HALF_YEAR_S:
        delta += _YEAR_S
    return float(delta) if delta >= 0 else None


class _Mark:
    """Where a phase began: its line and the stamp it took (filled in later when it had none)."""

    __slots__ = ("line", "stamp")

    def __init__(self, line: int, stamp: str) -> None:
        self.line = line
        self.stamp = stamp


class PhaseTracker:
    """Which phases the log has entered, at which line and stamp.

    `enter` is called with the stamp of the line that marks a phase (or "" for
    uvicorn and raw lines); `note_stamp` with every record's stamp, so pending
    phases get a time and the last phase's duration can run to the end.
    """

    __slots__ = ("_entered", "_first_stamp", "_last_stamp", "_pending")

    def __init__(self) -> None:
        self._entered: dict[str, _Mark] = {}
        self._pending: list[_Mark] = []
        self._first_stamp = ""
        self._last_stamp = ""

    def __contains__(self, name: str) -> bool:
        return name in self._entered

    def note_stamp(self, stamp: str) -> None:
        """Remember the latest record stamp; give it to phases still waiting for one."""
        if not self._first_stamp:
            self._first_stamp = stamp
        self._last_stamp = stamp
        if self._pending:
            for mark in self._pending:
                mark.stamp = stamp
            self._pending.clear()

    def enter(self, name: str, line: int, stamp: str) -> tuple[bool, float | None]:
        """Enter `name` at `line`; (False, None) when it was entered before, else (True, elapsed seconds).

        The elapsed time runs from the first stamp of the log; it is None while
        the phase has no stamp yet (a uvicorn line before any record).
        """
        if name in self._entered:
            return False, None
        when = stamp or self._last_stamp
        mark = _Mark(line, when)
        self._entered[name] = mark
        if name == START:
            if not when:
                self._pending.append(mark)
            return True, 0.0
        if not when:
            self._pending.append(mark)
            return True, None
        return True, seconds_between(self._first_stamp, when) if self._first_stamp else None

    def phases(self) -> list[Phase]:
        """The phases entered so far, in the order of the lines that began them."""
        marks = sorted(self._entered.items(), key=lambda item: (item[1].line, ORDER.index(item[0])))
        result: list[Phase] = []
        for index, (name, mark) in enumerate(marks):
            stamp = mark.stamp
            elapsed: float | None = 0.0 if name == START else None
            if name != START and stamp and self._first_stamp:
                elapsed = seconds_between(self._first_stamp, stamp)
            duration = None
            if stamp and name != READY:
                if index + 1 < len(marks):
                    following = marks[index + 1][1].stamp
                    duration = seconds_between(stamp, following) if following else None
                elif self._last_stamp:
                    duration = seconds_between(stamp, self._last_stamp)
            result.append(Phase(name, LABELS[name], mark.line, elapsed, duration))
        return result
