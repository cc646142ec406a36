"""The Server area driven with Pilot: preflight, launch, facts, stop, failure diagnosis, attach, the pane."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest
from rich.console import Console
from textual.widgets import Input, Log, OptionList, Static

from tests.ui.helpers import FixedHost, capture_notes, confirm, remember_launch, wait_until
from tui.app import NpuConsoleApp, make_app
from tui.processes.tree import stop_tree
from tui.profile import load_profile, shipped_profiles_dir
from tui.screens.attach import AttachScreen
from tui.screens.choice import ChoiceScreen
from tui.screens.preflight import PreflightScreen
from tui.sim.demo import prepare_demo_host
from tui.startup.session import ConsoleSession
from widgets.server_log import ServerLog

INSTANT = {"NPU_CONSOLE_SIM_SPEED": "0", "NPU_CONSOLE_SIM_TTFT_MS": "0", "NPU_CONSOLE_SIM_TPOT_MS": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def plain(app: NpuConsoleApp, selector: str) -> str:
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(app.main.query_one(selector, Static).content)
    return console.export_text()


def log_text(app: NpuConsoleApp) -> str:
    return "\n".join(app.main.query_one("#server-log", Log).lines)


def demo_console(tmp_path: Path, **extra_env: str) -> NpuConsoleApp:
    demo = prepare_demo_host(tmp_path / "sim")
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    profile = replace(profile, server=replace(profile.server, port=free_port()))
    env = demo.env({**os.environ, **INSTANT, **extra_env})
    session = ConsoleSession(profile=profile, runs_root=tmp_path / "runs", env=env, simulated=True,
                             variant="eager")
    return make_app(session, host_sampler=FixedHost(), device_interval_s=0.5)


def alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


async def launch(app: NpuConsoleApp, pilot: Any) -> PreflightScreen:
    await wait_until(pilot, lambda: app.devices.state is not None and app.devices.state.snapshot is not None,
                     what="the first device reading")
    await pilot.press("l")
    await wait_until(pilot, lambda: isinstance(app.screen, PreflightScreen), what="the preflight checklist")
    screen = app.screen
    assert isinstance(screen, PreflightScreen)
    return screen


async def launch_ready(app: NpuConsoleApp, pilot: Any) -> None:
    """Launch through a clean preflight (Enter on "Launch") and wait until the server is ready."""
    await launch(app, pilot)
    await pilot.press("enter")
    await wait_until(pilot, lambda: app.server.status.pid is not None, timeout=30, what="the server started")
    remember_launch(app)
    await wait_until(pilot, lambda: app.server.status.state == "ready", timeout=30, what="the server ready")


async def test_preflight_launch_facts_and_a_clean_stop(tmp_path: Path) -> None:
    app = demo_console(tmp_path)
    notes = capture_notes(app)
    async with app.run_test(size=(200, 50)) as pilot:
        preflight = await launch(app, pilot)
        checklist = plain_static(preflight)
        assert "Port" in checklist and "ASCEND_RT_VISIBLE_DEVICES" in checklist
        await pilot.press("enter")  # "Launch" has the focus when nothing failed
        await wait_until(pilot, lambda: app.server.status.pid is not None, timeout=30, what="the server started")
        remember_launch(app)
        await wait_until(pilot, lambda: app.server.status.state == "ready", timeout=30, what="the server ready")
        pid = app.server.status.pid
        assert pid is not None and list(app.session.launched_pids) == [pid]
        tree = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
        assert len(tree) >= 2, "the API server and its EngineCore"
        await wait_until(pilot, lambda: "✔ ready" in plain(app, "#server-facts"), what="the facts")
        facts = plain(app, "#server-facts")
        assert "Qwen2ForCausalLM" in facts and "32768" in facts and "eager" in facts
        await wait_until(pilot, lambda: "Application startup complete." in log_text(app), what="the ready line")
        assert "ready" in plain(app, "#header")
        run_dir = app.session.run_dir
        assert run_dir is not None
        assert json.loads((run_dir / "launch.json").read_text())["argv"][:2] == ["vllm", "serve"]
        assert "--enforce-eager" in (run_dir / "launch.sh").read_text()

        await pilot.press("s")
        await confirm(pilot)
        await wait_until(pilot, lambda: app.server.status.state == "stopped", timeout=40, what="the stop")
        assert not any(alive(p) for p in tree), "the whole tree is gone, children included"
        on_disk = (run_dir / "server.log").read_text()
        assert "Application shutdown complete." in on_disk
        assert not app.session.launched_pids
        await wait_until(pilot, lambda: any("back to its pre-launch level" in note for note in notes),
                         timeout=15, what="the HBM check after the stop")


def plain_static(screen: Any) -> str:
    console = Console(width=160, record=True, file=io.StringIO())
    for static in screen.query(Static):
        console.print(static.content)
    return console.export_text()


async def test_a_failed_start_shows_the_root_cause_and_its_hint(tmp_path: Path) -> None:
    app = demo_console(tmp_path, NPU_CONSOLE_SIM_FAULT="startup")
    async with app.run_test(size=(200, 50)) as pilot:
        await launch(app, pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.server.status.state == "failed", timeout=30, what="the failure")
        detail = app.server.status.detail or ""
        assert "exited with status" in detail and "Root cause: ascend_error" in detail
        await wait_until(pilot, lambda: "Root cause" in plain(app, "#server-facts"), what="the diagnosis")
        facts = plain(app, "#server-facts")
        assert "ascend_error" in facts and "Try:" in facts
        assert "⟶ hint:" in log_text(app), "the error line carries its hint inline"


async def test_a_busy_port_fails_preflight_and_launch_can_be_cancelled(tmp_path: Path) -> None:
    app = demo_console(tmp_path)
    profile = app.session.profile
    assert profile is not None
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", profile.server.port))
        holder.listen()
        async with app.run_test(size=(200, 50)) as pilot:
            preflight = await launch(app, pilot)
            text = plain_static(preflight)
            assert "✘" in text and f"pid {os.getpid()}" in text
            assert "Launch anyway" in str(preflight.query_one("#launch").render())
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.server.status.state == "not started", what="back to not started")
            assert app.server.server is None


SOMEONE_ELSES_LOG = [
    "INFO 11-21 08:00:01 [__init__.py:239] Platform plugin ascend is activated",
    "(APIServer pid=4242) INFO 11-21 08:00:03 [model.py:533] Resolved architecture: Qwen2ForCausalLM",
    "(APIServer pid=4242) INFO 11-21 08:00:03 [model.py:1582] Using max model len 4096",
    "(EngineCore pid=4250) INFO 11-21 08:00:20 [model_runner_v1.py:2589] Loading model weights took 0.9280 GB",
    "(APIServer pid=4242) INFO:     Started server process [4242]",
    "(APIServer pid=4242) INFO:     Waiting for application startup.",
    "(APIServer pid=4242) INFO:     Application startup complete.",
    "(APIServer pid=4242) INFO 11-21 08:00:40 [loggers.py:127] Engine 000: Avg prompt throughput: 812.3 tokens/s, "
    "Avg generation throughput: 1203.9 tokens/s, Running: 31 reqs, Waiting: 2 reqs, GPU KV cache usage: 41.2%, "
    "Prefix cache hit rate: 12.5%",
]


@pytest.fixture
def someone_elses_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A process (not ours) that writes a vLLM log line by line, then stays."""
    log = tmp_path / "other.log"
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import json, sys, time\n"
         "with open(sys.argv[1], 'a') as out:\n"
         "    for line in json.loads(sys.argv[2]):\n"
         "        out.write(line + '\\n'); out.flush(); time.sleep(0.05)\n"
         "    time.sleep(60)\n",
         str(log), json.dumps(SOMEONE_ELSES_LOG)],
    )
    yield writer, log
    writer.kill()
    writer.wait()


