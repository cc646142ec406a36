"""Issue 14 finding 4: before a PID is signalled (`k` on a memory holder, the preflight's leftover stop),
it must still be the process the operator was shown; a reused PID is said so and left alone."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tui.controllers.devices import shown_process
from tui.devices.processes import HeldMemory, describe_holders
from tui.devices.snapshot import DeviceProcess
from tui.processes.tree import Expected, identify, stop_tree

NS_LAST_PID = Path("/proc/sys/kernel/ns_last_pid")
FORK_BOUND = 40_000  # fork-until-it-comes-round gives up past this many tries


def _spawn(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _reuse(pid: int, argv: Sequence[str]) -> subprocess.Popen[bytes]:
    """A new process that gets `pid` (gone already): by ns_last_pid where writable, else fork until it comes round."""
    for _ in range(50):  # another process on the host may take the PID first: try again
        if os.access(NS_LAST_PID, os.W_OK):
            NS_LAST_PID.write_text(str(pid - 1))
            process = _spawn(argv)
            if process.pid == pid:
                return process
            process.kill()
            process.wait()
        else:
            break
    for _ in range(FORK_BOUND):
        child = os.fork()
        if child == 0:
            os._exit(0)
        os.waitpid(child, 0)
        if child == pid - 1:
            process = _spawn(argv)
            if process.pid == pid:
                return process
            process.kill()
            process.wait()
    pytest.skip(f"pid {pid} did not come round within {FORK_BOUND} forks")


@dataclass(frozen=True)
class Reused:
    pid: int
    shown: Expected | None  # what the preflight's confirmation showed of the first process
    row: HeldMemory  # what the Devices area showed of it
    newcomer: subprocess.Popen[bytes]  # the unrelated process that has the pid now


@pytest.fixture
def reused() -> Iterator[Reused]:
    first = _spawn(["sleep", "600"])
    shown = identify(first.pid)
    row = describe_holders([DeviceProcess(npu=0, chip=0, pid=first.pid, container_pid=None, name="sleep",
                                          memory_mb=1024)])[0]
    first.kill()
    first.wait()
    time.sleep(0.05)  # create times are in 10 ms ticks: the newcomer starts in a later one
    newcomer = _reuse(first.pid, ["sleep", "601"])
    try:
        yield Reused(first.pid, shown, row, newcomer)
    finally:
        newcomer.kill()
        newcomer.wait()


def test_k_on_a_reused_pid_stops_nothing_and_says_so(reused: Reused) -> None:
    pid, newcomer = reused.pid, reused.newcomer
    report = stop_tree(pid, expect=shown_process(reused.row, pid))
    assert report.error is not None and f"pid {pid} now belongs to another process" in report.error
    assert "nothing was stopped" in report.error and report.stopped == ()
    assert newcomer.poll() is None, "the unrelated process runs on"


def test_the_leftover_stop_on_a_reused_pid_stops_nothing(reused: Reused) -> None:
    assert reused.shown is not None
    report = stop_tree(reused.pid, expect=reused.shown)
    assert report.error is not None and "now belongs to another process" in report.error
    assert reused.newcomer.poll() is None


def test_the_same_command_started_later_is_not_the_same_process() -> None:
    first = _spawn(["sleep", "600"])
    shown = identify(first.pid)
    first.kill()
    first.wait()
    time.sleep(0.05)
    twin = _reuse(first.pid, ["sleep", "600"])
    try:
        report = stop_tree(first.pid, expect=shown)
        assert report.error is not None and "started" in report.error
        assert twin.poll() is None
    finally:
        twin.kill()
        twin.wait()


def test_the_process_that_was_shown_is_stopped() -> None:
    holder = _spawn(["sleep", "600"])
    row = describe_holders([DeviceProcess(npu=0, chip=0, pid=holder.pid, container_pid=None, name="sleep",
                                          memory_mb=1024)])[0]
    report = stop_tree(holder.pid, expect=shown_process(row, holder.pid))
    holder.wait(10)
    assert report.ok and report.stopped == (holder.pid,)
