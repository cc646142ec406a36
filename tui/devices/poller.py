"""Polling a device backend: one read at a time, backing off on failure, never blanking.

The poller is headless and passive: `poll_once` runs one bounded read and
folds it into a `DeviceState`; the caller (the app) re-arms its timer with
`next_delay()` only after that read has ended, so reads never overlap even
when the tool hangs until its timeout. A failed read keeps the last good
snapshot, marked with its age, rather than emptying the panel: the operator
still sees what the chips looked like and how old that is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tui.clock import Clock
from tui.devices.backends import DeviceBackend
from tui.devices.snapshot import ChipReading, DeviceSnapshot
from tui.processes.commands import CommandRunner

DEFAULT_INTERVAL_S = 2.0
DEFAULT_TIMEOUT_S = 10.0
MAX_BACKOFF_S = 30.0
HISTORY_LEN = 120  # samples per chip: 4 minutes at the default interval

ChipKey = tuple[int, int | None]  # (npu, chip): what identifies a chip across reads


def chip_key(chip: ChipReading) -> ChipKey:
    return (chip.npu, chip.chip)


@dataclass(frozen=True)
class ChipHistory:
    """The recent HBM use and utilization of one chip, oldest first (None where unreported)."""

    hbm_used_mb: tuple[int | None, ...] = ()
    util_pct: tuple[int | None, ...] = ()


@dataclass(frozen=True)
class DeviceState:
    """What the Devices area draws: the last good snapshot, how old it is, and the latest failure."""

    snapshot: DeviceSnapshot | None = None
    read_at: datetime | None = None  # wall time of the last good read
    read_at_monotonic: float | None = None
    error: str | None = None  # the latest read's failure, None when it succeeded
    failures: int = 0  # consecutive failed reads
    source: str = ""  # which backend
    duration_s: float | None = None  # how long the latest read took
    history: Mapping[ChipKey, ChipHistory] = field(default_factory=dict)

    def age_s(self, now_monotonic: float) -> float | None:
        """Seconds since the last good read, None when there never was one."""
        if self.read_at_monotonic is None:
            return None
        return max(0.0, now_monotonic - self.read_at_monotonic)

    def is_stale(self, now_monotonic: float, interval_s: float) -> bool:
        """The shown values no longer describe the device: the latest read failed, or reads stopped."""
        age = self.age_s(now_monotonic)
        return self.error is not None or age is None or age > 3 * interval_s + 1.0


class DevicePoller:
    """Reads `backend` through `runner` and keeps the state and per-chip histories."""

    def __init__(
        self,
        backend: DeviceBackend,
        runner: CommandRunner,
        clock: Clock,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        history_len: int = HISTORY_LEN,
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        self.backend = backend
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._runner = runner
        self._clock = clock
        self._max_backoff_s = max(max_backoff_s, interval_s)
        self._hbm: dict[ChipKey, deque[int | None]] = {}
        self._util: dict[ChipKey, deque[int | None]] = {}
        self._history_len = history_len
        self.state = DeviceState(source=backend.name)

    async def poll_once(self) -> DeviceState:
        """One read, bounded by `timeout_s`; returns (and keeps) the new state."""
        started = self._clock.monotonic()
        snapshot = await self.backend.read(self._runner, self.timeout_s)
        duration = self._clock.monotonic() - started
        previous = self.state
        if snapshot.error is None and snapshot.chips:
            self._remember(snapshot)
            self.state = DeviceState(
                snapshot=snapshot,
                read_at=self._clock.now(),
                read_at_monotonic=self._clock.monotonic(),
                error=None,
                failures=0,
                source=self.backend.name,
                duration_s=duration,
                history=self._history(),
            )
        else:
            error = snapshot.error or "the device tool answered but listed no chips"
            self.state = DeviceState(
                snapshot=previous.snapshot,
                read_at=previous.read_at,
                read_at_monotonic=previous.read_at_monotonic,
                error=error,
                failures=previous.failures + 1,
                source=self.backend.name,
                duration_s=duration,
                history=previous.history,
            )
        return self.state

    def next_delay(self) -> float:
        """Seconds until the next read: the interval, doubled per consecutive failure up to the cap."""
        if self.state.failures == 0:
            return self.interval_s
        return float(min(self._max_backoff_s, self.interval_s * 2 ** min(self.state.failures, 10)))

    def _remember(self, snapshot: DeviceSnapshot) -> None:
        for chip in snapshot.chips:
            key = chip_key(chip)
            self._hbm.setdefault(key, deque(maxlen=self._history_len)).append(chip.hbm_used_mb)
            self._util.setdefault(key, deque(maxlen=self._history_len)).append(chip.util_pct)

    def _history(self) -> dict[ChipKey, ChipHistory]:
        return {
            key: ChipHistory(hbm_used_mb=tuple(self._hbm[key]), util_pct=tuple(self._util.get(key, ())))
            for key in self._hbm
        }