async def test_attach_follows_a_log_that_another_process_writes(
    tmp_path: Path, someone_elses_server: tuple[subprocess.Popen[bytes], Path]
) -> None:
    writer, log = someone_elses_server
    app = demo_console(tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, AttachScreen), what="the attach dialog")
        app.screen.query_one("#log-path", Input).value = str(log)
        app.screen.query_one("#url", Input).value = ""
        await pilot.click("#attach")
        await wait_until(pilot, lambda: app.server.status.state == "attached", what="attached")
        await wait_until(pilot, lambda: "Application startup complete." in log_text(app), timeout=20,
                         what="the followed lines")
        await wait_until(pilot, lambda: "Qwen2ForCausalLM" in plain(app, "#server-facts"), what="the facts")
        assert "4096" in plain(app, "#server-facts")
        assert "attached" in plain(app, "#header")
        await pilot.press("s")  # on an attached server, stop only detaches
        await wait_until(pilot, lambda: app.server.status.state == "not started", what="detached")
        assert writer.poll() is None, "attaching never kills what it did not start"


async def test_log_pane_filters_and_searches(tmp_path: Path) -> None:
    app = demo_console(tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await launch_ready(app, pilot)
        await pilot.pause(0.2)
        pane = app.main.query_one(ServerLog)
        log = pane.log_widget
        everything = log.line_count
        log.focus()
        await pilot.press("f")  # key lines
        await wait_until(pilot, lambda: pane.log_filter == "key", what="the key filter")
        await pilot.pause(0.1)
        assert 0 < log.line_count < everything
        assert any("Resolved architecture" in line for line in log.lines)
        assert not any("Route:" in line for line in log.lines)
        await pilot.press("f")  # problems: warnings and errors
        await pilot.pause(0.1)
        assert all("WARNING" in line or "ERROR" in line for line in log.lines)
        await pilot.press("f")  # all again
        await pilot.pause(0.1)
        assert log.line_count == everything
        await pilot.press("slash")
        search = app.main.query_one("#log-search", Input)
        assert search.has_focus
        await pilot.press(*"Resolved architecture", "enter")
        await pilot.pause(0.2)
        assert pane.last_match >= 0
        assert "Resolved architecture" in app.server.window.shown("all")[pane.last_match].text
        assert not log.auto_scroll, "a search stops following the bottom"
        await pilot.press("escape")  # closes the search box; the keys go to the console again
        assert log.has_focus
        await pilot.press("s")
        await confirm(pilot)
        await wait_until(pilot, lambda: app.server.status.state == "stopped", timeout=40, what="the stop")



async def test_quitting_with_the_server_running_asks_and_can_leave_it_running(tmp_path: Path) -> None:
    app = demo_console(tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await launch_ready(app, pilot)
        pid = app.server.status.pid
        assert pid is not None
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the question")
        options = app.screen.query_one(OptionList)
        options.highlighted = next(i for i in range(options.option_count)
                                   if options.get_option_at_index(i).id == "leave")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app._exit, what="the console to quit")
    try:
        assert alive(pid), "left running, as the operator chose"
        await asyncio.sleep(0.3)
        assert alive(pid), "and still running after the console's log follower stopped"
    finally:
        stop_tree(pid, with_group=True)


async def test_quitting_with_the_server_running_can_stop_it_first(tmp_path: Path) -> None:
    app = demo_console(tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await launch_ready(app, pilot)
        pid = app.server.status.pid
        assert pid is not None
        tree = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
        await pilot.press("4", "z")  # the Devices area hidden: quitting must not wait for a device reading
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceScreen), what="the question")
        await pilot.press("enter")  # the first choice: stop it, then quit
        await wait_until(pilot, lambda: app._exit, timeout=10, what="the console to quit")
    assert not any(alive(p) for p in tree)


