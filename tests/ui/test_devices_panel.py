"""The Devices area driven with Pilot: live sim readings, leftovers stopped for real, hangs, health colours."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import pytest
from textual.widgets import DataTable, Static

from tests.sim.harness import wait_for
from tests.ui.helpers import capture_notes, confirm, wait_until
from tui.app import NpuConsoleApp, make_app
from tui.devices.host import HostSampler
from tui.profile import load_profile, shipped_profiles_dir
from tui.screens.chip_detail import ChipDetailScreen
from tui.screens.confirm import ConfirmScreen
from tui.sim.demo import prepare_demo_host
from tui.sim.host import ServerRecord, write_record
from tui.startup.session import ConsoleSession

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "npu-smi"


def status_text(app: NpuConsoleApp) -> str:
    return str(app.main.query_one("#status", Static).render())


def console(tmp_path: Path, env: dict[str, str], **kwargs: Any) -> NpuConsoleApp:
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    session = ConsoleSession(profile=profile, runs_root=tmp_path / "runs", env=env)
    return make_app(session, host_sampler=HostSampler(), **kwargs)


def tool_dir(tmp_path: Path, script: str) -> dict[str, str]:
    """A PATH whose `npu-smi` is `script` (Python), as on a host with that driver."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / "npu-smi"
    tool.write_text(f"#!{sys.executable}\n{script}")
    tool.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path)}


@pytest.fixture
def vllm_like() -> Iterator[subprocess.Popen[bytes]]:
    """A real process whose command line reads like a vLLM server someone else left running."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "vllm", "serve", "old-model"])
    yield process
    process.kill()
    process.wait()


async def test_leftover_holder_is_stopped_and_the_memory_comes_back(
    tmp_path: Path, vllm_like: subprocess.Popen[bytes]
) -> None:
    demo = prepare_demo_host(tmp_path / "sim")
    leftover = vllm_like
    write_record(demo.home, ServerRecord(pid=leftover.pid, role="engine_core", chips=(0,), hbm_mb=20000,
                                         name="VLLM::EngineCor", started_at=time.time()))
    app = console(tmp_path, demo.env(dict(os.environ)), device_interval_s=0.3)
    notes = capture_notes(app)
    async with app.run_test(size=(200, 50)) as pilot:
        processes = app.main.query_one("#processes", DataTable)
        await wait_until(pilot, lambda: processes.row_count == 1, what="the leftover in the process table")
        row = [str(cell) for cell in processes.get_row_at(0)]
        assert row[1] == str(leftover.pid)
        assert row[3] == "20000"
        assert row[6].startswith("LEFTOVER")
        assert "vllm serve old-model" in row[7]
        chips = app.main.query_one("#chips", DataTable)
        assert str(chips.get_row_at(0)[5]).endswith("23318/65536"), "idle 3318 MB + the 20000 it holds"

        processes.focus()
        await pilot.press("k")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("y", "e", "s", "enter")  # typing cannot confirm: the focus is on Cancel
        await pilot.pause(0.3)
        assert leftover.poll() is None
        await pilot.press("k")
        await confirm(pilot)
        await wait_until(pilot, lambda: any("came back" in note for note in notes), timeout=20,
                         what="the memory report")
        report = next(note for note in notes if "came back" in note)
        assert report.startswith("NPU 0/0: 20000 MB came back")
        assert leftover.wait(timeout=5) is not None
        await wait_until(pilot, lambda: processes.row_count == 0, what="the empty process table")


async def test_declining_the_confirmation_leaves_the_process_alone(
    tmp_path: Path, vllm_like: subprocess.Popen[bytes]
) -> None:
    demo = prepare_demo_host(tmp_path / "sim")
    holder = vllm_like
    write_record(demo.home, ServerRecord(pid=holder.pid, role="engine_core", chips=(1,), hbm_mb=1000,
                                         name="python3", started_at=time.time()))
    app = console(tmp_path, demo.env(dict(os.environ)), device_interval_s=0.3)
    async with app.run_test(size=(200, 50)) as pilot:
        processes = app.main.query_one("#processes", DataTable)
        await wait_until(pilot, lambda: processes.row_count == 1, what="the holder")
        processes.focus()
        await pilot.press("k")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("escape")
        await pilot.pause(0.5)
        assert holder.poll() is None


def switchable_tool(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An `npu-smi` that prints a real table, or hangs for 600 s while the returned file says `hang`."""
    mode = tmp_path / "mode"
    mode.write_text("ok")
    table = (FIXTURES / "910B3_8npu_procs_driver-warning_24.1.0.txt").read_text()
    (tmp_path / "table.txt").write_text(table)
    env = tool_dir(tmp_path, (
        "import sys, time\n"
        f"if '-m' in sys.argv: sys.exit(0)\n"
        f"if open({str(mode)!r}).read().strip() == 'hang': time.sleep(600)\n"
        f"sys.stdout.write(open({str(tmp_path / 'table.txt')!r}).read())\n"
    ))
    return mode, env


