"""From the console: launch, `e` gathers the inference evidence, `W` writes the session's report."""

from __future__ import annotations

import io
import json
import os
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from textual.widgets import Static

from tests.sim.harness import INSTANT, free_port
from tests.ui.helpers import FixedHost, capture_notes, confirm, wait_until
from tui.app import NpuConsoleApp, make_app
from tui.profile import load_profile, shipped_profiles_dir
from tui.screens.preflight import PreflightScreen
from tui.sim.demo import prepare_demo_host
from tui.startup.session import ConsoleSession


def stage_result(app: NpuConsoleApp) -> str:
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(app.main.query_one("#stage-result", Static).content)
    return console.export_text()


def demo_console(tmp_path: Path) -> NpuConsoleApp:
    demo = prepare_demo_host(tmp_path / "sim")
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    profile = replace(profile, server=replace(profile.server, port=free_port()))
    session = ConsoleSession(profile=profile, runs_root=tmp_path / "runs", env=demo.env({**os.environ, **INSTANT}),
                             simulated=True, variant="eager")
    return make_app(session, host_sampler=FixedHost(), device_interval_s=0.5)


async def test_e_then_w_writes_the_report_of_the_session(tmp_path: Path) -> None:
    app = demo_console(tmp_path)
    notes = capture_notes(app)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("W")  # nothing ran yet: a report that says so
        await wait_until(pilot, lambda: any("report.md" in note for note in notes), what="the first report")
        run_dir = app.session.run_dir
        assert run_dir is not None
        first = json.loads((run_dir / "report.json").read_text())
        assert {section["id"]: section["status"] for section in first["sections"]}["inference"] == "not_run"

        await wait_until(pilot, lambda: app.devices.state is not None and app.devices.state.snapshot is not None,
                         what="the first device reading")
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, PreflightScreen), what="the preflight checklist")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.server.status.state == "ready", timeout=30, what="the server ready")
        await pilot.press("e")
        await wait_until(pilot, lambda: any((folder / "result.json").exists()
                                            for folder in run_dir.glob("evidence-*")), timeout=60,
                         what="the evidence stage's result")
        await wait_until(pilot, lambda: "answered the same twice at temperature 0" in stage_result(app),
                         what="the evidence result drawn")
        assert "yes" in stage_result(app) and "chat HTTP 200" in stage_result(app)
        await pilot.press("R")  # a second launch in the same session: its files are kept apart (launch.1.json …)
        await wait_until(pilot, lambda: isinstance(app.screen, PreflightScreen), timeout=40, what="the preflight")
        await pilot.press("enter")
        await wait_until(pilot, lambda: (run_dir / "launch.1.json").exists() and app.server.status.state == "ready",
                         timeout=40, what="the relaunch ready")
        notes.clear()
        await pilot.press("W")
        await wait_until(pilot, lambda: any("report.md" in note for note in notes), timeout=30, what="the report")
        await wait_until(pilot, lambda: (run_dir / "environment.json").exists(), timeout=30,
                         what="the launch's environment.json")
        await pilot.press("s")
        await confirm(pilot)
        await wait_until(pilot, lambda: app.server.status.state == "stopped", timeout=40, what="the server stopped")
    report = json.loads((run_dir / "report.en.json").read_text())
    status = {section["id"]: section["status"] for section in report["sections"]}
    assert status["inference"] == "ok" and status["precision"] == "not_run"
    (startup,) = [block for block in next(section for section in report["sections"] if section["id"] == "performance")
                  ["blocks"] if block["type"] == "table" and block["caption"].startswith("Start-up")]
    assert [row[0] for row in startup["rows"]] == ["eager", "eager (2)"]
    log = (run_dir / "server.log").read_text()
    assert log.count("Application startup complete.") == 2
    second = json.loads((run_dir / "launch.json").read_text())["log_offset"]
    ready_lines = [row[1] for phase_table in [block for block in next(
        section for section in report["sections"] if section["id"] == "inference")["blocks"]
        if block["type"] == "table" and "phases" in (block["caption"] or "").lower()]
        for row in phase_table["rows"] if row[0] == "ready"]
    assert len(ready_lines) == 2 and int(ready_lines[1]) > log[:second].count("\n"), \
        "the second launch's phases are read from its own lines of server.log"
    chinese = (run_dir / "report.md").read_text()
    assert chinese.startswith("# 验证报告：") and "**启动：eager**" in chinese and "**启动：eager (2)**" in chinese
    english = (run_dir / "report.en.md").read_text()
    assert "Fixed prompts at temperature 0, each sent twice" in english and (run_dir / "report.en.json").exists()
