"""Stopping a process together with everything it started.

A vLLM server is a tree (API server, EngineCore, workers); killing only the
top leaves the children holding device memory. `stop_tree` sends each signal
of an escalation to the whole tree, waits its deadline, and escalates only for
what is still alive, then reports who went and who would not.

Two hostile cases are handled here. A descendant that double-forks into its
own session (a `setsid` daemon) is nobody's child and in no group of ours:
the console makes itself a child subreaper (`become_subreaper`, Linux), so such
orphans are re-parented to it, and a tree started with `TREE_MARK_VAR` in its
environment is found by that mark among our descendants (`mark=`). And a PID
can be reused: `stop_tree(expect=…)` first checks that the process is still
the one the operator was shown (its start time and command) and stops nothing
when it is not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

TREE_MARK_VAR = "NPU_CONSOLE_TREE"
"""Set in a launched server's environment; every descendant inherits it, a double-forked daemon included."""

_PR_SET_CHILD_SUBREAPER = 36
_START_SLACK_S = 0.02  # create times are in clock ticks (10 ms): equal within this is the same start

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


@dataclass(frozen=True)
class Expected:
    """What the operator was shown of a process, checked again right before it is signalled.

    `create_time` and `command` are the process's own (psutil's create time and
    `" ".join(cmdline)`); `started_before` is for a process shown through its
    child (a zombie's parent): the real parent is older than the child it made.
    """

    pid: int
    create_time: float | None = None
    command: str | None = None
    started_before: float | None = None


def identify(pid: int) -> Expected | None:
    """`pid` as it is now (None when it does not exist or cannot be read)."""
    try:
        process = psutil.Process(pid)
        return Expected(pid, process.create_time(), command_of(process))
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def command_of(process: psutil.Process) -> str:
    """The command line as the console shows it (`[name]` when the argv cannot be read)."""
    try:
        argv = process.cmdline()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        argv = []
    return " ".join(argv) or f"[{process.name()}]"


def not_the_same(process: psutil.Process, expected: Expected) -> str | None:
    """None when `process` is still the one `expected` describes, else the sentence saying what changed."""
    pid = expected.pid
    try:
        started = process.create_time()
        command = command_of(process) if expected.command is not None else None
    except psutil.NoSuchProcess:
        return f"process {pid} has already ended; nothing was stopped"
    except psutil.AccessDenied:
        return f"process {pid} cannot be inspected; nothing was stopped (run as its owner or root)"
    reused = f"pid {pid} now belongs to another process"
    if expected.create_time is not None and abs(started - expected.create_time) > _START_SLACK_S:
        return f"{reused} (started {_clock(started)}, not {_clock(expected.create_time)}); nothing was stopped"
    if expected.started_before is not None and started > expected.started_before + _START_SLACK_S:
        return f"{reused} (started {_clock(started)}, after the process it was shown for); nothing was stopped"
    if command is not None and expected.command is not None and command != expected.command:
        return f"{reused} (it runs `{command[:80]}`, not `{expected.command[:80]}`); nothing was stopped"
    return None


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux's PR_SET_CHILD_SUBREAPER).

    A server's daemon that double-forks is then re-parented to us instead of init,
    so it stays among our descendants and can be found and stopped. False where
    the call is not available (not Linux, no libc) or refused.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def is_subreaper() -> bool:
    """Whether this process is a child subreaper now (PR_GET_CHILD_SUBREAPER)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        flag = ctypes.c_int(0)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER + 1, ctypes.byref(flag), 0, 0, 0)) == 0 and flag.value == 1
    except (OSError, AttributeError):
        return False


def tree_mark(log_path: Path) -> str:
    """The mark of the server tree this console starts writing into `log_path` (see `TREE_MARK_VAR`)."""
    return f"{os.getpid()}:{log_path}"


def marked_processes(mark: str) -> list[psutil.Process]:
    """Our descendants (every process of ours, when we are no subreaper) whose environment carries `mark`."""
    if is_subreaper():
        candidates = _descendants_of_us()
    else:
        uid = os.getuid()
        candidates = [p for p in psutil.process_iter() if _uid(p) == uid and p.pid != os.getpid()]
    return [process for process in candidates if _mark_of(process) == mark]


def _descendants_of_us() -> list[psutil.Process]:
    try:
        return list(psutil.Process(os.getpid()).children(recursive=True))
    except psutil.NoSuchProcess:
        return []


def _uid(process: psutil.Process) -> int | None:
    try:
        return int(process.uids().real)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _mark_of(process: psutil.Process) -> str | None:
    try:
        value = process.environ().get(TREE_MARK_VAR)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return None
    return str(value) if value is not None else None


def stop_descendants(
    keep_marks: Collection[str] = (),
    escalation: Sequence[tuple[signal.Signals, float]] = DEFAULT_ESCALATION,
) -> StopReport:
    """Stop every descendant of this process except the trees marked with one of `keep_marks`.

    What the console calls when it ends (quit, crash, SIGHUP, SIGTERM): with the
    subreaper set, double-forked daemons are among the descendants too. A tree
    the operator chose to leave running is kept by its mark.
    """
    tree = [process for process in _descendants_of_us() if _mark_of(process) not in keep_marks]
    return _stop(tree, escalation)


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
    mark: str | None = None,
    expect: Expected | None = None,
) -> StopReport:
    """Signal the tree of `pid` with each (signal, seconds to wait) in turn until it is gone.

    `with_group` adds the members of `pid`'s process group (for a server we
    started as a group leader); `mark` adds our descendants carrying that tree
    mark (a double-forked daemon of the server). With `expect`, `pid` is first
    checked to still be the process the operator was shown; when it is not,
    nothing is signalled and the report's `error` says why. Signals go through
    psutil, which re-checks each process's start time, so a PID reused in between
    is never hit. Blocking (it waits): call it from a worker thread.
    """
    if expect is not None:
        try:
            root = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return StopReport(pids=(), stopped=(), survivors=(), last_signal=None,
                              error=f"process {pid} has already ended; nothing was stopped")
        changed = not_the_same(root, expect)
        if changed is not None:
            return StopReport(pids=(), stopped=(), survivors=(), last_signal=None, error=changed)
    tree = process_tree(pid, with_group=with_group)
    adopted: list[int] = []
    if mark is not None:
        known = {process.pid for process in tree}
        extra = [process for process in marked_processes(mark) if process.pid not in known]
        adopted = [process.pid for process in extra if _parent(process) == os.getpid()]
        tree += extra
    if not tree:
        return StopReport(pids=(), stopped=(), survivors=(), last_signal=None,
                          error=f"process {pid} does not exist (any more)")
    report = _stop(tree, escalation)
    _reap(adopted)
    return report


def _parent(process: psutil.Process) -> int | None:
    try:
        return int(process.ppid())
    except psutil.NoSuchProcess:
        return None


def _reap(pids: Sequence[int]) -> None:
    """Collect the exit status of orphans the subreaper adopted (nobody else waits for them: no zombies kept).

    Only adopted orphans: a child we started ourselves is waited for by the code that started it.
    """
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue


def _stop(tree: list[psutil.Process], escalation: Sequence[tuple[signal.Signals, float]]) -> StopReport:
    pids = tuple(process.pid for process in tree)
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