async def test_keys_are_answered_while_the_tool_hangs_and_no_second_read_starts(tmp_path: Path) -> None:
    mode, env = switchable_tool(tmp_path)
    # The read's own bound (600 s) outlasts the test: a key that waited for the read would come after it.
    app = console(tmp_path, env, device_interval_s=0.2, device_timeout_s=600.0)
    async with app.run_test(size=(200, 50)) as pilot:
        chips = app.main.query_one("#chips", DataTable)
        await wait_until(pilot, lambda: chips.row_count == 8, what="the first reading")
        mode.write_text("hang")
        await wait_until(pilot, lambda: app.devices.reading and _tool_processes(tmp_path) == 1, what="a hung read")
        for key, area in zip("2341", ("server", "playground", "stages", "devices"), strict=True):
            await pilot.press(key)
            await wait_until(pilot, partial(_showing, app, area), what=f"key {key} to show {area}")
            assert app.devices.reading, "the key was answered while the read still hangs"
            assert _tool_processes(tmp_path) == 1, "no second read starts beside the hung one ('1' asks for one)"
        mode.write_text("ok")
        for process in _tool_process_list(tmp_path):  # end the hung read here, while the app's loop still runs
            process.kill()
        await wait_until(pilot, lambda: not app.devices.reading, timeout=60, what="the hung read to end")
    wait_for(lambda: _tool_processes(tmp_path) == 0, 30, what="no npu-smi left when the console ended")


async def test_a_hung_tool_marks_data_stale_and_recovers(tmp_path: Path) -> None:
    mode, env = switchable_tool(tmp_path)
    app = console(tmp_path, env, device_interval_s=0.2, device_timeout_s=3.0)
    async with app.run_test(size=(200, 50)) as pilot:
        chips = app.main.query_one("#chips", DataTable)
        await wait_until(pilot, lambda: chips.row_count == 8, what="the first reading")
        mode.write_text("hang")
        await wait_until(pilot, lambda: "did not answer within 3 s" in status_text(app), timeout=60,
                         what="the timeout sentence")
        assert "STALE" in status_text(app)
        assert chips.row_count == 8, "the last good values stay on screen"
        assert "strike" in str(chips.get_row_at(0)[4].style)
        mode.write_text("ok")
        await wait_until(pilot, lambda: "STALE" not in status_text(app), timeout=60, what="recovery")


async def test_health_is_coloured_by_state(tmp_path: Path) -> None:
    table = (FIXTURES / "950PR_4npu_alarm_procs_25.7.rc1.txt").read_text()
    (tmp_path / "table.txt").write_text(table)
    env = tool_dir(tmp_path, (
        "import sys\n"
        "if '-m' in sys.argv: sys.exit(0)\n"
        f"sys.stdout.write(open({str(tmp_path / 'table.txt')!r}).read())\n"
    ))
    app = console(tmp_path, env)
    async with app.run_test(size=(200, 50)) as pilot:
        chips = app.main.query_one("#chips", DataTable)
        await wait_until(pilot, lambda: chips.row_count > 0, what="the 950 reading")
        styles = {}
        for index in range(chips.row_count):
            health = chips.get_row_at(index)[4]
            styles[str(health)] = str(health.style)
        assert "red" in styles["Alarm"]
        assert "green" in styles["OK"]


def _showing(app: NpuConsoleApp, area: str) -> bool:
    return app.main.active_area == area


def _tool_processes(tmp_path: Path) -> int:
    return len(_tool_process_list(tmp_path))


def _tool_process_list(tmp_path: Path) -> list[psutil.Process]:
    tool = str(tmp_path / "bin" / "npu-smi")
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info.get("cmdline") or []
        if tool in cmdline and process.info.get("status") != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


async def test_enter_on_a_chip_shows_its_usage_rates(tmp_path: Path) -> None:
    demo = prepare_demo_host(tmp_path / "sim")
    app = console(tmp_path, demo.env(dict(os.environ)))
    async with app.run_test(size=(200, 50)) as pilot:
        chips = app.main.query_one("#chips", DataTable)
        await wait_until(pilot, lambda: chips.row_count == 8, what="the chips")
        chips.focus()
        chips.move_cursor(row=2)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ChipDetailScreen), what="the detail view")
        detail = app.screen.query_one("#usage", Static).content
        assert "AI Core" in _plain(detail) and "NPU 2" in _plain(detail)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main, what="back to the main screen")


def _plain(renderable: object) -> str:
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(renderable)
    return console.export_text()


async def test_the_selected_chips_come_from_the_expanded_environment(tmp_path: Path) -> None:
    demo = prepare_demo_host(tmp_path / "sim")
    written = (shipped_profiles_dir() / "demo.toml").read_text()
    assert 'ASCEND_RT_VISIBLE_DEVICES = "0"' in written
    (tmp_path / "demo.toml").write_text(
        written.replace('ASCEND_RT_VISIBLE_DEVICES = "0"', 'ASCEND_RT_VISIBLE_DEVICES = "${CHIPS}"'))
    session = ConsoleSession(profile=load_profile(tmp_path / "demo.toml"), runs_root=tmp_path / "runs",
                             env={**demo.env(dict(os.environ)), "CHIPS": "2,3"})
    app = make_app(session, host_sampler=HostSampler(), device_interval_s=0.3)
    async with app.run_test(size=(200, 50)) as pilot:
        chips = app.main.query_one("#chips", DataTable)
        await wait_until(pilot, lambda: chips.row_count >= 4 and _marked_rows(chips) != [], what="a reading")
        assert _marked_rows(chips) == [2, 3], "the chips `${CHIPS}` names once expanded, as the server will see"


def _marked_rows(chips: DataTable[Any]) -> list[int]:
    return [index for index in range(chips.row_count) if str(chips.get_row_at(index)[0]).strip()]
