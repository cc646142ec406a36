"""Progress rate and ETA: a smoothed speed from a stage's progress events."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tui.stages.events import Progress


@dataclass(frozen=True)
class ProgressReading:
    """A progress event with what the bar shows beside it; `rate`/`eta_s` are None until known."""

    progress: Progress
    fraction: float | None
    rate: float | None
    eta_s: float | None


class ProgressMeter:
    """Turns a stream of Progress events into a smoothed rate (units per second) and an ETA.

    Exponential smoothing (weight `alpha` for the newest interval) keeps the ETA
    from jumping with every tensor of a different size, yet follows a real
    change of speed within a few events. Nothing is guessed from one point.
    """

    def __init__(self, alpha: float = 0.3, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self._clock = clock
        self._last: tuple[float, float] | None = None  # (time, done)
        self._rate: float | None = None

    def reset(self) -> None:
        self._last = None
        self._rate = None

    @property
    def rate(self) -> float | None:
        return self._rate

    def update(self, progress: Progress, now: float | None = None) -> ProgressReading:
        t = self._clock() if now is None else now
        if self._last is not None and progress.done < self._last[1]:
            self.reset()  # the stage started a new phase from zero: old speed says nothing
        if self._last is not None:
            dt = t - self._last[0]
            if dt > 0:
                instant = (progress.done - self._last[1]) / dt
                self._rate = instant if self._rate is None else self.alpha * instant + (1 - self.alpha) * self._rate
                self._last = (t, progress.done)
            # dt <= 0: two events in the same clock tick; keep the older point so the next interval is real
        else:
            self._last = (t, progress.done)
        eta: float | None = None
        if progress.total is not None:
            remaining = progress.total - progress.done
            if remaining <= 0:
                eta = 0.0
            elif self._rate is not None and self._rate > 0:
                eta = remaining / self._rate
        return ProgressReading(progress=progress, fraction=progress.fraction, rate=self._rate, eta_s=eta)
