"""One key runs the accuracy stage from the Stages area, with the running accuracy on its status line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.text import Text

from tests.ui.helpers import capture_notes, wait_until
from tests.ui.test_server_area import demo_console, launch_ready, plain
from tui.app import NpuConsoleApp
from tui.processes.tree import stop_tree
from widgets.stages_view import StagesView

pytestmark = pytest.mark.slow


@pytest.fixture
def console(tmp_path: Path) -> Iterator[NpuConsoleApp]:
    app = demo_console(tmp_path)
    yield app
    for pid in app.session.launched_pids:
        stop_tree(pid, with_group=True)


async def test_g_runs_gsm8k_against_the_launched_server(console: NpuConsoleApp) -> None:
    app = console
    notes = capture_notes(app)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("g")  # no server yet: a notice, no stage
        await wait_until(pilot, lambda: any("No server is ready" in note for note in notes), what="the notice")
        await launch_ready(app, pilot)
        view = app.main.query_one(StagesView)
        lines: list[str] = []
        show_stage = view.show_stage

        def record(line: Text, done: int | None, total: int | None, running: bool) -> None:
            lines.append(line.plain)
            show_stage(line, done, total, running)

        view.show_stage = record  # type: ignore[method-assign]
        await pilot.press("g")
        await wait_until(pilot, lambda: "accuracy: succeeded" in plain(app, "#stage-status"), timeout=90,
                         what="the accuracy run to finish")
        assert any(re.search(r"/20 problem.* · accuracy \d+\.\d\d %", line) for line in lines), lines
        run_dir = app.session.run_dir
        assert run_dir is not None
        (folder,) = [p for p in run_dir.iterdir() if p.is_dir() and p.name.startswith("accuracy")]
        result = json.loads((folder / "result.json").read_text())
        assert result["limit"] == 20 and result["total"] + result["failed_requests"] == 20  # demo.toml limit = 20
        assert result["settings"]["max_tokens"] == 64 and result["mode"] == "chat"
        assert len((folder / "items.jsonl").read_text().splitlines()) == 20
        assert "accuracy" in plain(app, "#stage-result")
