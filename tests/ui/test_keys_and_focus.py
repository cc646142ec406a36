"""Keys go where the operator means them: typing reaches the prompt box, 1 reaches the chip table,
a server's escape sequences never reach the terminal, a screenshot lands in the run folder."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widgets import DataTable, Input, Static

from tests.ui.helpers import demo_app, wait_until
from tests.ui.test_server_area import demo_console, launch_ready
from tui.processes.tree import stop_tree
from widgets.chat_turn import ChatTurn
from widgets.playground_view import PlaygroundView


async def test_typing_after_3_or_esc_goes_to_the_prompt_box_not_the_consoles_keys(tmp_path: Path) -> None:
    app = demo_console(tmp_path)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await launch_ready(app, pilot)
            await pilot.press("3")
            box = app.main.query_one("#prompt", Input)
            await pilot.press(*"say hi please")
            assert box.value == "say hi please" and box.has_focus
            await pilot.press("escape")  # leaves the box
            assert app.focused is not box
            await pilot.press(*" and stop")
            assert box.value == "say hi please and stop"
            await pilot.pause(0.2)
            assert app.screen is app.main, "no dialog (stop, profile) opened"
            assert app.server.status.state == "ready"
            await pilot.press("escape", "2")  # 1–4 still switch areas
            assert app.main.active_area == "server"
    finally:
        for pid in app.session.launched_pids:
            stop_tree(pid, with_group=True)


async def test_a_replys_escape_sequences_are_shown_escaped(tmp_path: Path) -> None:
    app = demo_app(tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.main.query_one(PlaygroundView)
        turn = await view.start_turn("hi\x1b[2J", "you")
        view.update_turn(turn, "\x1b]0;pwned\x07\x1b[2Jhello\x9b", "think\x1b[H")
        turn.finish("stop", "bad \x1b[31m error")
        await pilot.pause(0.1)
        drawn = "".join(str(static.render()) for static in turn.query(Static))
        assert "\x1b" not in drawn and "\x07" not in drawn and "\x9b" not in drawn
        assert "\\x1b]0;pwned\\x07\\x1b[2Jhello\\x9b" in drawn
        assert isinstance(turn, ChatTurn)


async def test_1_focuses_the_chip_table_and_a_screenshot_goes_to_the_run_folder(tmp_path: Path) -> None:
    app = demo_app(tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        chips = app.main.query_one("#chips", DataTable)
        await wait_until(pilot, lambda: chips.row_count > 0, what="the chips")
        await pilot.press("2", "1")
        assert chips.has_focus
        await pilot.press("down")
        assert chips.cursor_row == 1
        app.action_screenshot()
        await wait_until(pilot, lambda: app.session.run_dir is not None
                         and any(p.suffix == ".svg" for p in app.session.run_dir.iterdir()), what="the screenshot")


async def test_without_a_device_tool_the_asking_line_goes(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = str(tmp_path / "empty-bin")
    from tui.app import make_app
    from tui.startup.build import build_session

    session = build_session(profile=None, variant=None, runs_dir=tmp_path / "runs", demo=False, env=env)
    app = make_app(session)
    async with app.run_test(size=(120, 40)) as pilot:
        message = app.main.query_one("#message", Static)
        await wait_until(pilot, lambda: "npu-smi" in str(message.render()), what="the no-tool sentence")
        assert "Asking the device tool" not in str(app.main.query_one("#status", Static).render())
