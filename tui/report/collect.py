"""Everything a report may use, read from run folders: each piece with the file it came from.

A run folder (`runs/<profile>/<timestamp>/`) holds `run.json`, a launch's `launch.json`, `launch.sh`,
`server.log` and `facts.json`, `environment.json`, comparisons (`compare-*.json`), the playground's
`chat.jsonl`, and one folder per stage run (`stage.json`, `result.json`, `events.jsonl`). Files that are
missing or unreadable are simply absent here; the report says what was not run. Reads are bounded.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tui.processes.commands import pid_exists
from tui.stages.runner import EVENTS_FILE, RESULT_FILE, STAGE_META

JSON_LIMIT = 64 * 1024 * 1024
LOG_LIMIT = 256 * 1024 * 1024
"""A server log larger than this is read up to here: the start-up phases are at its beginning."""
WARNINGS_KEPT = 20


def _regular(path: Path) -> bool:
    """Only regular files are read: a FIFO or a device under a run folder's names must not hang the report."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing, too large, not a regular file or not JSON."""
    try:
        if not _regular(path) or path.stat().st_size > JSON_LIMIT:
            return None
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError):
        return None


def read_text(path: Path, limit: int = 1024 * 1024) -> str | None:
    if not _regular(path):
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return None


@dataclass
class LaunchEvidence:
    """One server launch: what was run, what the log said, how start-up went, how it ended."""

    label: str = ""
    launch: dict[str, Any] | None = None
    launch_path: Path | None = None
    script: str | None = None
    script_path: Path | None = None
    facts: dict[str, Any] | None = None
    facts_path: Path | None = None
    stop: dict[str, Any] | None = None
    stop_path: Path | None = None
    phases: list[dict[str, Any]] = field(default_factory=list)
    key_lines: list[tuple[int, str]] = field(default_factory=list)
    log_path: Path | None = None


@dataclass
class StageEvidence:
    """One stage run: its name, how it ended, its result and the warnings it logged."""

    name: str
    state: str
    folder: Path
    started: str | None
    seconds: float | None
    error: str | None
    result: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)

    @property
    def result_path(self) -> Path:
        return self.folder / "result.json"


@dataclass
class RunEvidence:
    """One run folder's evidence."""

    path: Path
    meta: dict[str, Any]
    launches: list[LaunchEvidence]
    environment: dict[str, Any] | None
    environment_path: Path | None
    stages: list[StageEvidence]
    comparisons: list[tuple[dict[str, Any], Path]]
    chat_lines: int

    def stages_named(self, name: str) -> list[StageEvidence]:
        return [stage for stage in self.stages if stage.name == name]

    @property
    def label(self) -> str:
        """The variant of the last launch when it names one, else the session's, else the folder's name."""
        if self.launches:
            return self.launches[-1].label
        return str(self.meta.get("variant") or self.path.name)


def _log_facts(log: Path, start: int, end: int | None) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """The facts and phases of bytes [start, end) of the log, and how many lines come before `start`."""
    from tui.server.logfacts import LogFacts

    reader = LogFacts(collect_events=False)
    base = 0
    with open(log, "rb") as handle:
        skipped = 0
        while skipped < start:
            chunk = handle.read(min(1 << 20, start - skipped))
            if not chunk:
                break
            skipped += len(chunk)
            base += chunk.count(b"\n")
        read = 0
        limit = LOG_LIMIT if end is None else min(LOG_LIMIT, end - start)
        while read < limit:
            chunk = handle.read(min(1 << 20, limit - read))
            if not chunk:
                break
            read += len(chunk)
            reader.feed(chunk.decode("utf-8", errors="replace"))
    reader.close()
    return reader.facts(), [phase.to_json() for phase in reader.phases()], base


def _lines_at(log: Path, numbers: set[int], limit: int = 300) -> list[tuple[int, str]]:
    """The text of the given 1-based lines of `log` (cut to `limit` characters)."""
    found: list[tuple[int, str]] = []
    if not numbers:
        return found
    last = max(numbers)
    with open(log, encoding="utf-8", errors="replace", newline="\n") as handle:
        for number, line in enumerate(handle, start=1):
            if number in numbers:
                found.append((number, line.rstrip("\r\n")[:limit]))
            if number >= last:
                break
    return found


def _numbers(run_dir: Path) -> list[str]:
    """The suffixes of the launches in `run_dir`, oldest first: `.1`, `.2`, …, then `` (the latest)."""
    kept = []
    for path in run_dir.glob("launch.*.json"):
        middle = path.name[len("launch."):-len(".json")]
        if middle.isdigit():
            kept.append(int(middle))
    suffixes = [f".{number}" for number in sorted(kept)]
    if (run_dir / "launch.json").exists() or (run_dir / "server.log").exists():
        suffixes.append("")
    return suffixes


