"""The files a launch (or an attach) leaves in its run folder, the same whichever path started it.

`npu-console serve` and the console's Server area both go through the server
pipeline, and the pipeline writes through this module, so a launch leaves:

- `launch.json` — the exact argv, the environment the server got (values that
  look like secrets masked by `tui.redact`), the profile's own variables, the
  files sourced first, the profile, its variant, the URL, the pid, and where in
  `server.log` this launch's lines begin;
- `launch.sh` — the same launch as a script an operator can re-run;
- `server.log` — written by the server itself (the launcher points its stdout
  and stderr there);
- `facts.json` — what the log said (the `log facts --json` object), rewritten
  atomically while the server runs, so it is current within a second;
- `stop.json` — how it ended: who asked (the operator, a signal, the server
  itself), the exit, the signals sent, which processes went and which survived.

An attach leaves `attach.json` (the log and URL it followed), `facts.json` and
`stop.json` (`detached`). A second launch in the same run folder keeps the
first one's files under numbered names (`launch.1.json`, `facts.1.json`, …)
instead of overwriting them. Every file goes through `tui.files.atomic`; a folder
that cannot be written raises `EvidenceError` with one sentence.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tui.failures import os_error_reason
from tui.files.atomic import atomic_write_json, atomic_write_text
from tui.processes.tree import StopReport
from tui.redact import MASK, is_secret_name, redact, redact_env
from tui.server.launch_plan import LaunchPlan
from tui.server.launcher import ServerExit
from tui.server.logfacts.diagnosis import Diagnosis

LAUNCH_FILE = "launch.json"
LAUNCH_SCRIPT = "launch.sh"
SERVER_LOG = "server.log"
FACTS_FILE = "facts.json"
STOP_FILE = "stop.json"
ATTACH_FILE = "attach.json"
KEPT_PER_LAUNCH = (LAUNCH_FILE, LAUNCH_SCRIPT, FACTS_FILE, STOP_FILE, ATTACH_FILE, "environment.json")

class EvidenceError(Exception):
    """The run folder cannot take the evidence; the message says where and what to do."""


def redacted_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment as evidence: secret-named values masked, secret-looking text in any value masked, sorted."""
    named = redact_env(env)
    return {name: redact(named[name], env) for name in sorted(named)}


