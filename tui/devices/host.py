"""Host CPU, memory and disk: the numbers that explain a slow weight load or an OOM kill."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
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
    disk_path: Path | None = None  # where the model lives (or the nearest folder that exists)
    disk_free_bytes: int | None = None

    @property
    def memory_pct(self) -> float:
        return 100.0 * self.memory_used_bytes / self.memory_total_bytes if self.memory_total_bytes else 0.0


class HostSource(Protocol):
    """Anything that gives host readings (the real sampler, or a fixed one for screenshots)."""

    def sample(self) -> HostSnapshot: ...


class HostSampler:
    """Reads /proc through psutil; cheap (well under a millisecond), never blocks on a device.

    `disk_path` is where free space matters (the model's folder); set it when the
    profile changes.
    """

    def __init__(self, disk_path: Path | None = None) -> None:
        self._primed = False
        self.disk_path = disk_path

    def sample(self) -> HostSnapshot:
        cpu = psutil.cpu_percent(interval=None)  # since the previous call; meaningless the first time
        cpu_pct = cpu if self._primed else None
        self._primed = True
        memory = psutil.virtual_memory()
        try:
            load: float | None = os.getloadavg()[0]
        except OSError:
            load = None
        disk_free: int | None = None
        if self.disk_path is not None:
            try:
                disk_free = shutil.disk_usage(self.disk_path).free
            except OSError:
                disk_free = None
        return HostSnapshot(
            cpu_pct=cpu_pct,
            cpu_count=psutil.cpu_count(logical=True) or 1,
            load_1m=load,
            memory_used_bytes=int(memory.total - memory.available),
            memory_total_bytes=int(memory.total),
            swap_used_bytes=int(psutil.swap_memory().used),
            disk_path=self.disk_path if disk_free is not None else None,
            disk_free_bytes=disk_free,
        )


def disk_probe_path(model: str, env: Mapping[str, str]) -> Path:
    """The folder whose free space matters for `model` (a path, or a hub id).

    A model path gives its nearest existing folder; a hub id gives the hub cache
    the server would download into (ModelScope's or Hugging Face's), else home.
    """
    candidates: list[str] = []
    if model.startswith(("/", "~", ".")):
        candidates.append(model)
    candidates += [env.get("MODELSCOPE_CACHE", ""), env.get("HF_HOME", ""), env.get("HOME", ""), "/"]
    for candidate in candidates:
        if not candidate:
            continue
        path = Path(candidate).expanduser()
        while not path.exists() and path != path.parent:
            path = path.parent
        if path.exists():
            return path
    return Path("/")
