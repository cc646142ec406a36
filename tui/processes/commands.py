"""Running short external commands (`npu-smi`, `nvidia-smi`, …) with a hard bound.

A command the console runs for information can take seconds or hang forever
(npu-smi inside a container with a mismatched vNPU library does), can be missing
from a non-interactive SSH PATH, can print its error on stderr, or can print
without end. The runner turns all of that into a `CommandResult` value — it
never raises for those — and kills the whole process group when the time is up
or the output passes 8 MiB, so nothing lingers and memory stays bounded.

The runner is a collaborator of the app (tests hand in their own), and every
caller states its timeout.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CommandResult:
    """What one run of a command gave.

    `error` is a sentence for the operator when the command could not be run
    or did not finish (not found, not executable, timed out); `returncode` is
    None then. A command that ran and exited non-zero has `error` None: its
    own words are in `stdout`/`stderr`, for the caller to interpret.
    """

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the command ran to the end and exited 0."""
        return self.error is None and self.returncode == 0

    @property
    def output(self) -> str:
        """stdout then stderr, as a terminal would have shown them."""
        if self.stdout and self.stderr:
            return self.stdout.rstrip("\n") + "\n" + self.stderr
        return self.stdout or self.stderr


class CommandRunner(Protocol):
    """Runs one command to completion within `timeout` seconds."""

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult: ...


def pid_exists(pid: object) -> bool:
    """True when a process `pid` exists (a zombie included), by signal 0; False for anything not a pid.

    A process of another user still exists (the kill is refused with EPERM).
    """
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_executable(
    name: str,
    env: Mapping[str, str] | None = None,
    extra_dirs: Iterable[str] = (),
) -> str | None:
    """The path of `name` on env's PATH, else in `extra_dirs`, else None."""
    path_var = (env if env is not None else os.environ).get("PATH", os.defpath)
    found = shutil.which(name, path=path_var)
    if found:
        return found
    for directory in extra_dirs:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class SubprocessRunner:
    """The real runner: `asyncio` subprocesses in their own session.

    `base_env` is the environment every command gets (the demo puts its
    simulated tools first on PATH there); a call's `env` is laid over it.
    """

    def __init__(self, base_env: Mapping[str, str] | None = None) -> None:
        self._base_env = dict(base_env if base_env is not None else os.environ)

    @property
    def base_env(self) -> Mapping[str, str]:
        return self._base_env

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
    ) -> CommandResult:
        argv = tuple(argv)
        merged = dict(self._base_env)
        merged.update(env or {})
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=merged,
                start_new_session=True,
            )
        except FileNotFoundError:
            return CommandResult(
                argv, None, "", "", 0.0,
                error=f"{argv[0]}: command not found; check that it is installed and on PATH",
            )
        except PermissionError:
            return CommandResult(
                argv, None, "", "", 0.0,
                error=f"{argv[0]}: permission denied; check that the file is executable and you may run it",
            )
        except OSError as exc:
            return CommandResult(argv, None, "", "", 0.0, error=f"{argv[0]}: could not start: {exc.strerror}")
        try:
            stdout, stderr = await asyncio.wait_for(_communicate(process, MAX_OUTPUT_BYTES), timeout)
        except _TooMuchOutputError:
            await _reap(process)
            return CommandResult(
                argv, None, "", "", time.monotonic() - started,
                error=f"{argv[0]} printed more than {MAX_OUTPUT_BYTES >> 20} MiB and was stopped; "
                "that is not what it prints when it works",
            )
        except asyncio.TimeoutError:
            _kill_group(process.pid)
            await _reap(process)
            return CommandResult(
                argv, None, "", "", time.monotonic() - started, timed_out=True,
                error=f"{argv[0]} did not answer within {timeout:g} s and was stopped; "
                "the device or its driver may be busy or hung",
            )
        except asyncio.CancelledError:
            _kill_group(process.pid)
            await _reap(process)
            raise
        return CommandResult(
            argv,
            process.returncode,
            stdout.decode("utf-8", errors="replace"),
            stderr.decode("utf-8", errors="replace"),
            time.monotonic() - started,
        )


MAX_OUTPUT_BYTES = 8 << 20
"""What a command may print on stdout or stderr before it is stopped: npu-smi prints kilobytes."""


class _TooMuchOutputError(Exception):
    pass


async def _communicate(process: asyncio.subprocess.Process, cap: int) -> tuple[bytes, bytes]:
    """Both streams to their end and the exit, like `communicate`, but never more than `cap` bytes of each."""

    async def read(stream: asyncio.StreamReader | None) -> bytes:
        if stream is None:
            return b""
        chunks: list[bytes] = []
        size = 0
        while data := await stream.read(1 << 16):
            size += len(data)
            if size > cap:
                _kill_group(process.pid)  # the other stream ends too, and nothing is kept past the cap
                raise _TooMuchOutputError
            chunks.append(data)
        return b"".join(chunks)

    out, err = await asyncio.gather(read(process.stdout), read(process.stderr))
    await process.wait()
    return out, err


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _reap(process: asyncio.subprocess.Process) -> None:
    try:
        await asyncio.wait_for(process.wait(), 2.0)
    except asyncio.TimeoutError:
        pass
