"""The report of a frozen real session, in both languages, against its committed snapshot.

The run folders under fixtures/session were made by real runs (`python -m tests.report.session`):
`npu-console serve` of the demo profile's eager and graph variants on the simulated host, `evidence` and
`bench serve` against each, `accuracy` against eager, and `precision` on a tiny real model. A change in
the report's content or layout shows as a diff here; set UPDATE_REPORT_SNAPSHOTS=1 to accept it.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.report.conftest import FIXTURE, GENERATED_AT, SNAPSHOTS
from tui.report.build import build_report
from tui.report.render_md import render_markdown

NUMBER = re.compile(r"-?\d+(\.\d+)?")
SECTION_IDS = ["introduction", "environment", "inference", "precision", "performance", "accuracy", "adaptation",
               "notes"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_report_of_a_real_session_matches_its_snapshot(session_runs: list[Path], lang: str) -> None:
    report = build_report(session_runs, lang, FIXTURE, GENERATED_AT)
    markdown = render_markdown(report)
    snapshot = SNAPSHOTS / f"report.{lang}.md"
    if os.environ.get("UPDATE_REPORT_SNAPSHOTS"):
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(markdown, encoding="utf-8")
    assert markdown == snapshot.read_text(encoding="utf-8")
    assert [section["id"] for section in report["sections"]] == SECTION_IDS
    assert all(section["status"] == "ok" for section in report["sections"])
    json.dumps(report)  # the same content is JSON-ready


def test_both_languages_carry_the_same_figures(session_runs: list[Path]) -> None:
    english = build_report(session_runs, "en", FIXTURE, GENERATED_AT)
    chinese = build_report(session_runs, "zh", FIXTURE, GENERATED_AT)
    for ours, theirs in zip(english["sections"], chinese["sections"], strict=True):
        assert [block["type"] for block in ours["blocks"]] == [block["type"] for block in theirs["blocks"]]
        for a, b in zip(ours["blocks"], theirs["blocks"], strict=True):
            assert a["sources"] == b["sources"]
            if a["type"] == "table":
                numeric = [[cell for cell in row if NUMBER.fullmatch(cell)] for row in a["rows"]]
                assert numeric == [[cell for cell in row if NUMBER.fullmatch(cell)] for row in b["rows"]]
            if a["type"] == "code":
                assert a["text"] == b["text"]