async def test_a_stop_with_the_devices_hidden_still_checks_the_memory_came_back(tmp_path: Path) -> None:
    app = demo_console(tmp_path)
    notes = capture_notes(app)
    async with app.run_test(size=(200, 50)) as pilot:
        await launch_ready(app, pilot)
        await pilot.press("4", "z")  # periodic device reads pause while the Devices area is hidden
        await pilot.press("s")
        await confirm(pilot)
        await wait_until(pilot, lambda: any("back to its pre-launch level" in note for note in notes),
                         timeout=20, what="the HBM check, on a reading asked for although the area is hidden")


LATE_BINDER = '''
import http.server, sys, time
port = int(sys.argv[sys.argv.index("--port") + 1])
print("(APIServer pid=1) INFO:     Application startup complete.", flush=True)
time.sleep(1.5)  # uvicorn binds the port only after this line
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''


async def test_ready_waits_until_the_api_answers_not_just_the_log_line(tmp_path: Path) -> None:
    script = tmp_path / "late_binder.py"
    script.write_text(LATE_BINDER)
    app = demo_console(tmp_path)
    profile = app.session.profile
    assert profile is not None
    app.session.update_profile(replace(profile, server=replace(profile.server, command=(sys.executable, str(script)))))
    async with app.run_test(size=(160, 45)) as pilot:
        try:
            await launch(app, pilot)
            await pilot.press("enter")
            await wait_until(pilot, lambda: "Application startup complete." in log_text(app), timeout=30,
                             what="the ready line in the log")
            assert app.server.status.state == "starting", "the log line alone must not make it ready"
            await wait_until(pilot, lambda: app.server.status.state == "ready", timeout=15,
                             what="ready once the port answers")
            url = app.server.status.url
            assert url is not None
            with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=2):
                pass  # what "ready" promises: a connection is accepted
        finally:
            await app.server.stop()
