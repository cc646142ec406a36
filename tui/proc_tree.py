"""Stopping a process together with everything it started.

A vLLM server is a tree (API server, EngineCore, workers); killing only the
top leaves the children holding device memory. `stop_tree` sends each signal
of an escalation to the whole tree, waits its deadline, and escalates only for
what is still alive, then reports who went and who would not.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

DEFAULT_ESCALATION: tuple[tuple[signal.Signals, float], ...] = (
    (signal.SIGTERM, 5.0),
    (signal.SIGKILL, 3.0),
)


@dataclass(frozen=True)
class StopReport:
    """What `stop_tree` did. `survivors` is empty when the whole tree is gone."""

    pids: tuple[int, ...]
    stopped: tuple[int, ...]
    survivors: tuple[int, ...]
    last_signal: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.survivors


def process_tree(pid: int, *, with_group: bool = False) -> list[psutil.Process]:
    """`pid` and all its descendants that exist now (empty when `pid` is gone).

    With `with_group`, also every process still in `pid`'s process group: a child
    whose parent died first (an EngineCore orphaned by its API server) is no
    longer anyone's descendant, but it keeps the group it was started in.
    """
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        members = []
    if with_group:
        known = {process.pid for process in members}
        members += [process for process in _group_members(pid) if process.pid not in known]
    return members


def _group_members(pgid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                found.append(process)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return found


def stop_tree(
    pid: int,
    escalation: Sequence[tuple[signal.Signals, float]] = DEFAULT_ESCALATION,
    *,
    with_group: bool = False,
) -> StopReport:
    """Signal the tree of `pid` with each (signal, seconds to wait) in turn until it is gone.

    `with_group` adds the members of `pid`'s process group (for a server we
    started as a group leader). Blocking (it waits): call it from a worker thread.
    """
    tree = process_tree(pid, with_group=with_group)
    pids = tuple(process.pid for process in tree)
    if not tree:
        return StopReport(pids=(), stopped=(), survivors=(), last_signal=None,
                          error=f"process {pid} does not exist (any more)")
    alive = tree
    last: str | None = None
    for sig, wait_s in escalation:
        # Children started since we looked are part of the tree too.
        alive = _alive(alive + [child for process in alive for child in _children(process)])
        if not alive:
            break
        last = sig.name
        for process in alive:
            try:
                process.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
            except psutil.AccessDenied:
                return StopReport(pids=pids, stopped=(), survivors=tuple(p.pid for p in alive), last_signal=last,
                                  error=f"not allowed to signal process {process.pid}; run as its owner or root")
        alive = _wait_gone(alive, wait_s)
    survivors = tuple(process.pid for process in alive)
    stopped = tuple(p for p in pids if p not in survivors)
    return StopReport(pids=pids, stopped=stopped, survivors=survivors, last_signal=last)


def _wait_gone(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Those of `processes` still alive after up to `timeout_s`.

    Polls instead of waiting (`psutil.wait_procs` would reap our own children and
    steal their exit status from the asyncio code that started them).
    """
    deadline = time.monotonic() + timeout_s
    alive = _alive(processes)
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = _alive(alive)
    return alive


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return list(process.children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Processes still running; a zombie counts as gone (it holds nothing, only its exit status)."""
    seen: set[int] = set()
    result = []
    for process in processes:
        if process.pid in seen:
            continue
        seen.add(process.pid)
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                result.append(process)
        except psutil.NoSuchProcess:
            continue
    return result

