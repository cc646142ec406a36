"""The real console in a subprocess on a pseudo-terminal: keys in, the screen's text out, its end observed."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil
import pytest

from tests.hostile.helpers import REPO

_CSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


class Console:
    """`python -m tui ARGS` on a pty of `size`; `text()` is everything it drew, escape sequences removed."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], size: tuple[int, int] = (160, 45)) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        child_env = {**env, "PYTHONPATH": str(REPO), "TERM": "xterm-256color", "COLUMNS": str(size[0]),
                     "LINES": str(size[1])}
        self.process = subprocess.Popen([sys.executable, "-m", "tui", *args], stdin=slave, stdout=slave,
                                        stderr=slave, env=child_env, start_new_session=True, close_fds=True)
        os.close(slave)
        self._raw = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self._raw += data

    def text(self) -> str:
        with self._lock:
            raw = bytes(self._raw)
        return _CSI.sub("", raw.decode("utf-8", "replace"))

    def raw(self) -> bytes:
        with self._lock:
            return bytes(self._raw)

    def press(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def mark(self) -> int:
        """Where the text drawn so far ends: `wait_text(…, since=mark)` looks only at what comes after."""
        return len(self.text())

    def command_key(self, key: str) -> None:
        """A console key (not text for the prompt box): Esc first leaves any input, then the key."""
        self.press("\x1b")
        time.sleep(1.0)  # a lone Esc is told apart from Alt+key by a pause (long: the host may be busy)
        self.press(key)

    def until_drawn(self, key: str, needle: str, tries: int = 4, timeout: float = 20.0) -> None:
        """`command_key(key)` until `needle` is drawn after it (a key can be lost to a busy host's Alt+key)."""
        for attempt in range(tries):
            since = self.mark()
            self.command_key(key)
            try:
                self.wait_text(needle, timeout, since=since)
                return
            except pytest.fail.Exception:
                if attempt == tries - 1:
                    raise

    def wait_text(self, needle: str, timeout: float = 60.0, since: int = 0) -> None:
        """Until `needle` (any case, runs of blanks as one space) has been drawn after `since`."""
        deadline = time.monotonic() + timeout
        wanted = " ".join(needle.lower().split())
        while wanted not in " ".join(self.text()[since:].lower().split()):
            if self.process.poll() is not None:
                pytest.fail(f"the console ended ({self.process.returncode}) before showing {needle!r}:\n"
                            f"{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the console did not show {needle!r} within {timeout:g} s:\n{self.text()[-3000:]}")
            time.sleep(0.05)

    def descendants(self) -> list[psutil.Process]:
        try:
            return list(psutil.Process(self.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            return []

    def hang_up(self) -> None:
        """What an SSH drop does: the terminal goes away (the master closes)."""
        try:
            os.close(self.master)
        except OSError:
            pass

    def close(self) -> None:
        """Teardown: whatever is still running of it (and under it) is killed."""
        for process in [*self.descendants(), psutil.Process(self.pid)] if self.process.poll() is None else []:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        if self.process.poll() is None:
            self.process.wait(10)
        self.hang_up()


def console_env(home: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update({"XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
                "NPU_CONSOLE_SIM_HOME": str(home / "sim"), "NPU_CONSOLE_SIM_SPEED": "0",
                "NPU_CONSOLE_SIM_TTFT_MS": "0", "NPU_CONSOLE_SIM_TPOT_MS": "0"})
    env.update(extra)
    return env
