"""Running a model server we launched: its process tree, its output, its end.

The server starts from a `LaunchPlan` as an argv list (never a shell string),
in a new session (so it is the leader of its own process group), with stdout
and stderr both writing straight into the run's `server.log`. The console
follows that file (`tui.server.tail`) and hands whole lines to the caller in
batches. Writing to the file rather than through a pipe means every byte is on
disk as the server writes it, and the server does not die of a broken pipe
when the console exits: an operator who chooses to leave it running can
re-attach to the same log later. `stop` signals the whole tree — SIGINT, then
SIGTERM, then SIGKILL, each with a deadline — and then checks that no process
of it is left.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui.failures import os_error_reason
from tui.processes.tree import TREE_MARK_VAR, StopReport, stop_tree, tree_mark
from tui.server.tail import LogTail, TailBatch, follow

SERVER_ESCALATION: tuple[tuple[signal.Signals, float], ...] = (
    (signal.SIGINT, 15.0),  # vLLM shuts down cleanly on SIGINT: engine, workers, ports
    (signal.SIGTERM, 10.0),
    (signal.SIGKILL, 5.0),
)

LinesCallback = Callable[[list[str]], Awaitable[None] | None]


class LaunchError(Exception):
    """The server could not be started at all; the message says why and what to do."""


@dataclass(frozen=True)
class ServerExit:
    """How the server process ended."""

    returncode: int
    by_signal: str | None  # the signal's name when a signal ended it
    duration_s: float

    def sentence(self) -> str:
        if self.by_signal:
            return f"the server was ended by {self.by_signal} after {self.duration_s:.0f} s"
        if self.returncode == 0:
            return f"the server exited normally after {self.duration_s:.0f} s"
        return f"the server exited with status {self.returncode} after {self.duration_s:.0f} s"


class ServerProcess:
    """One server process tree that this console started."""

    released = False  # the operator chose to leave it running: the console's end must not stop it

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        log_path: Path,
        on_lines: LinesCallback,
        should_wait: Callable[[], bool],
        log_offset: int = 0,
    ) -> None:
        self._process = process
        self._log_path = log_path
        self._on_lines = on_lines
        self._started = time.monotonic()
        self._tail = LogTail(log_path, from_start=True, start_offset=log_offset)
        self._stop_follow = asyncio.Event()
        self.released = False  # the operator left it running: no longer followed
        self._follow = asyncio.create_task(
            follow(self._tail, self._deliver, stop=self._stop_follow, should_wait=should_wait),
            name=f"server-log-{process.pid}",
        )
        self._ended = asyncio.create_task(self._await_exit(), name=f"server-exit-{process.pid}")
        self.exit: ServerExit | None = None

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        on_lines: LinesCallback,
        cwd: Path | None = None,
        should_wait: Callable[[], bool] = lambda: False,
    ) -> ServerProcess:
        """Start `argv` appending to `log_path`; raises `LaunchError` with a sentence when it cannot start.

        Only what this launch writes is handed on: a log an earlier launch left
        in the same file is skipped (its size at the start is where reading begins).
        """
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise LaunchError(f"cannot write the server log {log_path}: "
                              f"{os_error_reason(OSError(error.errno, error.strerror))}; "
                              "point --runs-dir at a writable folder with free space") from None
        log_offset = os.fstat(log_fd).st_size
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_fd,
                stderr=asyncio.subprocess.STDOUT,
                env={**env, TREE_MARK_VAR: tree_mark(log_path)},  # found by it when it double-forks
                cwd=cwd,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise LaunchError(
                f"{argv[0]}: command not found; activate the serving environment (or give the full path "
                "in the profile's server.command)"
            ) from None
        except PermissionError:
            raise LaunchError(f"{argv[0]}: permission denied; check that it is executable") from None
        except OSError as error:
            raise LaunchError(f"{argv[0]} could not start: {error.strerror}") from None
        except ValueError as error:  # a NUL byte in an argument or a variable: no exec can take it
            raise LaunchError(f"{argv[0]} could not start: {error}; remove the NUL character from the profile") \
                from None
        finally:
            os.close(log_fd)  # the child has its own copy
        return cls(process, log_path, on_lines, should_wait, log_offset)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self.exit is None

    @property
    def log_path(self) -> Path:
        return self._log_path

    async def wait(self) -> ServerExit:
        """Until the process has exited and all it wrote has been handed on."""
        return await asyncio.shield(self._ended)

    async def stop(
        self, escalation: Sequence[tuple[signal.Signals, float]] = SERVER_ESCALATION
    ) -> StopReport:
        """Stop the whole tree (its process group included) and wait for the end of its output."""
        report = await asyncio.to_thread(stop_tree, self.pid, escalation, with_group=True,
                                         mark=tree_mark(self._log_path))
        try:
            await asyncio.wait_for(self.wait(), 10.0)
        except asyncio.TimeoutError:
            pass  # the report says who survived
        return report

    def release(self) -> None:
        """Stop following the log and leave the server running (the operator chose to leave it)."""
        self.released = True
        self._stop_follow.set()

    async def _await_exit(self) -> ServerExit:
        returncode = await self._process.wait()
        # The follower finishes the batch in hand first: one reader, one consumer, lines in order.
        self._stop_follow.set()
        await self._follow
        # What the server wrote last is on disk: read it to the end before saying it ended.
        while not self.released:
            batch = self._tail.read_available()
            await self._deliver(batch)
            if not batch.more:
                break
        self._tail.close()
        by_signal = signal.Signals(-returncode).name if returncode < 0 else None
        self.exit = ServerExit(returncode, by_signal, time.monotonic() - self._started)
        return self.exit

    async def _deliver(self, batch: TailBatch) -> None:
        """Hand the batch's lines on (awaiting a consumer that parses them elsewhere: back-pressure)."""
        if not batch.lines:
            return
        try:
            result = self._on_lines(list(batch.lines))
            if inspect.isawaitable(result):
                await result
        except Exception:  # a broken consumer must not stop the server being followed
            pass
