"""Issue 14 findings 1 and 2 on the real console (a subprocess on a pty): a hang-up or SIGTERM stops the
server it launched — a double-forked daemon of that server included — and exits 128+signal; the server
left running on purpose survives; a read-only runs folder is a sentence, never a traceback or a secret."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.hostile.console_pty import Console, console_env
from tests.hostile.helpers import REPO, tmpfs
from tests.sim.harness import wait_for

SECRET = "hf_" + "S3cr3tT0kenValue" * 2
DOUBLE_FORK = """#!/bin/sh
# A server that leaves a daemon behind: double fork into its own session, then become the server.
( setsid sh -c 'echo $$ > "{pid_file}"; exec sleep 600' </dev/null >/dev/null 2>&1 & )
exec vllm "$@"
"""


def launch(console: Console) -> None:
    """`l`, then Enter on the preflight's Launch (it has the focus when nothing failed)."""
    console.until_drawn("l", "What will run")
    time.sleep(0.5)
    console.press("\r")


def quit_console(console: Console) -> int:
    """`q` (again, should a busy host have taken it for Alt+q) until the console has exited."""
    for _ in range(3):
        console.command_key("q")
        try:
            return console.process.wait(20)
        except subprocess.TimeoutExpired:
            continue
    return console.process.wait(20)


def _alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _logged(folder: Path, text: str, wait_s: float = 10.0) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if any(text in log.read_text() for log in folder.rglob("console.log")):
            return True
        time.sleep(0.2)
    return False


def _of_the_server(process: psutil.Process) -> bool:
    try:
        return "NPU_CONSOLE_TREE" in process.environ()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def daemon_profile(home: Path) -> tuple[Path, Path]:
    """The demo profile whose server double-forks a `setsid` daemon first (its pid lands in a file)."""
    pid_file = home / "daemon.pid"
    wrapper = home / "double-fork-server.sh"
    wrapper.write_text(DOUBLE_FORK.format(pid_file=pid_file))
    wrapper.chmod(0o755)
    text = (REPO / "profiles" / "demo.toml").read_text()
    text = text.replace('command = ["vllm", "serve"]', f'command = ["{wrapper}", "serve"]')
    profile = home / "daemon.toml"
    profile.write_text(text.replace('name = "demo"', 'name = "daemon"'))
    return profile, pid_file


@pytest.fixture
def started(home: Path, daemon_profile: tuple[Path, Path]) -> Iterator[tuple[Console, list[psutil.Process]]]:
    """The console with its server launched (l, Enter) and ready, and every process of that server."""
    profile, pid_file = daemon_profile
    console = Console(["--demo", "--profile", str(profile), "--runs-dir", str(home / "runs")],
                      console_env(home, HF_TOKEN=SECRET))
    try:
        console.wait_text("simulated", 60)
        console.wait_text("NPU/chip", 60)  # the first device reading is in
        launch(console)
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 60, what="the daemon's pid file")
        daemon = psutil.Process(int(pid_file.read_text()))
        wait_for(lambda: any("engine_core" in " ".join(p.cmdline()) for p in console.descendants()
                             if _alive(p)), 60, what="the server's EngineCore")
        tree = [p for p in console.descendants() if _alive(p) and _of_the_server(p)]  # not a passing npu-smi
        assert daemon.pid in {p.pid for p in tree}, "the subreaper adopted the double-forked daemon"
        assert daemon.ppid() == console.pid and os.getsid(daemon.pid) != os.getsid(console.pid)
        yield console, tree
    finally:
        console.close()
        if pid_file.exists():
            try:
                psutil.Process(int(pid_file.read_text())).kill()
            except (psutil.NoSuchProcess, ValueError):
                pass


@pytest.mark.parametrize("how", ["SIGHUP", "SIGTERM", "terminal closed"])
def test_a_signal_stops_the_server_and_its_daemon(how: str, started: tuple[Console, list[psutil.Process]]) -> None:
    console, tree = started
    sent = time.monotonic()
    signum = signal.SIGTERM if how == "SIGTERM" else signal.SIGHUP
    if how != "terminal closed":  # else the terminal vanishes and no SIGHUP is sent: the console notices
        os.kill(console.pid, signum)
    if signum == signal.SIGHUP:
        console.hang_up()  # an SSH drop: the terminal is gone too
    status = console.process.wait(60)
    took = time.monotonic() - sent
    print(f"{how}: console exited {status} after {took:.2f} s; stopped {len(tree)} processes")
    assert status == 128 + signum
    wait_for(lambda: not any(_alive(p) for p in tree), 60, what="every process of the server gone")
    assert "Traceback" not in console.text() and SECRET not in console.text()


def test_a_server_left_running_on_purpose_survives(started: tuple[Console, list[psutil.Process]]) -> None:
    console, tree = started
    console.until_drawn("q", "Leave it running")
    time.sleep(0.3)
    console.press("\x1b[B")  # Down: "Leave it running and quit"
    time.sleep(0.3)
    console.press("\r")
    assert console.process.wait(60) == 0
    try:
        assert all(_alive(p) for p in tree), "the operator chose to leave it running"
    finally:
        for process in tree:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


def test_a_read_only_runs_folder_is_a_sentence_and_the_console_goes_on(home: Path) -> None:
    """Launch and `w` with a runs folder on a read-only file system: sentences, no traceback, no secret."""
    private_tmp = home / "tmp"
    private_tmp.mkdir()
    with tmpfs(home / "ro", read_only=True) as runs:
        console = Console(["--demo", "--runs-dir", str(runs)],
                          console_env(home, HF_TOKEN=SECRET, TMPDIR=str(private_tmp)))
        try:
            console.wait_text("NPU/chip", 60)
            for _ in range(4):  # this session's stage runs: in a run folder that cannot be made
                console.command_key("w")
                if _logged(private_tmp, "Listing the stage runs (w) failed"):
                    break
            wait_for(lambda: _logged(private_tmp, "Listing the stage runs (w) failed"), 30, what="the detail logged")
            since = console.mark()
            launch(console)
            console.wait_text("read-only file system", 60, since=since)
            assert console.process.poll() is None, "the console goes on after each failure"
            assert not [p for p in console.descendants() if "vllm" in " ".join(p.cmdline())]
            status = quit_console(console)
        finally:
            console.close()
    screen = console.text()
    assert status == 0
    assert "Traceback" not in screen and SECRET not in screen
    logs = [log.read_text() for log in private_tmp.rglob("console.log")]  # where the run folder could not take it
    assert any("Listing the stage runs (w) failed: the file system is read-only" in log for log in logs)
    assert all(SECRET not in log for log in logs)
