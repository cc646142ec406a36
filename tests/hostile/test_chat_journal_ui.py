"""Issue 14 finding 1 (chat): with the runs folder on a full disk or a read-only file system the reply
still arrives, and the journal's trouble is one sentence — never a crash, a lost reply or half a record."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from tests.hostile.helpers import fill, tmpfs
from tests.sim.harness import SimServer
from tests.ui.helpers import FixedHost, capture_notes, wait_until
from tui.app import NpuConsoleApp, make_app
from tui.profile import load_profile, shipped_profiles_dir
from tui.sim.demo import DemoHost, prepare_demo_host
from tui.startup.session import ConsoleSession
from widgets.chat_turn import ChatTurn


@pytest.fixture
def host(tmp_path: Path) -> DemoHost:
    return prepare_demo_host(tmp_path / "sim")


@pytest.fixture
def served(host: DemoHost, tmp_path: Path) -> Iterator[SimServer]:
    server = SimServer(host, tmp_path / "server.log").start(
        "Qwen2.5-0.5B-Instruct", env={"NPU_CONSOLE_SIM_TPOT_MS": "0", "NPU_CONSOLE_SIM_TTFT_MS": "0"})
    server.wait_ready()
    yield server
    server.kill()


def _console(runs: Path, host: DemoHost, server: SimServer) -> NpuConsoleApp:
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    profile = replace(profile, server=replace(profile.server, port=server.port, served_model_name=None))
    session = ConsoleSession(profile=profile, runs_root=runs, env=host.env(dict(os.environ)), simulated=True)
    return make_app(session, host_sampler=FixedHost())


async def _chat(app: NpuConsoleApp, pilot, text: str) -> ChatTurn:  # type: ignore[no-untyped-def]
    await pilot.press("3", "enter")
    box = app.main.query_one("#prompt", Input)
    box.value = text
    await pilot.press("enter")

    def finished() -> bool:
        shown = list(app.main.query(ChatTurn))
        return bool(shown) and "tok/s" in str(shown[-1].query_one(".stats", Static).content)

    await wait_until(pilot, finished, timeout=30, what="the finished reply")
    return list(app.main.query(ChatTurn))[-1]


async def test_a_full_disk_keeps_the_reply_and_says_the_journal_failed(
    tmp_path: Path, host: DemoHost, served: SimServer
) -> None:
    with tmpfs(tmp_path / "runs", size="128k") as runs:
        app = _console(runs, host, served)
        notes = capture_notes(app)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_until(pilot, lambda: app.session.run_dir is not None, what="the run folder")
            first = await _chat(app, pilot, "say hi")
            assert first.answer_text.strip()
            fill(runs)
            second = await _chat(app, pilot, "say hi again")
            assert second.answer_text.strip(), "the reply arrived although the journal could not take it"
            await wait_until(pilot, lambda: any("was not saved" in note for note in notes), what="the sentence")
            assert app.is_running
        said = [note for note in notes if "was not saved" in note]
        assert all("the disk is full" in note and "chat.jsonl" in note for note in said)
        run_dir = app.session.run_dir
        assert run_dir is not None
        records = [json.loads(line) for line in (run_dir / "chat.jsonl").read_text().splitlines()]
        assert [r["type"] for r in records][:2] == ["request", "reply"]  # whole records only, none cut


async def test_a_read_only_runs_folder_still_chats(tmp_path: Path, host: DemoHost, served: SimServer) -> None:
    with tmpfs(tmp_path / "ro", read_only=True) as runs:
        app = _console(runs, host, served)
        notes = capture_notes(app)
        async with app.run_test(size=(160, 45)) as pilot:
            turn = await _chat(app, pilot, "say hi")
            assert turn.answer_text.strip()
            assert app.is_running
        assert any(note.startswith("This chat is not saved: no run folder (the file system is read-only")
                   for note in notes)
