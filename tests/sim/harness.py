"""The simulated host driven with real processes and real sockets: shared by every test that needs it.

Every server a test starts runs the demo shims from PATH in its own session,
logs to a file the test can poll, and is killed (its whole process group) in
teardown, so a failing test never leaves a process behind. Waits poll a
condition with a deadline instead of sleeping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import pytest

from tui.sim.demo import DemoHost

T = TypeVar("T")

INSTANT = {
    "NPU_CONSOLE_SIM_SPEED": "0",
    "NPU_CONSOLE_SIM_TTFT_MS": "0",
    "NPU_CONSOLE_SIM_TPOT_MS": "0",
}
START_TIMEOUT_S = 20.0
COMMAND_TIMEOUT_S = 20.0


def wait_for(condition: Callable[[], T], timeout_s: float = 10.0, interval_s: float = 0.02, what: str = "") -> T:
    """Poll `condition` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what or condition}")
        time.sleep(interval_s)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


class SimServer:
    """One `vllm serve` run against a demo host, started through the `vllm` shim."""

    def __init__(self, demo: DemoHost, log_path: Path) -> None:
        self.demo = demo
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(
        self,
        model: str = "Qwen2.5-0.5B-Instruct",
        *args: str,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> SimServer:
        self.port = port or free_port()
        full_env = self.demo.env({**os.environ, **INSTANT, **(env or {})})
        vllm = shutil.which("vllm", path=full_env["PATH"])
        assert vllm == str(self.demo.bin_dir / "vllm"), "the demo shim must come first on PATH"
        argv = [
            vllm,
            "serve",
            str(self.demo.model_dir(model)),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*argv, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> SimServer:
        def ready() -> bool:
            if "Application startup complete." in self.log():
                return True
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"server exited with {self.process.returncode} before it was ready:\n{self.log()}")
            return False

        wait_for(ready, timeout_s, what="Application startup complete.")
        return self

    def wait_exit(self, timeout_s: float = START_TIMEOUT_S) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"server did not exit within {timeout_s:.0f} s:\n{self.log()[-3000:]}")

    def engine_pid(self) -> int:
        """The EngineCore child's pid, read from its log prefix."""
        for line in self.log().splitlines():
            if line.startswith("(EngineCore pid="):
                return int(line.split("pid=", 1)[1].split(")", 1)[0])
        pytest.fail(f"no EngineCore line in the log:\n{self.log()}")

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def kill(self) -> None:
        if self.process is None:
            return
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def run_tool(demo: DemoHost, *argv: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a demo shim (`npu-smi`, `vllm`) to completion and capture what it prints."""
    full_env = demo.env({**os.environ, **INSTANT, **(env or {})})
    executable = shutil.which(argv[0], path=full_env["PATH"])
    assert executable is not None
    return subprocess.run(
        [executable, *argv[1:]],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
