"""The report's content as plain values: sections of blocks (paragraph, table, code, list) citing their files.

The same values are written as `report.json` and drawn as Markdown, so both say exactly the same. A
block's `sources` are paths relative to the report's folder (absolute when on another tree).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tui.report.collect import LaunchEvidence, RunEvidence, StageEvidence
from tui.report.i18n import Text

Block = dict[str, Any]
DASH = "—"


class Cite:
    """Turns evidence paths into the strings a report cites: relative to where the report is written."""

    def __init__(self, base: Path) -> None:
        self.base = base.resolve()

    def one(self, path: Path) -> str:
        resolved = path.resolve()
        try:
            return os.path.relpath(resolved, self.base)
        except ValueError:
            return str(resolved)

    def __call__(self, *paths: Path | None) -> list[str]:
        seen: list[str] = []
        for path in paths:
            if path is not None and self.one(path) not in seen:
                seen.append(self.one(path))
        return seen


@dataclass
class Context:
    """What every section builder gets: the evidence, the language, the citer, defaults for commands."""

    runs: list[RunEvidence]
    text: Text
    cite: Cite
    url: str = "http://127.0.0.1:8000"
    profile: str | None = None
    notes: list[str] = field(default_factory=list)

    def launches(self) -> list[LaunchEvidence]:
        """Every launch in every run folder, in order."""
        return [launch for run in self.runs for launch in run.launches]

    def launch_during(self, stage: StageEvidence) -> LaunchEvidence | None:
        """The launch that was serving when `stage` started (its start inside the launch's start and stop,
        and the same server URL when both name one); None when no launch's window holds it."""
        began = _moment(stage.started)
        if began is None:
            return None
        url = (stage.result or {}).get("url")
        for launch in self.launches():
            start = _moment((launch.launch or {}).get("started"))
            end = _moment((launch.stop or {}).get("at"))
            served = (launch.launch or {}).get("url")
            if start is None or began < start or (end is not None and began > end):
                continue
            if isinstance(url, str) and isinstance(served, str) and url.rstrip("/") != served.rstrip("/"):
                continue
            return launch
        return None

    def stage_label(self, run: RunEvidence, stage: StageEvidence) -> str:
        """What a stage run is called in a table: its own label, else the launch it ran against, else its folder."""
        own = (stage.result or {}).get("label")
        if own:
            return str(own)
        launch = self.launch_during(stage)
        if launch is not None:
            return launch.label
        return run.label if run.launches else stage.folder.name

    def profile_flag(self) -> str:
        return f" --profile {self.profile}" if self.profile else ""


def _moment(text: Any) -> datetime | None:
    """An ISO time with its zone, or None (a time without a zone cannot be compared with one that has it)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def paragraph(text: str, sources: Sequence[str] = ()) -> Block:
    return {"type": "paragraph", "text": text, "sources": list(sources)}


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], sources: Sequence[str] = (),
          caption: str | None = None) -> Block:
    return {"type": "table", "caption": caption, "columns": list(columns),
            "rows": [[cell_text(cell) for cell in row] for row in rows], "sources": list(sources)}


def code(text: str, lang: str = "text", sources: Sequence[str] = (), caption: str | None = None) -> Block:
    return {"type": "code", "caption": caption, "lang": lang, "text": text, "sources": list(sources)}


def bullets(items: Sequence[str], sources: Sequence[str] = ()) -> Block:
    return {"type": "list", "items": list(items), "sources": list(sources)}


def not_run(ctx: Context, what_key: str, command: str) -> Block:
    return {"type": "not_run", "text": ctx.text("not_run_cmd", what=ctx.text(what_key), command=command),
            "command": command, "sources": []}


def section(ctx: Context, key: str, blocks: list[Block]) -> dict[str, Any]:
    """A section; its status is `not_run` when it holds nothing but not-run notes."""
    ran = any(block["type"] != "not_run" for block in blocks)
    return {"id": key, "title": ctx.text(f"s_{key}"), "status": "ok" if ran else "not_run", "blocks": blocks}


def number(value: Any, digits: int = 2) -> str:
    """A figure as printed in a table: integers whole, floats to `digits` places, absent as a dash."""
    if value is None or isinstance(value, bool):
        return DASH if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return DASH
        return f"{value:.{digits}f}"
    return str(value)


def cell_text(value: Any) -> str:
    if isinstance(value, (int, float)) or value is None:
        return number(value)
    return str(value)


def clip(text: str, limit: int) -> str:
    """One table cell's worth: newlines shown as ⏎, cut with an ellipsis."""
    flat = text.replace("\r", "").replace("\n", " ⏎ ").strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def as_dict(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (evidence files are read, not trusted)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` without terminal colour codes and control characters (a log's bytes must not reach a report raw)."""
    return _CONTROL.sub("�", _ANSI.sub("", text.replace("\r\n", "\n")))


def printable_tree(value: Any) -> Any:
    """Every string of a JSON-like value made printable."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {key: printable_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [printable_tree(item) for item in value]
    return value
