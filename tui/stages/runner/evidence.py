"""The files a stage run leaves in `<run dir>/<stage>-<YYYYmmdd-HHMMSS>/`.

- `stage.json`   what ran and how it ended (written at start and at the end)
- `events.jsonl` every stdout line (a non-JSON line kept as `{"event": "stdout", "line": …}`)
- `stderr.log`   the stage's full stderr, as it arrives
- `result.json`  the result event's data, written atomically

A runs folder that fills up or goes read-only while the stage runs must not stop us reading the
stage's pipes (the stage would block on a full pipe and hang): a failed write is kept as one
sentence (`failure`, said once through `on_failure`), that file is written no more, and the run goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from tui.failures import os_error_reason
from tui.files.atomic import atomic_write_json
from tui.stages.events import StageEvent

STAGE_META = "stage.json"
EVENTS_FILE = "events.jsonl"
STDERR_FILE = "stderr.log"
RESULT_FILE = "result.json"


def unique_folder(parent: Path, stem: str) -> Path:
    """Create `parent/stem` (or `stem-1`, `stem-2`, … when taken) and return it."""
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        candidate = parent / (stem if attempt == 0 else f"{stem}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"could not find a free stage folder name for {stem} under {parent}")


def write_meta(folder: Path, meta: Mapping[str, Any]) -> None:
    """`stage.json`, atomically; a full disk must not turn a result into a crash, so a failure is dropped."""
    try:
        atomic_write_json(folder / STAGE_META, dict(meta))
    except OSError:
        pass


class EvidenceFiles:
    """`events.jsonl`, `stderr.log` and `result.json` of one run, open while the stage runs."""

    def __init__(self, folder: Path, on_failure: Callable[[str], None] | None = None) -> None:
        self.folder = folder
        self.on_failure = on_failure
        self.failure: str | None = None
        self._events: IO[bytes] | None = open(folder / EVENTS_FILE, "ab")  # noqa: SIM115 - closed by close()
        try:
            self._stderr: IO[bytes] | None = open(folder / STDERR_FILE, "ab")  # noqa: SIM115
        except BaseException:
            self._events.close()
            raise

    def _failed(self, name: str, error: OSError) -> None:
        if self.failure is None:
            self.failure = (f"the run folder {self.folder} could not keep {name} ({os_error_reason(error)}); "
                            "the stage goes on, but its evidence there is incomplete")
            if self.on_failure is not None:
                self.on_failure(self.failure)

    def record_stdout(self, line: str, event: StageEvent | str) -> None:
        """One stdout line into `events.jsonl` (a non-JSON line wrapped as a `stdout` event)."""
        if self._events is None:
            return
        if isinstance(event, str):
            record = json.dumps({"event": "stdout", "line": event}, ensure_ascii=False)
        else:
            record = line.strip()
        try:
            self._events.write((record + "\n").encode("utf-8"))
            self._events.flush()
        except OSError as error:
            _drop(self._events)
            self._events = None
            self._failed(EVENTS_FILE, error)

    def record_stderr(self, chunk: bytes) -> None:
        if self._stderr is None:
            return
        try:
            self._stderr.write(chunk)
            self._stderr.flush()
        except OSError as error:
            _drop(self._stderr)
            self._stderr = None
            self._failed(STDERR_FILE, error)

    def write_result(self, data: Mapping[str, Any]) -> None:
        try:
            atomic_write_json(self.folder / RESULT_FILE, dict(data))
        except OSError as error:
            self._failed(RESULT_FILE, error)

    def close(self) -> None:
        """Flush, fsync and close both logs (whatever state the disk is in)."""
        for handle in (self._events, self._stderr):
            if handle is None:
                continue
            with contextlib.suppress(OSError):
                handle.flush()
                os.fsync(handle.fileno())
            _drop(handle)
        self._events = self._stderr = None


def _drop(handle: IO[bytes]) -> None:
    """Close a log whose write failed; its buffered bytes cannot reach the disk either."""
    with contextlib.suppress(OSError):
        handle.close()
