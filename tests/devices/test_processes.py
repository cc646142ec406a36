"""Who holds device memory, classified against real processes on this host."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from tui.devices.processes import describe_holders
from tui.devices.snapshot import DeviceProcess
from tui.processes.tree import stop_tree


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command line looks like a vLLM engine left behind by someone else."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "vllm-EngineCore-leftover"])
    yield process
    process.kill()
    process.wait()


def held(pid: int, memory: int = 4096) -> DeviceProcess:
    return DeviceProcess(npu=0, chip=0, pid=pid, container_pid=None, name="", memory_mb=memory)


def test_vllm_process_not_ours_is_a_leftover(sleeper: subprocess.Popen[bytes]) -> None:
    (row,) = describe_holders([held(sleeper.pid)])
    assert row.host is not None and "vllm-EngineCore-leftover" in row.host.command
    assert row.host.user is not None
    assert row.leftover == "a vLLM process this console did not start"
    assert row.kill_pid == sleeper.pid and not row.ours


def test_our_server_tree_is_ours_not_leftover(sleeper: subprocess.Popen[bytes]) -> None:
    (row,) = describe_holders([held(sleeper.pid)], our_pids=[os.getpid()])  # the sleeper is our child
    assert row.ours and row.leftover is None


def test_a_plain_process_is_neither(sleeper: subprocess.Popen[bytes]) -> None:
    (row,) = describe_holders([held(os.getpid())])
    assert not row.ours and row.leftover is None and row.kill_pid == os.getpid()


def test_a_pid_not_visible_here() -> None:
    unused = max(psutil.pids()) + 100000
    (row,) = describe_holders([held(unused)])
    assert row.host is None and row.kill_pid is None and row.leftover is None


def test_stop_tree_takes_the_children_too() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys, time\n"
         "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
         "time.sleep(120)"],
    )
    try:
        deadline = time.monotonic() + 10
        while not psutil.Process(parent.pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = psutil.Process(parent.pid).children()[0].pid
        report = stop_tree(parent.pid)
        assert report.ok and report.last_signal == "SIGTERM"
        assert set(report.stopped) == {parent.pid, child}
        parent.wait(timeout=5)
    finally:
        parent.kill()
        parent.wait()


def test_stop_tree_escalates_past_a_process_that_ignores_sigterm() -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c",
         "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
         "time.sleep(120)"],
        stdout=subprocess.PIPE,
    )
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
        import signal

        report = stop_tree(stubborn.pid, escalation=((signal.SIGTERM, 0.5), (signal.SIGKILL, 3.0)))
        assert report.ok and report.last_signal == "SIGKILL"
    finally:
        stubborn.kill()
        stubborn.wait()


def test_stop_tree_of_a_gone_process_says_so() -> None:
    unused = max(psutil.pids()) + 100000
    report = stop_tree(unused)
    assert not report.ok and report.error is not None and "does not exist" in report.error