def redacted_argv(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """argv word for word, except a secret flag's value (`--api-key X`) and anything that looks like a token."""
    words: list[str] = []
    for word in argv:
        after_secret_flag = bool(words) and words[-1].startswith("--") and is_secret_name(words[-1].lstrip("-"))
        words.append(MASK if after_secret_flag and word else redact(word, env))
    return words


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def evidence_sentence(folder: Path, error: OSError) -> str:
    """One sentence for a run folder that cannot be written (read-only, full, not ours)."""
    reason = os_error_reason(OSError(error.errno, error.strerror)) if error.errno else str(error)
    return (f"cannot write the evidence in {folder}: {reason}; "
            "point --runs-dir at a writable folder with free space")


class RunEvidence:
    """The evidence files of one launch or attach in one run folder. Blocking I/O: call from a thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.launch: dict[str, Any] = {}

    @property
    def log_path(self) -> Path:
        return self.folder / SERVER_LOG

    def _write_json(self, name: str, value: Mapping[str, Any]) -> None:
        try:
            atomic_write_json(self.folder / name, dict(value))
        except OSError as error:
            raise EvidenceError(evidence_sentence(self.folder, error)) from error

    def keep_previous(self) -> None:
        """Rename the files of an earlier launch or attach in this folder to the next free number."""
        present = [name for name in KEPT_PER_LAUNCH if (self.folder / name).exists()]
        if not present:
            return
        number = 1
        while any((self.folder / _numbered(name, number)).exists() for name in KEPT_PER_LAUNCH):
            number += 1
        try:
            for name in present:
                os.replace(self.folder / name, self.folder / _numbered(name, number))
        except OSError as error:
            raise EvidenceError(evidence_sentence(self.folder, error)) from error

    def record_launch(self, plan: LaunchPlan, env: Mapping[str, str], url: str | None) -> int:
        """Write `launch.json` and `launch.sh` before anything starts; return where this launch's log begins."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.keep_previous()
            log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            atomic_write_text(self.folder / LAUNCH_SCRIPT,
                              "#!/bin/sh\n" + plan.shell_script() + "\n", mode=0o755)
        except EvidenceError:
            raise
        except OSError as error:
            raise EvidenceError(evidence_sentence(self.folder, error)) from error
        self.launch = {
            "profile": plan.profile_name,
            "variant": plan.variant,
            "model": plan.model,
            "argv": redacted_argv(plan.argv, env),
            "env": redacted_env(env),
            "env_overrides": redacted_env(plan.env),
            "source_files": list(plan.source_files),
            "url": url,
            "log": SERVER_LOG,
            "log_offset": log_offset,
            "pid": None,
            "started": now_iso(),
        }
        self._write_json(LAUNCH_FILE, self.launch)
        return log_offset

    def record_pid(self, pid: int) -> None:
        self.launch["pid"] = pid
        self._write_json(LAUNCH_FILE, self.launch)

    def record_attach(self, log_path: Path | None, url: str | None, from_start: bool) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise EvidenceError(evidence_sentence(self.folder, error)) from error
        self.keep_previous()
        self._write_json(ATTACH_FILE, {"log": str(log_path) if log_path else None, "url": url,
                                       "from_start": from_start, "started": now_iso()})

    def record_facts(self, facts: Mapping[str, Any]) -> None:
        self._write_json(FACTS_FILE, facts)

    def record_stop(
        self,
        how: str,
        *,
        asked_by: str | None,
        ended: ServerExit | None,
        report: StopReport | None,
        root_cause: Diagnosis | None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """`stop.json`: `how` is `stopped`, `exited`, `failed`, `left running` or `detached`."""
        value: dict[str, Any] = {
            "how": how,
            "asked_by": asked_by,
            "at": now_iso(),
            "exit": None if ended is None else {"returncode": ended.returncode, "signal": ended.by_signal,
                                                "duration_s": round(ended.duration_s, 3),
                                                "sentence": ended.sentence()},
            "last_signal": report.last_signal if report else None,
            "stopped": list(report.stopped) if report else [],
            "survivors": list(report.survivors) if report else [],
            "stop_error": report.error if report else None,
            "root_cause": root_cause.to_json() if root_cause else None,
        }
        value.update(extra or {})
        self._write_json(STOP_FILE, value)


def _numbered(name: str, number: int) -> str:
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{number}{dot}{suffix}"


class FactsSaver:
    """Keeps `facts.json` current without writing it on every line: at most once per `every_s`, off the loop.

    `changed(facts)` marks the newest value; a write is scheduled unless one is
    pending; `flush()` writes the newest value now (at the end of a run). A
    failed write is reported once through `on_problem` and the saver goes quiet.
    """

    def __init__(self, evidence: RunEvidence, every_s: float, on_problem: Any) -> None:
        self._evidence = evidence
        self._every_s = every_s
        self._on_problem = on_problem
        self._latest: Mapping[str, Any] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None
        self._failed = False

    def changed(self, facts: Mapping[str, Any]) -> None:
        self._latest = facts
        if self._handle is None and not self._failed:
            self._handle = asyncio.get_running_loop().call_later(self._every_s, self._start_write)

    def _start_write(self) -> None:
        self._handle = None
        if self._writing is None or self._writing.done():
            self._writing = asyncio.ensure_future(self._write())
        else:  # a slow disk: try again after the write in progress
            self._handle = asyncio.get_running_loop().call_later(self._every_s, self._start_write)

    async def _write(self) -> None:
        facts, self._latest = self._latest, None
        if facts is None or self._failed:
            return
        try:
            await asyncio.to_thread(self._evidence.record_facts, facts)
        except EvidenceError as error:
            self._failed = True
            self._on_problem(str(error))

    async def flush(self, facts: Mapping[str, Any]) -> None:
        """Write `facts` now (after any write in progress); later `changed` calls are ignored."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._writing is not None:
            await asyncio.shield(self._writing)
        self._latest = facts
        await self._write()
        self._failed = True  # closed: a late batch of an old run must not overwrite the final facts

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._failed = True
