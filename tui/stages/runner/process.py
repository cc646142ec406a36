"""`StageRun`: one stage as a subprocess — start it, watch its events, cancel it, get its outcome.

A stage is `python -m tui.stages.<name> …` under the profile's stage Python
(the serving environment's interpreter, where torch_npu lives and npu-console
is usually *not* installed). `StageRun` makes the `tui` package importable
there through PYTHONPATH, starts the stage in its own session (so cancel can
kill the whole process group, grandchildren included), turns stdout lines into
typed events for the UI, and keeps the evidence (`tui.stages.runner.evidence`).

It never raises for a stage that crashes, prints garbage, cannot start or is
cancelled: those all become a `StageOutcome` with one sentence in `error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from tui.clock import Clock, SystemClock
from tui.processes.tree import process_tree, stop_tree
from tui.stages.events import STAGE_DIR_ENV, LogEvent, Result, StageError, StageEvent, parse_event
from tui.stages.runner.environment import stage_env
from tui.stages.runner.evidence import EvidenceFiles, unique_folder, write_meta
from tui.stages.runner.outcome import EndState, StageOutcome, StageState, exit_sentence
from tui.stages.runner.pipes import CHUNK, read_lines

_log = logging.getLogger(__name__)

READER_GRACE_S = 2.0  # after the stage exits, how long a leftover holder of its pipes may keep them open

_END = object()


class StageRun:
    """One run of one stage: start it, watch its events, cancel it, get its outcome.

    Events reach the UI two ways, both optional: `on_event` (called in the event
    loop for each stdout line, parsed: a `StageEvent` or the raw string) and
    `events()`, an async iterator. `on_stderr` gets each stderr line (a UI may
    show them in the live log; they are on disk in any case).
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str] = (),
        *,
        run_dir: Path,
        python: str | None = None,
        env: Mapping[str, str] | None = None,
        module: str | None = None,
        cwd: Path | None = None,
        on_event: Callable[[StageEvent | str], None] | None = None,
        on_stderr: Callable[[str], None] | None = None,
        clock: Clock | None = None,
        tail_lines: int = 20,
        pipe_grace_s: float = READER_GRACE_S,
        cancel_grace_s: float = 5.0,
    ) -> None:
        self.name = name
        self.args = tuple(args)
        self.run_dir = Path(run_dir)
        self.python = python or sys.executable
        self.module = module or f"tui.stages.{name}"
        self.env = env
        self.cwd = cwd
        self.on_event = on_event
        self.on_stderr = on_stderr
        self._clock: Clock = clock or SystemClock()
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._pipe_grace_s = pipe_grace_s
        self._cancel_grace_s = cancel_grace_s
        self._subscribers: list[asyncio.Queue[object]] = []
        self._proc: asyncio.subprocess.Process | None = None
        self._state: StageState = "pending"
        self._cancelled = False
        self._result: Mapping[str, Any] | None = None
        self._error_event: str | None = None
        self._outcome: asyncio.Future[StageOutcome] | None = None
        self._started_at: datetime | None = None
        self._t0 = 0.0
        self._watcher: asyncio.Task[None] | None = None
        self.run_folder: Path | None = None

    @property
    def argv(self) -> list[str]:
        return [self.python, "-m", self.module, *self.args]

    @property
    def state(self) -> StageState:
        return self._state

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def events(self) -> AsyncIterator[StageEvent | str]:
        """Events from now on until the stage ends (subscribe before `start` to miss none)."""
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._subscribers.append(queue)
        if self._outcome is not None and self._outcome.done():
            queue.put_nowait(_END)
        return self._drain(queue)

    async def _drain(self, queue: asyncio.Queue[object]) -> AsyncIterator[StageEvent | str]:
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                yield item  # type: ignore[misc]
        finally:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(queue)

    async def run(self) -> StageOutcome:
        """Start the stage and wait for its outcome.

        Cancelling the task that awaits this (a UI worker cancelled on quit)
        cancels the stage too: a stage must not outlive whoever was waiting on it.
        """
        await self.start()
        try:
            return await self.wait()
        except asyncio.CancelledError:
            await self.cancel()
            raise

    async def start(self) -> None:
        """Create the stage folder and start the process; returns once it is running (or failed to start)."""
        if self._outcome is not None:
            raise RuntimeError(f"stage run {self.name} was already started")
        loop = asyncio.get_running_loop()
        self._outcome = loop.create_future()
        self._started_at = self._clock.now()
        self._t0 = self._clock.monotonic()
        self.run_folder = unique_folder(self.run_dir, f"{self.name}-{self._started_at.strftime('%Y%m%d-%H%M%S')}")
        self._write_meta({"state": "running"})
        if self._cancelled:
            self._finish("cancelled", None, None)
            return
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**stage_env(self.env), STAGE_DIR_ENV: str(self.run_folder)},
                cwd=str(self.cwd) if self.cwd is not None else None,
                start_new_session=True,
            )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self._finish("failed", None, f"could not start stage {self.name} with {self.python}: {reason}")
            return
        self._state = "running"
        self._write_meta({"state": "running", "pid": self._proc.pid})
        self._watcher = loop.create_task(self._watch_safely(self._proc), name=f"stage-{self.name}")

    async def wait(self) -> StageOutcome:
        """The outcome, once the stage has ended."""
        if self._outcome is None:
            raise RuntimeError(f"stage run {self.name} was not started")
        return await asyncio.shield(self._outcome)

    async def cancel(self, grace_s: float | None = None) -> StageOutcome | None:
        """Stop the stage's whole process group (SIGTERM, then SIGKILL after `grace_s`).

        `grace_s` defaults to the run's `cancel_grace_s`: time for a stage to
        remove its temporary output before it is killed.

        The run ends as "cancelled" whatever the stage does on its way out.
        Returns the outcome (None when the run was never started).
        """
        self._cancelled = True
        if self._outcome is None:
            return None
        if self._outcome.done():
            return self._outcome.result()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            grace = self._cancel_grace_s if grace_s is None else grace_s
            escalation = ((signal.SIGTERM, grace), (signal.SIGKILL, 3.0))
            await asyncio.to_thread(stop_tree, proc.pid, escalation, with_group=True)
        return await self.wait()

    # -- internals ---------------------------------------------------------------------------

    async def _watch_safely(self, proc: asyncio.subprocess.Process) -> None:
        """`_watch`, with any bug of ours turned into a failed outcome: `wait()` must always return."""
        try:
            await self._watch(proc)
        except Exception as exc:
            if proc.returncode is None:
                await asyncio.to_thread(stop_tree, proc.pid, ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)),
                                        with_group=True)
            if self._outcome is not None and not self._outcome.done():
                self._finish("failed", proc.returncode, f"the console lost track of stage {self.name}: {exc}")

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None and proc.stderr is not None and self.run_folder is not None
        evidence = EvidenceFiles(self.run_folder, on_failure=self._evidence_failed)
        try:
            readers = [
                asyncio.ensure_future(read_lines(proc.stdout, lambda line: self._on_stdout(line, evidence))),
                asyncio.ensure_future(read_lines(proc.stderr, self._stderr_line, max_line=CHUNK,
                                                 on_chunk=evidence.record_stderr)),
            ]
            waiter = asyncio.ensure_future(proc.wait())
            code = await self._exit_code(proc, waiter)
            _done, pending = await asyncio.wait(readers, timeout=self._pipe_grace_s)
            if pending:
                # Someone the stage started still holds its pipes: it is part of the stage, stop it.
                await asyncio.to_thread(self._stop_leftovers, proc.pid)
                _done, pending = await asyncio.wait(pending, timeout=self._pipe_grace_s + 5.0)
                for task in pending:
                    task.cancel()
            else:
                await asyncio.to_thread(self._stop_leftovers, proc.pid)
            # Let the transport close now that the pipes are shut (no "loop is closed" noise later).
            await asyncio.wait([waiter], timeout=self._pipe_grace_s + 5.0)
        finally:
            evidence.close()
        if self._cancelled:
            self._finish("cancelled", code, "cancelled by the operator")
        elif self._error_event is not None:
            self._finish("failed", code, self._error_event)
        elif code != 0:
            self._finish("failed", code, exit_sentence(self.name, code, tuple(self._tail)))
        elif self._result is None:
            self._finish("failed", code, "the stage ended without a result")
        else:
            self._finish("succeeded", code, None)

    @staticmethod
    async def _exit_code(proc: asyncio.subprocess.Process, waiter: asyncio.Future[int]) -> int:
        """The stage's exit status as soon as it exits.

        `Process.wait()` (before Python 3.12) also waits for the pipes to close,
        which never happens while a child the stage left behind holds them; the
        return code itself is known at exit, so poll it beside the wait.
        """
        while True:
            done, _ = await asyncio.wait([waiter], timeout=0.1)
            if done:
                return waiter.result()
            if proc.returncode is not None:
                return proc.returncode

    @staticmethod
    def _stop_leftovers(pgid: int) -> None:
        """Nothing the stage started outlives it: stop what is left of its process group."""
        if process_tree(pgid, with_group=True):
            stop_tree(pgid, ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)), with_group=True)

    def _evidence_failed(self, sentence: str) -> None:
        """Said once in the live log (a warning), the way a stage's own warnings are."""
        _log.warning("stage %s: %s", self.name, sentence)
        self._publish(LogEvent("warning", sentence))

    def _stderr_line(self, line: str) -> None:
        line = line.rstrip("\r")
        self._tail.append(line)
        if self.on_stderr is not None:
            try:
                self.on_stderr(line)
            except Exception:
                _log.exception("stage %s: the stderr handler failed", self.name)

    def _on_stdout(self, line: str, evidence: EvidenceFiles) -> None:
        event = parse_event(line)
        evidence.record_stdout(line, event)
        if isinstance(event, Result):
            self._result = event.data
            evidence.write_result(event.data)
        elif isinstance(event, StageError):
            self._error_event = event.message
        self._publish(event)

    def _publish(self, item: object) -> None:
        if self.on_event is not None and item is not _END:
            try:
                self.on_event(item)  # type: ignore[arg-type]
            except Exception:
                # A bug in the UI's handler must not stop us draining the pipe (the stage would block).
                _log.exception("stage %s: the event handler failed", self.name)
        for queue in list(self._subscribers):
            queue.put_nowait(item)

    def _finish(self, state: EndState, code: int | None, error: str | None) -> None:
        assert self.run_folder is not None and self._outcome is not None
        seconds = self._clock.monotonic() - self._t0
        outcome = StageOutcome(
            name=self.name, state=state, result=self._result, error=error, run_folder=self.run_folder,
            seconds=seconds, exit_code=code, stderr_tail=tuple(self._tail),
        )
        self._state = state
        self._write_meta({"state": state, "exit_code": code, "error": error, "seconds": round(seconds, 3),
                          "ended": self._clock.now().isoformat(timespec="seconds"),
                          "pid": self._proc.pid if self._proc is not None else None})
        self._publish(_END)
        if not self._outcome.done():
            self._outcome.set_result(outcome)

    def _write_meta(self, extra: Mapping[str, Any]) -> None:
        assert self.run_folder is not None and self._started_at is not None
        meta: dict[str, Any] = {
            "name": self.name,
            "module": self.module,
            "argv": self.argv,
            "started": self._started_at.isoformat(timespec="seconds"),
        }
        meta.update(extra)
        write_meta(self.run_folder, meta)
