"""Host CPU and memory, the numbers that explain a slow weight load or an OOM kill."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

import psutil


@dataclass(frozen=True)
class HostSnapshot:
    """One reading of the host. `cpu_pct` is None on the very first reading."""

    cpu_pct: float | None
    cpu_count: int
    load_1m: float | None
    memory_used_bytes: int
    memory_total_bytes: int
    swap_used_bytes: int

    @property
    def memory_pct(self) -> float:
        return 100.0 * self.memory_used_bytes / self.memory_total_bytes if self.memory_total_bytes else 0.0


class HostSource(Protocol):
    """Anything that gives host readings (the real sampler, or a fixed one for screenshots)."""

    def sample(self) -> HostSnapshot: ...


class HostSampler:
    """Reads /proc through psutil; cheap (well under a millisecond), never blocks on a device."""

    def __init__(self) -> None:
        self._primed = False

    def sample(self) -> HostSnapshot:
        cpu = psutil.cpu_percent(interval=None)  # since the previous call; meaningless the first time
        cpu_pct = cpu if self._primed else None
        self._primed = True
        memory = psutil.virtual_memory()
        try:
            load: float | None = os.getloadavg()[0]
        except OSError:
            load = None
        return HostSnapshot(
            cpu_pct=cpu_pct,
            cpu_count=psutil.cpu_count(logical=True) or 1,
            load_1m=load,
            memory_used_bytes=int(memory.total - memory.available),
            memory_total_bytes=int(memory.total),
            swap_used_bytes=int(psutil.swap_memory().used),
        )
