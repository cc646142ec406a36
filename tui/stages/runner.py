"""Running one stage as a subprocess, and the evidence it leaves behind.

A stage is `python -m tui.stages.<name> …` under the profile's stage Python
(the serving environment's interpreter, where torch_npu lives and npu-console
is usually *not* installed). `StageRun` makes the `tui` package importable
there through PYTHONPATH, starts the stage in its own session (so cancel can
kill the whole process group, grandchildren included), turns stdout lines into
typed events for the UI, and writes everything to
`<run dir>/<stage>-<YYYYmmdd-HHMMSS>/`:

- `stage.json`   what ran and how it ended (written at start and at the end)
- `events.jsonl` every stdout line (a non-JSON line kept as `{"event": "stdout", "line": …}`)
- `stderr.log`   the stage's full stderr, as it arrives
- `result.json`  the result event's data, written atomically

It never raises for a stage that crashes, prints garbage, cannot start or is
cancelled: those all become a `StageOutcome` with one sentence in `error`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

import tui
from tui.atomic import atomic_write_json
from tui.clock import Clock, SystemClock
from tui.proc import pid_exists
from tui.proc_tree import process_tree, stop_tree
from tui.stages.events import STAGE_DIR_ENV, Progress, Result, StageError, StageEvent, parse_event
from tui.xdg import data_home

StageState = Literal["pending", "running", "succeeded", "failed", "cancelled"]
EndState = Literal["succeeded", "failed", "cancelled"]

STAGE_META = "stage.json"
EVENTS_FILE = "events.jsonl"
STDERR_FILE = "stderr.log"
RESULT_FILE = "result.json"

_log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
_MAX_LINE = 64 * 1024 * 1024  # a result line larger than this is a stage bug; it is cut, not held forever
_READER_GRACE_S = 2.0  # after the stage exits, how long a leftover holder of its pipes may keep them open


def package_root() -> Path:
    """The folder that contains the `tui` package: what PYTHONPATH needs for `-m tui.stages.X`."""
    return Path(tui.__file__).resolve().parent.parent


def importable_root(root: Path | None = None) -> Path:
    """A folder to put on the stage Python's PYTHONPATH that holds `tui` and nothing else of ours.

    From an editable install the package root is the repository, which is fine.
    From a regular install it is the console's `site-packages`: putting that on
    the serving environment's path would shadow its torch/torch_npu with builds
    for another interpreter. Then a folder under the data home with one symlink
    `tui` -> the package stands in (the package itself if the link cannot be made).
    """
    root = package_root() if root is None else root
    if root.name not in ("site-packages", "dist-packages"):
        return root
    digest = hashlib.sha256(str(root).encode("utf-8")).hexdigest()[:12]
    shim = data_home() / "stagepath" / digest
    link = shim / "tui"
    try:
        shim.mkdir(parents=True, exist_ok=True)
        if not (link.is_symlink() and link.resolve() == (root / "tui").resolve()):
            if link.is_symlink():
                link.unlink()
            link.symlink_to(root / "tui", target_is_directory=True)
    except OSError:
        return root
    return shim


def stage_env(base: Mapping[str, str] | None, root: Path | None = None) -> dict[str, str]:
    """`base` (the caller's environment; ours when None) made fit for a stage.

    The `tui` folder (`importable_root`) goes first on PYTHONPATH so the stage
    Python imports this very `tui` even when another version is installed there;
    PYTHONUNBUFFERED makes `print` reach us line by line through the pipe.
    """
    env = dict(os.environ if base is None else base)
    existing = env.get("PYTHONPATH", "")
    first = str(importable_root(root))
    parts = [first] + [part for part in existing.split(os.pathsep) if part and part != first]
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


@dataclass(frozen=True)
class StageOutcome:
    """How a stage run ended.

    `state` is "succeeded" only for exit 0 with a result; `error` is the one
    sentence to show otherwise; `stderr_tail` the last lines of stderr (the full
    text is in `run_folder/stderr.log`). `result` is kept even when the stage
    failed after reporting one (a precision FAIL exits 1 with its numbers).
    """

    name: str
    state: EndState
    result: Mapping[str, Any] | None
    error: str | None
    run_folder: Path
    seconds: float
    exit_code: int | None
    stderr_tail: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state == "succeeded"


def _exit_sentence(name: str, code: int, tail: Sequence[str]) -> str:
    """One sentence for a non-zero exit, ending with the stage's last words on stderr."""
    if code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    last = next((line.strip() for line in reversed(tail) if line.strip()), "")
    if last:
        return f"stage {name} {how}: {last}"
    return f"stage {name} {how} without a word on stderr"


def _unique_folder(parent: Path, stem: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        candidate = parent / (stem if attempt == 0 else f"{stem}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"could not find a free stage folder name for {stem} under {parent}")


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
        pipe_grace_s: float = _READER_GRACE_S,
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
        self.run_folder = _unique_folder(self.run_dir, f"{self.name}-{self._started_at.strftime('%Y%m%d-%H%M%S')}")
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

    def _open_logs(self) -> tuple[IO[bytes], IO[bytes]]:
        assert self.run_folder is not None
        events_file = open(self.run_folder / EVENTS_FILE, "ab")  # noqa: SIM115 - closed by _watch
        try:
            stderr_file = open(self.run_folder / STDERR_FILE, "ab")  # noqa: SIM115
        except BaseException:
            events_file.close()
            raise
        return events_file, stderr_file

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        events_file, stderr_file = self._open_logs()
        try:
            readers = [
                asyncio.ensure_future(self._read_lines(proc.stdout, lambda line: self._on_stdout(line, events_file))),
                asyncio.ensure_future(self._read_stderr(proc.stderr, stderr_file)),
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
            for handle in (events_file, stderr_file):
                with contextlib.suppress(OSError):
                    handle.flush()
                    os.fsync(handle.fileno())
                handle.close()
        if self._cancelled:
            self._finish("cancelled", code, "cancelled by the operator")
        elif self._error_event is not None:
            self._finish("failed", code, self._error_event)
        elif code != 0:
            self._finish("failed", code, _exit_sentence(self.name, code, tuple(self._tail)))
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

    async def _read_lines(self, stream: asyncio.StreamReader, handle_line: Callable[[str], None]) -> None:
        """Split `stream` into lines ourselves: StreamReader.readline fails on lines over 64 KiB."""
        pending = b""
        while True:
            chunk = await stream.read(_CHUNK)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                handle_line(raw.decode("utf-8", errors="replace"))
            if len(pending) > _MAX_LINE:
                handle_line(pending.decode("utf-8", errors="replace"))
                pending = b""
        if pending:
            handle_line(pending.decode("utf-8", errors="replace"))

    async def _read_stderr(self, stream: asyncio.StreamReader, handle: IO[bytes]) -> None:
        pending = b""
        while True:
            chunk = await stream.read(_CHUNK)
            if not chunk:
                break
            handle.write(chunk)
            handle.flush()
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                self._stderr_line(raw.decode("utf-8", errors="replace"))
            if len(pending) > _CHUNK:
                self._stderr_line(pending.decode("utf-8", errors="replace"))
                pending = b""
        if pending:
            self._stderr_line(pending.decode("utf-8", errors="replace"))

    def _stderr_line(self, line: str) -> None:
        line = line.rstrip("\r")
        self._tail.append(line)
        if self.on_stderr is not None:
            try:
                self.on_stderr(line)
            except Exception:
                _log.exception("stage %s: the stderr handler failed", self.name)

    def _on_stdout(self, line: str, events_file: IO[bytes]) -> None:
        event = parse_event(line)
        if isinstance(event, str):
            record = json.dumps({"event": "stdout", "line": event}, ensure_ascii=False)
        else:
            record = line.strip()
        events_file.write((record + "\n").encode("utf-8"))
        events_file.flush()
        if isinstance(event, Result):
            self._result = event.data
            assert self.run_folder is not None
            atomic_write_json(self.run_folder / RESULT_FILE, dict(event.data))
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
        try:
            atomic_write_json(self.run_folder / STAGE_META, meta)
        except OSError:
            pass  # the outcome still reaches the UI; a full disk must not turn a result into a crash


# -- progress rate and ETA ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressReading:
    """A progress event with what the bar shows beside it; `rate`/`eta_s` are None until known."""

    progress: Progress
    fraction: float | None
    rate: float | None
    eta_s: float | None


class ProgressMeter:
    """Turns a stream of Progress events into a smoothed rate (units per second) and an ETA.

    Exponential smoothing (weight `alpha` for the newest interval) keeps the ETA
    from jumping with every tensor of a different size, yet follows a real
    change of speed within a few events. Nothing is guessed from one point.
    """

    def __init__(self, alpha: float = 0.3, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self._clock = clock
        self._last: tuple[float, float] | None = None  # (time, done)
        self._rate: float | None = None

    def reset(self) -> None:
        self._last = None
        self._rate = None

    @property
    def rate(self) -> float | None:
        return self._rate

    def update(self, progress: Progress, now: float | None = None) -> ProgressReading:
        t = self._clock() if now is None else now
        if self._last is not None and progress.done < self._last[1]:
            self.reset()  # the stage started a new phase from zero: old speed says nothing
        if self._last is not None:
            dt = t - self._last[0]
            if dt > 0:
                instant = (progress.done - self._last[1]) / dt
                self._rate = instant if self._rate is None else self.alpha * instant + (1 - self.alpha) * self._rate
                self._last = (t, progress.done)
            # dt <= 0: two events in the same clock tick; keep the older point so the next interval is real
        else:
            self._last = (t, progress.done)
        eta: float | None = None
        if progress.total is not None:
            remaining = progress.total - progress.done
            if remaining <= 0:
                eta = 0.0
            elif self._rate is not None and self._rate > 0:
                eta = remaining / self._rate
        return ProgressReading(progress=progress, fraction=progress.fraction, rate=self._rate, eta_s=eta)


# -- one heavy stage per device at a time ------------------------------------------------------


@dataclass(eq=False)
class _Waiter:
    name: str
    future: asyncio.Future[None]


class DeviceQueue:
    """A first-come-first-served lock for one device, that shows who holds it and who waits.

    Two heavy stages on the same NPU would fight over HBM and both fail (or
    both measure nonsense), so the second waits; `running` and `waiting` let the
    stage panel say so instead of looking stuck. `on_change` is called whenever
    either changes.
    """

    def __init__(self, device: str = "default", on_change: Callable[[], None] | None = None) -> None:
        self.device = device
        self.on_change = on_change
        self._running: str | None = None
        self._waiters: deque[_Waiter] = deque()

    @property
    def running(self) -> str | None:
        return self._running

    @property
    def waiting(self) -> tuple[str, ...]:
        return tuple(waiter.name for waiter in self._waiters)

    @contextlib.asynccontextmanager
    async def slot(self, name: str) -> AsyncIterator[float]:
        """Hold the device for `name`; yields the seconds it waited. Cancelling while waiting leaves the line."""
        start = time.monotonic()
        if self._running is None and not self._waiters:
            self._running = name
        else:
            waiter = _Waiter(name, asyncio.get_running_loop().create_future())
            self._waiters.append(waiter)
            self._changed()
            try:
                await waiter.future
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                    self._changed()
                elif waiter.future.done() and not waiter.future.cancelled():
                    self._release()  # the slot was handed to us as we were cancelled: pass it on
                raise
        self._changed()
        try:
            yield time.monotonic() - start
        finally:
            self._release()

    def _release(self) -> None:
        self._running = None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.future.done():
                self._running = waiter.name
                waiter.future.set_result(None)
                break
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


# -- past runs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageRunInfo:
    """One stage folder found in a run directory, for "Show runs"."""

    name: str
    state: str
    started: str | None
    folder: Path
    seconds: float | None
    error: str | None
    result: Mapping[str, Any] | None
    summary: str


def summarize_result(data: Mapping[str, Any] | None, limit: int = 4) -> str:
    """The first few scalar fields of a result as `key=value, …` (one line for a table cell)."""
    if not data:
        return ""
    parts = []
    for key, value in data.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.4g}")
        elif isinstance(value, (str, int, bool)) or value is None:
            parts.append(f"{key}={value}")
        if len(parts) >= limit:
            break
    return ", ".join(parts)


def list_stage_runs(run_dir: Path) -> list[StageRunInfo]:
    """Stage runs under `run_dir` (folders with a `stage.json`), newest first.

    A run recorded as "running" whose process is gone (the console died with
    it) is shown as "interrupted"; an unreadable `stage.json` or `result.json`
    still lists the folder, since its evidence is there.
    """
    found: list[StageRunInfo] = []
    try:
        folders = [path for path in Path(run_dir).iterdir() if path.is_dir() and (path / STAGE_META).exists()]
    except OSError:
        return []
    for folder in folders:
        try:
            meta = json.loads((folder / STAGE_META).read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                meta = {}
        except (OSError, ValueError):
            meta = {}
        result: Mapping[str, Any] | None = None
        try:
            loaded = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
            result = loaded if isinstance(loaded, dict) else None
        except (OSError, ValueError):
            result = None
        state = str(meta.get("state") or "unknown")
        if state == "running" and not pid_exists(meta.get("pid")):
            state = "interrupted"
        seconds = meta.get("seconds")
        found.append(StageRunInfo(
            name=str(meta.get("name") or folder.name.rsplit("-", 2)[0]),
            state=state,
            started=meta.get("started") if isinstance(meta.get("started"), str) else None,
            folder=folder,
            seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
            error=meta.get("error") if isinstance(meta.get("error"), str) else None,
            result=result,
            summary=summarize_result(result),
        ))
    found.sort(key=lambda info: (info.started or "", info.folder.name), reverse=True)
    return found


__all__ = [
    "DeviceQueue",
    "ProgressMeter",
    "ProgressReading",
    "StageOutcome",
    "StageRun",
    "StageRunInfo",
    "importable_root",
    "list_stage_runs",
    "package_root",
    "stage_env",
    "summarize_result",
]
