"""The API server's handle on its simulated EngineCore child.

The child is an ordinary subprocess in the parent's process group (so stopping
the group stops both), fed through its stdin and answering on a status pipe.
Its stdout and stderr are the parent's, so its lines land in the same log, as a
real vLLM's do. The parent's end of stdin is the child's lifeline: when the
parent dies, even by `os._exit`, the pipe closes and the child exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from tui.sim.engine_plan import EnginePlan

PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def child_env() -> dict[str, str]:
    """The parent's environment with the folder holding `tui/` on PYTHONPATH, so `-m` finds us."""
    env = dict(os.environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if PACKAGE_ROOT not in paths:
        env["PYTHONPATH"] = os.pathsep.join([PACKAGE_ROOT, *paths])
    return env


class EngineLink:
    """Spawn, wait for, feed and stop the EngineCore child."""

    def __init__(self, plan: EnginePlan) -> None:
        self.plan = plan
        self.process: subprocess.Popen[bytes] | None = None
        self._status_fd: int | None = None
        self._stdin: IO[bytes] | None = None
        self._last_load: tuple[int, int, int] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def spawn(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tui.sim.engine_core", str(write_fd), str(os.getpid())],
                stdin=subprocess.PIPE,
                pass_fds=(write_fd,),
                env=child_env(),
            )
        finally:
            os.close(write_fd)
        self._status_fd = read_fd
        self._stdin = self.process.stdin
        self._send(self.plan.to_json())

    def _send(self, message: dict[str, object]) -> bool:
        if self._stdin is None:
            return False
        try:
            self._stdin.write((json.dumps(message) + "\n").encode("utf-8"))
            self._stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            return False
        return True

    def wait_ready(self, timeout_s: float) -> bool:
        """Block until the child says `ready` (True) or `failed`, dies, or time runs out (False)."""
        if self._status_fd is None:
            return False
        deadline = time.monotonic() + timeout_s
        pending = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            readable, _, _ = select.select([self._status_fd], [], [], min(remaining, 0.5))
            if not readable:
                continue
            chunk = os.read(self._status_fd, 256)
            if not chunk:
                return False
            pending += chunk
            if b"ready\n" in pending:
                return True
            if b"failed\n" in pending:
                return False

    def wait_exit(self, timeout_s: float | None) -> int | None:
        """The child's exit status once it ended, or None if it is still running after `timeout_s`."""
        if self.process is None:
            return 0
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def report_load(self, running: int, waiting: int, requests: int) -> None:
        """Tell the engine how busy it is; repeated identical reports are not sent."""
        state = (running, waiting, requests)
        if state == self._last_load:
            return
        self._last_load = state
        self._send({"op": "load", "running": running, "waiting": waiting, "requests": requests})

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Ask the child to stop, then make sure it has; never leaves it running."""
        if self.process is None:
            return
        self._send({"op": "shutdown"})
        if self._stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                self._stdin.close()
        if self.wait_exit(timeout_s) is None:
            self.process.terminate()
            if self.wait_exit(2.0) is None:
                self.process.kill()
                self.wait_exit(2.0)
        if self._status_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._status_fd)
            self._status_fd = None
