"""Where a console session's evidence lives on disk.

Each console session gets one run directory,
`<runs root>/<profile>/<YYYYmmdd-HHMMSS>/`, and everything the session produces
(server log, facts, chats, stage results, reports) lands inside it. The folder
is created with a `run.json` that says what the session was; the folder name is
made unique if two sessions start in the same second.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui import __version__
from tui.clock import Clock
from tui.files.atomic import atomic_write_json

RUN_META = "run.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A profile name made safe as one path component (`a/b c` -> `a_b_c`)."""
    cleaned = _UNSAFE.sub("_", name).strip("._")
    return cleaned or "unnamed"


@dataclass(frozen=True)
class RunInfo:
    """One run directory as found on disk."""

    path: Path
    profile: str
    started: str | None
    meta: Mapping[str, Any]


def create_run_dir(
    runs_root: Path,
    profile_name: str,
    clock: Clock,
    extra_meta: Mapping[str, Any] | None = None,
) -> Path:
    """Create and return a fresh run directory for `profile_name` under `runs_root`."""
    started = clock.now()
    parent = runs_root / safe_name(profile_name)
    parent.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        candidate = parent / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        meta: dict[str, Any] = {
            "profile": profile_name,
            "started": started.isoformat(timespec="seconds"),
            "host": socket.gethostname(),
            "npu_console_version": __version__,
        }
        meta.update(extra_meta or {})
        atomic_write_json(candidate / RUN_META, meta)
        return candidate
    raise FileExistsError(f"could not find a free run directory name under {parent}")


def list_runs(runs_root: Path, profile_name: str | None = None) -> list[RunInfo]:
    """Run directories under `runs_root` (one profile's, or all), newest first.

    A folder whose `run.json` is missing or unreadable is still listed (its
    evidence is still there), with empty metadata.
    """
    if profile_name is not None:
        profile_dirs = [runs_root / safe_name(profile_name)]
    else:
        profile_dirs = sorted(p for p in runs_root.iterdir() if p.is_dir()) if runs_root.is_dir() else []
    runs: list[RunInfo] = []
    for profile_dir in profile_dirs:
        if not profile_dir.is_dir():
            continue
        for run_dir in profile_dir.iterdir():
            if not run_dir.is_dir():
                continue
            meta = _read_meta(run_dir / RUN_META)
            started = meta.get("started")
            runs.append(
                RunInfo(
                    path=run_dir,
                    profile=str(meta.get("profile", profile_dir.name)),
                    started=started if isinstance(started, str) else None,
                    meta=meta,
                )
            )
    runs.sort(key=lambda run: run.path.name, reverse=True)
    return runs


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
