"""Past stage runs found in a run directory, for "Show runs" and the report."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.processes.commands import pid_exists
from tui.stages.runner.evidence import RESULT_FILE, STAGE_META


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


def _read_json_object(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


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
        meta = _read_json_object(folder / STAGE_META) or {}
        result = _read_json_object(folder / RESULT_FILE)
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
