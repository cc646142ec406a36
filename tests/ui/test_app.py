"""The console driven headless with Pilot, against the simulated host (real subprocesses)."""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

from textual.widgets import DataTable, OptionList, Static

from tests.ui.helpers import demo_app, wait_until
from tui.app import NpuConsoleApp
from tui.profile import load_profile, shipped_profiles_dir
from tui.screens.choice import ChoiceScreen
from tui.screens.main import MainScreen
from tui.startup.session import ConsoleSession
from widgets.devices_view import DevicesView

AREA_IDS = ("devices", "server", "playground", "stages")


def text_of(app: NpuConsoleApp, selector: str) -> str:
    """The plain text a Static shows (whatever kind of renderable it holds)."""
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(app.main.query_one(selector, Static).content)
    return console.export_text()


def devices_read(app: NpuConsoleApp) -> bool:
    return app.main.query_one("#chips", DataTable).row_count > 0


async def test_demo_shows_four_areas_header_and_simulated_npu_smi(tmp_path: Path) -> None:
    app = demo_app(tmp_path / "runs")
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: devices_read(app), what="the first npu-smi reading")
        screen = app.main
        assert isinstance(screen, MainScreen)
        assert not screen.has_class("-compact")
        for area_id in AREA_IDS:
            assert screen.area(area_id).display, f"{area_id} should be visible at 200x50"
        header = text_of(app, "#header")
        assert "demo" in header and "SIMULATED HOST" in header and "http://127.0.0.1:" in header
        chips = app.main.query_one("#chips", DataTable)
        assert chips.row_count == 8
        first = [str(cell) for cell in chips.get_row_at(0)]
        assert first[1:5] == ["0/0", "0", "910B3", "OK"]
        assert first[0] == "▶", "ASCEND_RT_VISIBLE_DEVICES=0 in the demo profile marks chip 0"
        assert "/65536" in first[5]
        assert "npu-smi 24.1.0" in text_of(app, "#status")
        launch = text_of(app, "#server-facts")
        assert "vllm serve" in launch
        assert str(app.session.sim_home) in launch, "the model path is expanded against the session env"
        await wait_until(pilot, lambda: app.session.run_dir is not None, what="the run directory")
        run_dir = app.session.run_dir
        assert run_dir is not None and run_dir.parent.parent == tmp_path / "runs"
        assert json.loads((run_dir / "run.json").read_text())["simulated"] is True
        await wait_until(pilot, lambda: str(run_dir) in text_of(app, "#run-dir"), what="the run dir shown")


async def test_compact_layout_shows_one_area_and_switches_with_number_keys(tmp_path: Path) -> None:
    app = demo_app(tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.main
        await pilot.pause()
        assert screen.has_class("-compact")
        visible = [area_id for area_id in AREA_IDS if screen.area(area_id).display]
        assert visible == ["devices"]
        for key, area_id in zip("2341", ("server", "playground", "stages", "devices"), strict=True):
            await pilot.press(key)
            visible = [a for a in AREA_IDS if screen.area(a).display]
            assert visible == [area_id]
            assert app.focused is screen.area(area_id).focus_target()
        assert "1 Devices" in text_of(app, "#area-tabs")


async def test_zoom_gives_the_active_area_the_window(tmp_path: Path) -> None:
    app = demo_app(tmp_path / "runs")
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("2", "z")
        assert app.main.maximized is app.main.area("server")
        await pilot.press("z")
        assert app.main.maximized is None


async def test_switch_variant_changes_the_launch_command(tmp_path: Path) -> None:
    app = demo_app(tmp_path / "runs")
    async with app.run_test(size=(200, 50)) as pilot:
        profile = app.session.profile
        assert profile is not None and "eager" in profile.variants
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the variant picker")
        options = app.screen.query_one(OptionList)
        eager_index = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == "eager")
        options.highlighted = eager_index
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.session.variant == "eager", what="the variant switch")
        assert "--enforce-eager" in text_of(app, "#server-facts")
        assert "eager" in text_of(app, "#header")


async def test_palette_switches_profile(tmp_path: Path) -> None:
    app = demo_app(tmp_path / "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        first_run_dir_seen = None
        await wait_until(pilot, lambda: app.session.run_dir is not None, what="the first run dir")
        first_run_dir_seen = app.session.run_dir
        await pilot.press("ctrl+p")
        await pilot.press(*"Switch profile")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the profile picker")
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id or "" for i in range(options.option_count)]
        target = next(i for i, option_id in enumerate(ids) if option_id.endswith("qwen2-0.5b-base-ascend.toml"))
        options.highlighted = target
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: app.session.profile is not None and app.session.profile.name == "qwen2-0.5b-base-ascend",
            what="the profile switch",
        )
        assert "qwen2-0.5b-base-ascend" in text_of(app, "#header")
        await wait_until(pilot, lambda: app.session.run_dir not in (None, first_run_dir_seen),
                         what="a new run dir for the new profile")


async def test_palette_lists_only_commands_that_exist(tmp_path: Path) -> None:
    app = demo_app(tmp_path / "runs")
    async with app.run_test(size=(120, 40)):
        for command in app.console_commands():
            action_name = command.action.split("(")[0]
            assert hasattr(app, f"action_{action_name}"), f"palette entry {command.title!r} has no action"


async def test_without_a_profile_the_picker_opens(tmp_path: Path) -> None:
    session = ConsoleSession(profile=None, runs_root=tmp_path / "runs", env={"PATH": "/nonexistent"})
    app = NpuConsoleApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the profile picker")
        await pilot.press("escape")
        assert "none chosen" in text_of(app, "#header")


async def test_missing_device_tool_is_explained(tmp_path: Path) -> None:
    """A host without the driver (and no demo shims on PATH): the area says what to do."""
    profile = load_profile(shipped_profiles_dir() / "qwen2.5-coder-0.5b-ascend.toml")
    session = ConsoleSession(profile=profile, runs_root=tmp_path / "runs", env={"PATH": "/nonexistent"})
    app = NpuConsoleApp(session)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: "npu-smi" in text_of(app, "#message"), what="the device tool attempt")
        message = text_of(app, "#message")
        assert "Neither npu-smi nor nvidia-smi was found" in message
        assert "--demo" in message
        assert app.main.query_one(DevicesView) is not None



async def test_demo_moves_off_a_busy_port(tmp_path: Path) -> None:
    holder = socket.socket()
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # binds even over a TIME_WAIT leftover
        try:
            holder.bind(("127.0.0.1", 8000))
            holder.listen()  # a server there: busy (a socket lingering in TIME_WAIT is not)
        except OSError:
            pass  # something else holds 8000 already: just as busy
        app = demo_app(tmp_path / "runs")
        profile = app.session.profile
        assert profile is not None and profile.server.port != 8000
        assert app.session.startup_note is not None and "Port 8000 is busy" in app.session.startup_note
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.pause()
            assert f":{profile.server.port}" in text_of(app, "#header")
    finally:
        holder.close()
