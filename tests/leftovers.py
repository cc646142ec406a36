"""Every test stops what it starts: a session guard that fails the run when a process outlives the suite.

The pytest process makes itself a child subreaper (Linux), so a descendant that double-forks out of
its parent's reach is re-parented to pytest and still counted. After each test the new descendants
are noted with the test that was running, so a survivor at the end names the test that started it.
At the end survivors get a grace period (a stop may be under way), then are reported, killed, and
the run fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys

import psutil

_PR_SET_CHILD_SUBREAPER = 36
GRACE_S = 15.0


def become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _descendants() -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(os.getpid()).children(recursive=True) if _alive(p)]
    except psutil.NoSuchProcess:
        return []


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _key(process: psutil.Process) -> tuple[int, float] | None:
    try:
        return process.pid, process.create_time()
    except psutil.NoSuchProcess:
        return None


def reap_zombies() -> None:
    """Collect our exited children between tests.

    Orphans re-parented to pytest (the subreaper) have nobody else to wait for them, and a zombie makes
    psutil calls on it raise. A test's own children are waited for by the test before its teardown ends.
    """
    try:
        children = psutil.Process(os.getpid()).children()
    except psutil.NoSuchProcess:
        return
    for child in children:
        with contextlib.suppress(psutil.Error, ChildProcessError, OSError):
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)


class LeftoverGuard:
    """Notes which test first saw each descendant; at the end, names and stops the survivors."""

    def __init__(self) -> None:
        self.first_seen: dict[tuple[int, float], str] = {}

    def note(self, nodeid: str) -> None:
        reap_zombies()
        for process in _descendants():
            key = _key(process)
            if key is not None:
                self.first_seen.setdefault(key, nodeid)

    def survivors(self) -> list[str]:
        alive = _descendants()
        for _ in range(3):  # a process that is exiting may leave an orphan behind: look again after the wait
            if not alive:
                break
            _, alive = psutil.wait_procs(alive, timeout=GRACE_S)
            alive = _descendants()
        report = []
        for process in alive:
            key = _key(process)
            if key is None or not _alive(process):
                continue
            try:
                command = " ".join(process.cmdline())[:160]
            except psutil.Error:
                command = "?"
            report.append(f"pid {process.pid} ({command}), started during {self.first_seen.get(key, 'the session')}")
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        return report
