"""Regenerate the SVG screenshots in this folder (they are embedded in the README).

Run: `.venv/bin/python screenshots/make_screenshots.py [SCENE …]` (all scenes when none is named)

Each picture is the real console in `--demo`, driven headless by Pilot, with the
wall clock and the host readings fixed and the simulated host frozen, so that a
re-run changes a picture only when the UI changed.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from rich.console import Console  # noqa: E402
from textual.pilot import Pilot  # noqa: E402
from textual.widgets import DataTable, OptionList, Static  # noqa: E402

from tests.ui.helpers import demo_app, wait_until  # noqa: E402
from tui.app import NpuConsoleApp  # noqa: E402
from tui.screens.choice import ChoiceScreen  # noqa: E402
from tui.screens.preflight import PreflightScreen  # noqa: E402
from widgets.chat_turn import ChatTurn  # noqa: E402
from widgets.playground_view import PlaygroundView  # noqa: E402

Scene = Callable[[NpuConsoleApp, Pilot[None]], Awaitable[None]]


async def devices_ready(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    await wait_until(pilot, lambda: app.main.query_one("#chips", DataTable).row_count > 0, what="the npu-smi reading")
    await wait_until(pilot, lambda: app.session.run_dir is not None, what="the run directory")
    await pilot.pause(0.2)


async def show_server(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    await devices_ready(app, pilot)
    await pilot.press("2")
    await pilot.pause(0.2)


async def open_palette(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    await devices_ready(app, pilot)
    await pilot.press("ctrl+p")
    await pilot.pause(0.5)


async def open_profile_picker(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    await devices_ready(app, pilot)
    await pilot.press("p")
    await pilot.pause(0.8)


async def open_preflight(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    await devices_ready(app, pilot)
    await pilot.press("l")
    await wait_until(pilot, lambda: isinstance(app.screen, PreflightScreen), what="the preflight checklist")
    await pilot.pause(0.3)


async def server_running(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    await open_preflight(app, pilot)
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.server.status.state == "ready", timeout=60, what="the server ready")
    await wait_until(pilot, lambda: len(app.server.metrics) >= 2, timeout=20, what="two /metrics scrapes")
    await pilot.press("1")
    await pilot.pause(2.5)  # one more device read, with the server's HBM
    await pilot.press("2")
    await pilot.pause(0.5)


async def server_zoomed(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    await server_running(app, pilot)
    await pilot.press("z")
    await pilot.pause(0.5)


async def playground_reply(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    await server_running(app, pilot)
    await pilot.press("3")
    app.post_message(PlaygroundView.SendPrompt("Write a Python function to reverse a string."))
    await wait_until(pilot, lambda: bool(app.main.query(ChatTurn)) and "tok/s" in str(
        app.main.query(ChatTurn).first().query_one(".stats", Static).content), timeout=30, what="the reply")
    await pilot.press("z")
    await pilot.pause(0.5)


async def pick(app: NpuConsoleApp, pilot: Pilot[None], key: str) -> None:
    await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="a choice")
    options = app.screen.query_one(OptionList)
    options.highlighted = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == key)
    await pilot.press("enter")


def shown_text(app: NpuConsoleApp, selector: str) -> str:
    """What a Static shows, as plain text (its content may be a rich Group, whose str() is not its text)."""
    console = Console(width=200, file=io.StringIO())
    with console.capture() as capture:
        console.print(app.main.query_one(selector, Static).content)
    return capture.get()


def stage_status(app: NpuConsoleApp) -> str:
    return shown_text(app, "#stage-status")


async def bench_serve(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    await server_running(app, pilot)
    await pilot.press("b")
    await pick(app, pilot, "serve")
    await wait_until(pilot, lambda: "bench: " in stage_status(app), timeout=120, what="the serve benchmark")
    await pilot.press("z")
    await pilot.pause(0.5)


async def bench_compare(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    await devices_ready(app, pilot)
    await pilot.press("b")
    await pick(app, pilot, "variants")
    await pick(app, pilot, "eager")
    await pick(app, pilot, "graph")
    seen: list[object] = []
    for _ in range(2):  # each variant's own preflight (a new screen each time), confirmed with Enter
        await wait_until(pilot, lambda: isinstance(app.screen, PreflightScreen) and app.screen not in seen,
                         timeout=60, what="the preflight")
        seen.append(app.screen)
        await pilot.press("enter")
    await wait_until(pilot, lambda: "eager → graph" in shown_text(app, "#stage-result"), timeout=180,
                     what="the comparison")
    await pilot.press("z")
    await pilot.pause(0.5)


async def precision_check(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    """The precision stage on a tiny real Qwen2 built here (the simulated model folder has no weights)."""
    from tests.real_server import build_tiny_qwen2

    await devices_ready(app, pilot)
    profile = app.session.profile
    assert profile is not None and app.session.run_dir is not None
    model_dir = app.session.run_dir.parent / "tiny-qwen2"
    if not model_dir.exists():
        build_tiny_qwen2(model_dir)
    app.session.update_profile(replace(profile, model=replace(profile.model, path=str(model_dir))))
    await pilot.press("P")
    await pick(app, pilot, "local")
    await wait_until(pilot, lambda: "precision: " in stage_status(app), timeout=300, what="the precision check")
    await pilot.press("z")
    await pilot.pause(0.5)


async def stop_question(app: NpuConsoleApp, pilot: Pilot[None]) -> None:
    """`s` while serving: the question that typing cannot answer (focus on Cancel)."""
    await server_running(app, pilot)
    app.clear_notifications()
    await pilot.press("s")
    await pilot.pause(0.5)


async def stop_server(app: NpuConsoleApp) -> None:
    if app.server.status.ours_running:
        await app.server.stop()


SCENES: dict[str, tuple[tuple[int, int], Scene]] = {
    "main-200x50": ((200, 50), devices_ready),
    "main-80x24": ((80, 24), devices_ready),
    "server-80x24": ((80, 24), show_server),
    "palette-120x36": ((120, 36), open_palette),
    "profiles-120x36": ((120, 36), open_profile_picker),
    "preflight-120x40": ((120, 40), open_preflight),
    "preflight-80x24": ((80, 24), open_preflight),
    "stop-80x24": ((80, 24), stop_question),
    "serving-200x50": ((200, 50), server_running),
    "server-log-160x45": ((160, 45), server_zoomed),
    "playground-120x36": ((120, 36), playground_reply),
    "bench-serve-160x45": ((160, 45), bench_serve),
    "bench-compare-160x45": ((160, 45), bench_compare),
    "precision-160x50": ((160, 50), precision_check),
}


async def shoot(name: str, size: tuple[int, int], scene: Scene, root: Path) -> Path:
    app = demo_app(root / "runs", frozen=True)
    async with app.run_test(size=size) as pilot:
        try:
            await scene(app, pilot)
            path = app.save_screenshot(filename=f"{name}.svg", path=str(HERE))
        finally:
            await stop_server(app)
    return Path(path)


async def main() -> None:
    root = Path(tempfile.gettempdir()) / "npu-console-screenshots"
    shutil.rmtree(root, ignore_errors=True)
    os.environ.update({
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CONFIG_HOME": str(root / "config"),
        "NPU_CONSOLE_SIM_HOME": str(root / "sim"),
        "NPU_CONSOLE_SIM_FROZEN": "1",
        "NPU_CONSOLE_SIM_SPEED": "0.1",
    })
    os.chdir(root.parent)
    only = set(sys.argv[1:])  # scene names to shoot; all when none are given
    for name, (size, scene) in SCENES.items():
        if not only or name in only:
            print(await shoot(name, size, scene, root))


if __name__ == "__main__":
    asyncio.run(main())