def read_launches(run_dir: Path) -> list[LaunchEvidence]:
    """Every launch in `run_dir` (a session may launch several times: a variant sweep), oldest first."""
    launches: list[LaunchEvidence] = []
    for suffix in _numbers(run_dir):
        evidence = LaunchEvidence()
        launch = read_json(run_dir / f"launch{suffix}.json")
        if isinstance(launch, dict):
            evidence.launch, evidence.launch_path = launch, run_dir / f"launch{suffix}.json"
        script = read_text(run_dir / f"launch{suffix}.sh")
        if script is not None:
            evidence.script, evidence.script_path = script, run_dir / f"launch{suffix}.sh"
        stop = read_json(run_dir / f"stop{suffix}.json")
        if isinstance(stop, dict):
            evidence.stop, evidence.stop_path = stop, run_dir / f"stop{suffix}.json"
        saved = read_json(run_dir / f"facts{suffix}.json")
        if isinstance(saved, dict):
            evidence.facts, evidence.facts_path = saved, run_dir / f"facts{suffix}.json"
        launches.append(evidence)
    log = run_dir / "server.log"
    if not _regular(log):
        return [item for item in launches if item.launch or item.script or item.facts]
    offsets = [_offset(item.launch) for item in launches]
    for index, evidence in enumerate(launches):
        if not log.is_file():
            break
        start = offsets[index]
        end = next((offset for offset in offsets[index + 1:] if offset > start), None)
        try:
            facts, evidence.phases, base = _log_facts(log, start, end)
        except OSError:
            continue
        evidence.log_path = log
        numbers = {int(phase["line"]) + base for phase in evidence.phases if isinstance(phase.get("line"), int)}
        for phase in evidence.phases:
            if isinstance(phase.get("line"), int):
                phase["line"] += base
        evidence.key_lines = _lines_at(log, numbers)
        if evidence.facts is None:
            evidence.facts, evidence.facts_path = facts, log
    _label(launches)
    return [item for item in launches if item.launch or item.script or item.facts or item.log_path]


def _offset(launch: dict[str, Any] | None) -> int:
    value = (launch or {}).get("log_offset")
    return value if isinstance(value, int) and value >= 0 else 0


def _label(launches: list[LaunchEvidence]) -> None:
    """Each launch's name: its variant (`eager`, `graph`), numbered when a variant was launched again."""
    seen: dict[str, int] = {}
    for index, item in enumerate(launches, start=1):
        variant = (item.launch or {}).get("variant")
        name = str(variant) if variant else f"launch {index}"
        seen[name] = seen.get(name, 0) + 1
        item.label = name if seen[name] == 1 else f"{name} ({seen[name]})"


def _warnings(folder: Path) -> list[str]:
    text = read_text(folder / EVENTS_FILE, 4 * 1024 * 1024) or ""
    found: list[str] = []
    for line in text.splitlines():
        if '"warning"' not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "log" and event.get("level") == "warning":
            found.append(str(event.get("message", "")))
            if len(found) >= WARNINGS_KEPT:
                break
    return found


def read_stages(run_dir: Path) -> list[StageEvidence]:
    """The stage runs in `run_dir` (folders with a `stage.json`), oldest first (the order they happened in).

    A run recorded as running whose process is gone (the console died with it) is `interrupted`.
    """
    stages: list[StageEvidence] = []
    try:
        folders = sorted(path for path in run_dir.iterdir() if path.is_dir() and _regular(path / STAGE_META))
    except OSError:
        return stages
    for folder in folders:
        meta = read_json(folder / STAGE_META)
        meta = meta if isinstance(meta, dict) else {}
        result = read_json(folder / RESULT_FILE)
        state = str(meta.get("state") or "unknown")
        if state == "running" and not pid_exists(meta.get("pid")):
            state = "interrupted"
        seconds = meta.get("seconds")
        started = meta.get("started")
        error = meta.get("error")
        stages.append(StageEvidence(
            name=str(meta.get("name") or folder.name.rsplit("-", 2)[0]), state=state, folder=folder,
            started=started if isinstance(started, str) else None,
            seconds=float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else None,
            error=error if isinstance(error, str) else None, result=result if isinstance(result, dict) else None,
            warnings=_warnings(folder)))
    stages.sort(key=lambda stage: (stage.started or "", stage.folder.name))
    return stages


def read_run(run_dir: Path) -> RunEvidence:
    """All the evidence of one run folder (a folder that is not one gives an empty evidence)."""
    meta = read_json(run_dir / "run.json")
    stages = read_stages(run_dir)
    environment_path: Path | None = run_dir / "environment.json"
    environment = read_json(environment_path) if environment_path is not None else None
    if not isinstance(environment, dict):
        environment, environment_path = None, None
        for stage in reversed(stages):
            candidate = read_json(stage.folder / "environment.json")
            if isinstance(candidate, dict):
                environment, environment_path = candidate, stage.folder / "environment.json"
                break
    comparisons = []
    for path in sorted(run_dir.glob("compare-*.json")):
        data = read_json(path)
        if isinstance(data, dict):
            comparisons.append((data, path))
    chat = read_text(run_dir / "chat.jsonl", 16 * 1024 * 1024)
    return RunEvidence(
        path=run_dir, meta=meta if isinstance(meta, dict) else {}, launches=read_launches(run_dir),
        environment=environment, environment_path=environment_path, stages=stages, comparisons=comparisons,
        chat_lines=len(chat.splitlines()) if chat else 0,
    )


def is_run_folder(path: Path) -> bool:
    """A folder the console wrote: it has a run.json, a launch, or a stage run."""
    return path.is_dir() and (any((path / name).exists() for name in ("run.json", "launch.json", "server.log"))
                              or any((child / "stage.json").exists() for child in path.iterdir() if child.is_dir()))
