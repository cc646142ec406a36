"""The committed session (real runs frozen by `python -m tests.report.session`) and helpers to read reports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "session"
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
GENERATED_AT = "2026-12-07T12:00:00+00:00"


@pytest.fixture
def session_runs() -> list[Path]:
    """The frozen session's run folders, in the order they were made."""
    return sorted((path for path in FIXTURE.glob("*/*") if path.is_dir()), key=lambda path: path.name)


def tables(report: dict[str, Any], section: str) -> list[dict[str, Any]]:
    (found,) = [item for item in report["sections"] if item["id"] == section]
    return [block for block in found["blocks"] if block["type"] == "table"]


def row(table: dict[str, Any], first: str) -> list[str]:
    (found,) = [item for item in table["rows"] if item[0] == first]
    return list(found)


def markdown_table_cell(markdown: str, first: str, column: int) -> str:
    """The `column`-th cell of the Markdown table row whose first cell is `first`."""
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells and cells[0] == first:
            return cells[column]
    raise AssertionError(f"no table row {first!r}")
