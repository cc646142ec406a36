"""Issue 14 finding 2 (the stop itself): a server's double-forked `setsid` daemon is found and stopped, and
a stop that leaves something running says so instead of reporting success."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.hostile.helpers import REPO

WRAPPER = """#!/bin/sh
# The daemon is a background job of a subshell: it ignores SIGINT, as such jobs do.
( setsid sh -c 'echo $$ > "{pid_file}"; exec sleep 600' </dev/null >/dev/null 2>&1 & )
exec sleep 600
"""


@pytest.fixture
def wrapper(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    pid_file = tmp_path / "daemon.pid"
    script = tmp_path / "double-fork.sh"
    script.write_text(WRAPPER.format(pid_file=pid_file))
    script.chmod(0o755)
    yield script, pid_file
    if pid_file.exists() and pid_file.read_text().strip():
        try:
            psutil.Process(int(pid_file.read_text())).kill()
        except psutil.NoSuchProcess:
            pass


def _stop(wrapper: tuple[Path, Path], tmp_path: Path, *flags: str) -> dict[str, object]:
    script, pid_file = wrapper
    done = subprocess.run([sys.executable, "-m", "tests.hostile.double_fork_stop", str(script), str(pid_file),
                           str(tmp_path / "server.log"), *flags], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _alive(pid: object) -> bool:
    try:
        return bool(psutil.Process(int(str(pid))).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("flags", [(), ("--no-subreaper",)], ids=["subreaper", "no-subreaper"])
def test_the_double_forked_daemon_is_stopped_with_its_server(
    flags: tuple[str, ...], wrapper: tuple[Path, Path], tmp_path: Path
) -> None:
    result = _stop(wrapper, tmp_path, *flags)
    assert result["subreaper"] is (not flags)
    assert result["ok"] is True and result["survivors"] == []
    stopped = result["stopped"]
    assert isinstance(stopped, list) and result["daemon"] in stopped and result["server"] in stopped
    assert not _alive(result["daemon"])


def test_a_stop_that_leaves_the_daemon_says_so(wrapper: tuple[Path, Path], tmp_path: Path) -> None:
    result = _stop(wrapper, tmp_path, "--sigint-only")  # the daemon ignores SIGINT and is never escalated
    assert result["ok"] is False
    assert result["survivors"] == [result["daemon"]]
    assert _alive(result["daemon"])
