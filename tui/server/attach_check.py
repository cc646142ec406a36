"""What an attach would find: servers this console left running, whether a URL answers, how a log ends.

Attaching to a dead log and a URL where nothing listens used to say "attached"
and nothing more. These checks run before the attach (off the UI's loop, each
bounded) and say in one sentence each what is there: "answers at … (/health
200)", "nothing listens at … (connection refused)", "log ended: shutdown
complete, 4 min ago". When the operator quits and leaves the server running,
the console records it in the run folder (`left-running.json`), so that the
next attach can offer it by name, with its log, URL and pid.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from tui.files.atomic import atomic_write_json

LEFT_RUNNING_FILE = "left-running.json"
LOG_TAIL_BYTES = 64 * 1024
MAX_RUN_DIRS = 400  # newest run folders looked at for left-running servers
URL_TIMEOUT_S = 2.0

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SHUTDOWN = re.compile(r"Application shutdown complete|Finished server process|Shutting down")
_FAILURE = re.compile(r"Traceback \(most recent call last\)|EngineCore failed to start|\bERROR\b|\bCRITICAL\b|"
                      r"Error: |Exception: ")


@dataclass(frozen=True)
class LeftRunning:
    """A server this console launched and, at a quit, left running."""

    pid: int
    url: str | None
    log_path: Path
    profile: str
    variant: str | None
    left_at: float  # epoch seconds

    @property
    def label(self) -> str:
        what = f"{self.profile} · {self.variant}" if self.variant else self.profile
        return f"{what} · pid {self.pid}" + (f" · {self.url}" if self.url else "")


@dataclass(frozen=True)
class Finding:
    """One check's sentence, and whether it found something alive."""

    alive: bool
    sentence: str


def record_left_running(run_dir: Path, pid: int, url: str | None, log_path: Path, profile: str,
                        variant: str | None) -> None:
    """Say in `run_dir` that the server `pid` was left running (with its start time: a reused pid is not it)."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        started = None
    atomic_write_json(run_dir / LEFT_RUNNING_FILE, {
        "pid": pid, "create_time": started, "url": url, "log_path": str(log_path), "profile": profile,
        "variant": variant, "left_at": time.time(),
    })


def find_left_running(runs_root: Path) -> list[LeftRunning]:
    """The servers this console left running that still run (newest first); stale records are ignored."""
    try:
        records = sorted(runs_root.glob(f"*/*/{LEFT_RUNNING_FILE}"), key=_mtime, reverse=True)[:MAX_RUN_DIRS]
    except OSError:
        return []
    found: list[LeftRunning] = []
    for path in records:
        data = _read_json(path)
        if data is None:
            continue
        try:
            pid = int(data["pid"])
            entry = LeftRunning(pid, data.get("url") or None, Path(str(data["log_path"])), str(data["profile"]),
                                data.get("variant"), float(data.get("left_at") or 0.0))
        except (KeyError, TypeError, ValueError):
            continue
        if _same_process(pid, data.get("create_time")):
            found.append(entry)
    return found


def server_tree(pid: int | None) -> frozenset[int]:
    """`pid` and every process under it (an attached server's EngineCore and workers); empty when gone."""
    if pid is None:
        return frozenset()
    try:
        root = psutil.Process(pid)
        return frozenset({pid, *(child.pid for child in root.children(recursive=True))})
    except psutil.Error:
        return frozenset()


def listener_pid(url: str) -> int | None:
    """The pid listening on `url`'s port on this host, when it can be seen (our own user's processes)."""
    try:
        port = urlsplit(url).port or (443 if url.startswith("https") else 80)
        connections = psutil.net_connections(kind="tcp")
    except (ValueError, psutil.Error, OSError):
        return None
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port:
            return int(connection.pid) if connection.pid is not None else None
    return None


def check_url(url: str, api_key: str | None = None, transport: Any | None = None,
              timeout_s: float = URL_TIMEOUT_S) -> Finding:
    """Whether a server answers at `url` (its `/health`), in one sentence."""
    import httpx

    root = url.rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    try:
        with httpx.Client(transport=transport, timeout=timeout_s) as client:
            response = client.get(f"{root}/health", headers=headers)
    except httpx.ConnectError:
        return Finding(False, f"nothing listens at {url} (connection refused)")
    except httpx.TimeoutException:
        return Finding(False, f"{url} did not answer within {timeout_s:g} s")
    except httpx.HTTPError as error:
        return Finding(False, f"{url} could not be reached ({type(error).__name__})")
    if response.status_code < 400:
        return Finding(True, f"a server answers at {url} (/health {response.status_code})")
    if response.status_code in (401, 403):
        return Finding(True, f"a server answers at {url} but refuses the key (/health {response.status_code})")
    return Finding(True, f"something answers at {url}, but /health says {response.status_code}: "
                         "is it a vLLM server?")


def check_log(path: Path, now: float | None = None) -> Finding:
    """How `path` ends: "log ended: shutdown complete, 4 min ago", still written, missing or empty."""
    now = time.time() if now is None else now
    try:
        info = path.stat()
    except FileNotFoundError:
        return Finding(False, f"{path} does not exist")
    except OSError as error:
        return Finding(False, f"{path} cannot be read ({error.strerror or error})")
    if not path.is_file():
        return Finding(False, f"{path} is not a regular file")
    if info.st_size == 0:
        return Finding(True, f"{path} is empty (a server that has not written yet?)")
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, info.st_size - LOG_TAIL_BYTES))
            tail = handle.read(LOG_TAIL_BYTES).decode("utf-8", errors="replace")
    except OSError as error:
        return Finding(False, f"{path} cannot be read ({error.strerror or error})")
    lines = [_ANSI.sub("", line).strip() for line in tail.splitlines() if line.strip()][-12:]
    age = _ago(max(0.0, now - info.st_mtime))
    if any(_SHUTDOWN.search(line) for line in lines[-4:]):
        return Finding(False, f"log ended: shutdown complete, last written {age} ago")
    failed = [line for line in lines[-8:] if _FAILURE.search(line)]
    if failed and now - info.st_mtime > 10:
        return Finding(False, f"log ended with an error {age} ago: {failed[-1][-160:]}")
    return Finding(True, f"log last written {age} ago")


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _same_process(pid: int, create_time: Any) -> bool:
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return create_time is None or abs(process.create_time() - float(create_time)) < 1.0
    except (psutil.Error, TypeError, ValueError):
        return False


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > 64 * 1024:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
