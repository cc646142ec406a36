"""The command runner against real processes: success, failure, missing tool, hang."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import psutil

from tui.processes.commands import SubprocessRunner, find_executable


async def test_runs_a_command_and_captures_both_streams() -> None:
    runner = SubprocessRunner()
    result = await runner.run(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
        timeout=10,
    )
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert result.error is None
    assert not result.ok


async def test_missing_command_is_a_sentence_not_an_exception() -> None:
    result = await SubprocessRunner().run(["npu-smi-that-does-not-exist", "info"], timeout=5)
    assert result.returncode is None
    assert result.error is not None
    assert "command not found" in result.error and "PATH" in result.error


async def test_hung_command_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    # The command sleeps 60 s: only the 1.5 s bound ends it before the 30 s hang guard.
    result = await asyncio.wait_for(SubprocessRunner().run([sys.executable, "-c", script], timeout=1.5), 30)
    assert result.timed_out
    assert result.error is not None and "did not answer within 1.5 s" in result.error
    child_pid = int(pid_file.read_text())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not _alive(child_pid):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the hung command's child outlived the timeout")


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie nobody reaped (PID 1 in a container may not reap)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_env_is_laid_over_the_base_env() -> None:
    runner = SubprocessRunner({"PATH": os.environ["PATH"], "A": "base", "B": "base"})
    result = await runner.run(
        [sys.executable, "-c", "import os; print(os.environ['A'], os.environ['B'])"], timeout=10, env={"B": "call"}
    )
    assert result.stdout.split() == ["base", "call"]


def test_find_executable_looks_in_extra_dirs(tmp_path: Path) -> None:
    tool = tmp_path / "npu-smi"
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    assert find_executable("npu-smi", {"PATH": "/nonexistent"}) is None
    assert find_executable("npu-smi", {"PATH": "/nonexistent"}, [str(tmp_path)]) == str(tool)
