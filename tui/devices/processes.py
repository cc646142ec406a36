"""Who holds device memory: the device tool's process rows joined with what the host knows.

npu-smi lists a pid and a memory figure; the operator needs to know whose it
is, what it runs, how long it has been there, whether it belongs to the server
this console launched, and whether it is a leftover from an earlier run that
will make the next launch fail for lack of HBM.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from tui.devices.snapshot import DeviceProcess

# What vLLM's processes look like from the host: the API server, the engine core, TP/DP
# workers, Ray workers, and vLLM-MindSpore's entry point.
_SERVING_PROCESS = re.compile(
    r"vllm|VLLM::|EngineCore|VLLMWorker|RayWorker|rayWorkerDict|ray::|vllm_mindspore", re.IGNORECASE
)


@dataclass(frozen=True)
class HostSide:
    """What the host knows of a device process (None fields: could not be read)."""

    pid: int
    user: str | None
    command: str
    started_at: float | None  # epoch seconds
    status: str | None
    parent_pid: int | None

    def age_s(self, now: float | None = None) -> float | None:
        if self.started_at is None:
            return None
        return max(0.0, (now if now is not None else time.time()) - self.started_at)


@dataclass(frozen=True)
class HeldMemory:
    """One row of the process table: the device's view and the host's."""

    device: DeviceProcess
    host: HostSide | None  # None: the pid is not visible here (another container or namespace)
    ours: bool  # part of the server this console launched
    leftover: str | None  # why it looks like a leftover, None when it does not
    kill_pid: int | None  # what to stop to free the memory (a zombie's parent), None when nothing can be

    @property
    def is_leftover(self) -> bool:
        return self.leftover is not None


def describe_holders(processes: Iterable[DeviceProcess], our_pids: Iterable[int] = ()) -> tuple[HeldMemory, ...]:
    """Join each device process with the host's view; blocking reads of /proc (call off the UI thread)."""
    ours = _with_descendants(our_pids)
    rows = []
    for device in processes:
        host_pid = device.pid if _exists(device.pid) else device.container_pid
        host = _host_side(host_pid) if host_pid is not None else None
        rows.append(_classify(device, host, ours))
    return tuple(rows)


def _classify(device: DeviceProcess, host: HostSide | None, ours: set[int]) -> HeldMemory:
    if host is None:
        return HeldMemory(device, None, False, None, None)
    is_ours = host.pid in ours
    if is_ours:
        return HeldMemory(device, host, True, None, host.pid)
    if host.status == psutil.STATUS_ZOMBIE:
        parent = host.parent_pid
        reason = f"zombie; its parent (pid {parent}) still holds the memory" if parent else "zombie"
        return HeldMemory(device, host, False, reason, parent if parent and parent > 1 else None)
    if _SERVING_PROCESS.search(host.command) or _SERVING_PROCESS.search(device.name or ""):
        return HeldMemory(device, host, False, "a vLLM process this console did not start", host.pid)
    return HeldMemory(device, host, False, None, host.pid)


def _with_descendants(pids: Iterable[int]) -> set[int]:
    result: set[int] = set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            result.add(pid)
            result.update(child.pid for child in root.children(recursive=True))
        except psutil.NoSuchProcess:
            continue
    return result


def _exists(pid: int) -> bool:
    return pid > 0 and psutil.pid_exists(pid)


def _host_side(pid: int) -> HostSide | None:
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            try:
                argv = process.cmdline()
            except (psutil.AccessDenied, psutil.ZombieProcess):
                argv = []
            command = " ".join(argv) or f"[{process.name()}]"
            try:
                user: str | None = process.username()
            except (psutil.AccessDenied, KeyError):
                user = None
            return HostSide(
                pid=pid,
                user=user,
                command=command,
                started_at=process.create_time(),
                status=process.status(),
                parent_pid=process.ppid(),
            )
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
