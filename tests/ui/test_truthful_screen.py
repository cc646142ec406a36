"""The screen tells the truth at 80×24 and 120×40: dialogs that fit, results labelled by what runs,
a log pane that shows the server and not the console's own polling."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Button, Log

from tests.ui.helpers import confirm, wait_until
from tests.ui.test_bench_precision_flow import pick, stage_status
from tests.ui.test_server_area import demo_console, launch, launch_ready, plain
from tui.app import NpuConsoleApp
from tui.processes.tree import stop_tree
from tui.screens.confirm import ConfirmScreen
from tui.screens.preflight import PreflightScreen
from tui.server.own_requests import is_own_request
from widgets.key_bar import KeyBar

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def console(tmp_path: Path) -> Iterator[NpuConsoleApp]:
    app = demo_console(tmp_path)
    yield app
    for pid in app.session.launched_pids:
        stop_tree(pid, with_group=True)


def visible(screen: object, widget: Button) -> bool:
    """The whole button is inside the terminal and inside its dialog (not clipped away)."""
    region = widget.region
    size = widget.app.size
    return region.height >= 3 and region.y >= 0 and region.bottom <= size.height - 1 and region.right <= size.width


@pytest.mark.parametrize("size", SIZES)
async def test_preflight_buttons_are_on_screen_and_enter_launches(console: NpuConsoleApp, size: tuple[int, int]
                                                                  ) -> None:
    app = console
    async with app.run_test(size=size) as pilot:
        screen = await launch(app, pilot)
        await pilot.pause(0.1)
        launch_button = screen.query_one("#launch", Button)
        assert visible(screen, launch_button), f"Launch at {launch_button.region} in {app.size}"
        assert visible(screen, screen.query_one("#cancel", Button))
        assert launch_button.has_focus
        keys = str(screen.query_one(KeyBar).render())
        assert "Enter" in keys and "launch" in keys and "Esc" in keys and "cancel" in keys
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.server.status.state == "ready", timeout=30, what="the server ready")


async def test_a_tall_preflight_scrolls_its_body_and_keeps_the_buttons(console: NpuConsoleApp) -> None:
    from tui.server.preflight import Check

    checks = [Check(f"key{i}", f"Check number {i}", "fail" if i % 2 else "warn", "what it found " * 8,
                    "how to fix it " * 5) for i in range(30)]
    app = console
    async with app.run_test(size=(80, 24)) as pilot:
        screen = PreflightScreen(checks, "vllm serve /models/x " + "--flag value " * 40)
        app.push_screen(screen)
        await pilot.pause(0.2)
        for button_id in ("#cancel", "#launch"):
            assert visible(screen, screen.query_one(button_id, Button))
        assert screen.query_one("#cancel", Button).has_focus, "with failed checks the focus starts on Cancel"
        body = screen.query_one("#dialog-body")
        assert body.max_scroll_y > 0, "the checklist scrolls inside the dialog"
        await pilot.press("tab")
        assert screen.query_one("#launch", Button).has_focus
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is not screen, what="the dialog to close")


async def test_typing_into_a_stop_confirmation_cannot_stop_the_server(console: NpuConsoleApp) -> None:
    app = console
    async with app.run_test(size=(80, 24)) as pilot:
        await launch_ready(app, pilot)
        await pilot.press("2", "s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press(*"ay hi please y", "enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), what="the question to close")
        assert app.server.status.state == "ready", "Enter on the focused Cancel said no"
        await pilot.press("v")
        await pick(app, pilot, "graph")
        header = plain(app, "#header")
        assert "serving demo · eager ready · selected graph — R" in header, "the selection fits in 80 columns"
        assert "relaunches" not in header, "the short form at 80 columns"
        await pilot.press("s")
        await confirm(pilot)
        await wait_until(pilot, lambda: app.server.status.state == "stopped", timeout=40, what="the stop")


async def test_a_latency_result_after_v_carries_the_running_variant(console: NpuConsoleApp) -> None:
    app = console
    async with app.run_test(size=(120, 40)) as pilot:
        await launch_ready(app, pilot)  # the demo console starts on eager
        await pilot.press("v")
        await pick(app, pilot, "graph")
        assert app.session.variant == "graph"
        header = plain(app, "#header")
        assert "serving demo · eager" in header and "selected graph" in header and "R relaunches" in header
        await pilot.press("b")
        await pick(app, pilot, "latency")
        await wait_until(pilot, lambda: "bench: succeeded" in stage_status(app), timeout=60,
                         what="the benchmark to finish")
        result_text = plain(app, "#stage-result")
        assert "latency benchmark · eager" in result_text and "graph" not in result_text
        run_dir = app.session.run_dir
        assert run_dir is not None
        (folder,) = [p for p in run_dir.iterdir() if p.is_dir() and p.name.startswith("bench")]
        assert json.loads((folder / "result.json").read_text())["label"] == "eager"


async def test_the_consoles_own_polling_stays_out_of_the_default_log_view(console: NpuConsoleApp) -> None:
    app = console
    async with app.run_test(size=(80, 24)) as pilot:
        await launch_ready(app, pilot)
        await pilot.press("2")

        def polls_logged() -> int:
            return sum(1 for line in app.server.window.shown("all") if "GET /metrics" in line.text)

        await wait_until(pilot, lambda: polls_logged() >= 3, timeout=30, what="three /metrics polls in the log")
        pane_lines = app.main.query_one("#server-log", Log).lines
        assert "Application startup complete." in "\n".join(pane_lines)
        assert not [line for line in pane_lines if "GET /metrics" in line]
        await pilot.press("o")  # shown on request
        await wait_until(pilot, lambda: any("GET /metrics" in line for line in
                                            app.main.query_one("#server-log", Log).lines), what="our polls shown")
        await pilot.press("f")  # "key": the polls are not key lines
        await pilot.pause(0.2)
        assert not [line for line in app.main.query_one("#server-log", Log).lines if "GET /metrics" in line]


def test_own_requests_are_told_from_the_servers_traffic() -> None:
    assert is_own_request('(APIServer pid=2719) INFO:     127.0.0.1:40782 - "GET /metrics HTTP/1.1" 200 OK')
    assert is_own_request('INFO:     127.0.0.1:59054 - "GET /v1/models HTTP/1.1" 200 OK')
    assert is_own_request('INFO:     ::1:59054 - "GET /health HTTP/1.1" 200 OK')
    assert not is_own_request('INFO:     10.0.0.7:40782 - "GET /metrics HTTP/1.1" 200 OK'), "someone else's scrape"
    assert not is_own_request('INFO:     127.0.0.1:40782 - "POST /v1/chat/completions HTTP/1.1" 200 OK')
    assert not is_own_request("INFO 11-21 08:00:03 [model.py:533] Resolved architecture: Qwen2ForCausalLM")


async def test_attach_to_a_dead_log_and_a_dead_url_says_so(console: NpuConsoleApp, tmp_path: Path) -> None:
    from textual.widgets import Input, Static

    from tests.ui.test_server_area import free_port
    from tui.screens.attach import AttachScreen

    log = tmp_path / "old-server.log"
    log.write_text("(APIServer pid=7) INFO:     Application startup complete.\n"
                   "(APIServer pid=7) INFO:     Shutting down\n"
                   "(APIServer pid=7) INFO:     Application shutdown complete.\n")
    os.utime(log, (time.time() - 600, time.time() - 600))
    url = f"http://127.0.0.1:{free_port()}"
    app = console
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), what="the attach dialog")
        screen = app.screen
        screen.query_one("#log-path", Input).value = str(log)
        screen.query_one("#url", Input).value = url
        await pilot.click("#attach")

        def findings() -> str:
            return str(screen.query_one("#findings", Static).render())

        await wait_until(pilot, lambda: "Nothing to attach to" in findings(), what="the findings")
        assert "log ended: shutdown complete" in findings() and "10 min ago" in findings()
        assert f"nothing listens at {url}" in findings()
        assert app.server.status.state == "not started", "nothing alive: not attached without a second word"
        assert "anyway" in str(screen.query_one("#attach", Button).label)
        attach = screen.query_one("#attach", Button)
        assert visible(screen, attach)
        # A Button ignores a click while its first press still shows (Textual's 0.2 s "-active" effect); on a
        # busy machine that effect can outlast the check, so wait for it as a person's second click would.
        await wait_until(pilot, lambda: not attach.has_class("-active"), what="the first press's effect to end")
        await pilot.click("#attach")
        await wait_until(pilot, lambda: app.server.status.state == "attached", what="attached anyway")
        note = str(app.main.query_one("#server-note", Static).render())
        assert "log ended: shutdown complete" in note and "nothing listens" in note


async def test_a_server_left_running_is_offered_by_attach_and_shown_as_attached(tmp_path: Path) -> None:
    from textual.widgets import DataTable, OptionList

    from tests.ui.test_server_area import alive
    from tui.screens.attach import AttachScreen
    from tui.screens.choice import ChoiceScreen
    from tui.server.attach_check import find_left_running

    first = demo_console(tmp_path)
    async with first.run_test(size=(120, 40)) as pilot:
        await launch_ready(first, pilot)
        pid = first.server.status.pid
        assert pid is not None
        await pilot.press("q")
        await pick(first, pilot, "leave")
        await wait_until(pilot, lambda: first._exit, what="the console to quit")
    try:
        (left,) = find_left_running(tmp_path / "runs")
        assert left.pid == pid and left.variant == "eager" and left.log_path.name == "server.log"
        second = demo_console(tmp_path)
        second.session.profile = first.session.profile  # the same port: the left server's URL
        notes: list[str] = []
        async with second.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: second.devices.state is not None, what="the first device reading")
            original = second.notify
            second.notify = lambda message, **kw: (notes.append(message), original(message, **kw))[1]  # type: ignore
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(second.screen, AttachScreen), what="the attach dialog")
            offered = second.screen.query_one("#left", OptionList)
            assert offered.option_count == 1 and f"pid {pid}" in str(offered.get_option_at_index(0).prompt)
            await pilot.press("enter")  # fills the fields, focus on Attach
            await pilot.press("enter")
            await wait_until(pilot, lambda: second.server.status.state == "attached", what="attached")
            assert pid in second.server_area.attached_pids
            await pilot.press("1")
            processes = second.main.query_one("#processes", DataTable)
            await wait_until(pilot, lambda: processes.row_count > 0, what="the holders")
            await wait_until(pilot, lambda: all(str(processes.get_row_at(i)[6]) == "attached server"
                                                for i in range(processes.row_count)), what="attached rows")
            processes.focus()
            await pilot.press("k")
            await wait_until(pilot, lambda: any("you attached to" in n for n in notes), what="k refused")
            assert not isinstance(second.screen, (ConfirmScreen, ChoiceScreen))
        assert alive(pid)
    finally:
        stop_tree(pid, with_group=True)


async def test_k_on_our_own_servers_engine_core_says_what_happened(console: NpuConsoleApp) -> None:
    from textual.widgets import DataTable

    app = console
    async with app.run_test(size=(120, 40)) as pilot:
        await launch_ready(app, pilot)
        await pilot.press("1")
        processes = app.main.query_one("#processes", DataTable)
        await wait_until(pilot, lambda: processes.row_count > 0 and str(processes.get_row_at(0)[6]) == "our server",
                         what="our server's process on the chips")
        processes.focus()
        await pilot.press("k")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        question = str(app.screen.query_one("#question").render())
        assert "part of the server this console launched" in question
        await pilot.press("tab", "enter")
        await wait_until(pilot, lambda: app.server.status.state in ("stopped", "failed"), timeout=40,
                         what="the server to end")
        await wait_until(pilot, lambda: "from the Devices area (k)" in (app.server.status.detail or ""),
                         what="the true sentence")
        assert "Nobody asked it to stop" not in (app.server.status.detail or "")


def test_a_log_that_ended_early_gives_its_last_phase_no_made_up_duration() -> None:
    import io

    from rich.console import Console

    from tui.server.logfacts.phases import START, Phase
    from widgets.server_facts import phases_table

    phases = [Phase(START, "process start", 1, 0.0, 106.0)]

    def text(finished: bool) -> str:
        console = Console(file=io.StringIO(), width=60, color_system=None)
        console.print(phases_table(phases, None, finished))
        return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]

    assert "106 s" not in text(finished=True), "the log ended: 106 s is not how long the phase took"
    assert "106 s" in text(finished=False), "still starting: it has been running that long"


async def test_comparing_variants_asks_before_it_stops_the_running_server(console: NpuConsoleApp) -> None:
    app = console
    async with app.run_test(size=(80, 24)) as pilot:
        await launch_ready(app, pilot)
        pid = app.server.status.pid
        await pilot.press("4", "b")
        await pick(app, pilot, "variants")
        await pick(app, pilot, "eager")
        await pick(app, pilot, "graph")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "is stopped first" in str(app.screen.query_one("#question").render())
        await pilot.press("escape")
        await pilot.pause(0.5)
        assert app.server.status.state == "ready" and app.server.status.pid == pid, "no answer, no stop"
        assert not isinstance(app.screen, PreflightScreen)


async def test_a_hostile_log_reaches_the_pane_masked_escaped_and_one_row_per_line(console: NpuConsoleApp,
                                                                                  tmp_path: Path) -> None:
    """Secrets, escape sequences, line separators and garbage bytes in a server's log: the pane shows each line
    on one row, masked and escaped, and scrolls sideways as far as its widest row."""
    token = "hf_abcdefghijklmnopqrstuvwx"
    wide = "(APIServer pid=7) INFO " + "w" * 400 + " end"
    log = tmp_path / "hostile.log"
    log.write_bytes(f"(APIServer pid=7) INFO HF_TOKEN={token}\n".encode()
                    + f"(APIServer pid=7) INFO colour \x1b[33m{token}\x1b[0m\n".encode()
                    + "(APIServer pid=7) INFO title\x1b]0;pwned\x07 clear\x1b[2J split\u2028here\rand\n".encode()
                    + b"(APIServer pid=7) INFO garbage \xff\xfe\x00 bytes\n"
                    + wide.encode() + b"\n")
    app = console
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        app.server.attach(log, None, True, None)
        pane = app.main.query_one("#server-log", Log)
        await wait_until(pilot, lambda: pane.line_count >= 5, what="the hostile lines in the pane")
        rows = list(pane.lines)
        assert len(rows) == 5, rows
        assert not any(token in row for row in rows) and sum("***" in row for row in rows) == 2
        assert not any(char in row for row in rows for char in "\x1b\x07\x00\r\u2028")
        assert rows[2].endswith("title\\x1b]0;pwned\\x07 clear\\x1b[2J split\\u2028here\\x0dand")
        assert rows[3] == "(APIServer pid=7) INFO garbage \ufffd\ufffd\\x00 bytes"
        await wait_until(pilot, lambda: pane.virtual_size.width >= len(wide), what="the pane as wide as its widest row")
