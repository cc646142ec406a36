"""SVG snapshots pinning the main screen's layout (update with `pytest --snapshot-update`).

The app is the real `--demo` console with the wall clock, the host readings and
the simulated host frozen, and every path under one fixed folder, so the picture
changes only when the UI does.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from tests.ui.helpers import demo_app, wait_until
from tui.app import NpuConsoleApp

FIXED_ROOT = Path("/tmp/npu-console-snapshot")


@pytest.fixture
def frozen_demo(monkeypatch: pytest.MonkeyPatch) -> NpuConsoleApp:
    shutil.rmtree(FIXED_ROOT, ignore_errors=True)
    monkeypatch.setenv("NPU_CONSOLE_SIM_HOME", str(FIXED_ROOT / "sim"))
    monkeypatch.setenv("NPU_CONSOLE_SIM_FROZEN", "1")
    return demo_app(FIXED_ROOT / "runs", frozen=True)


async def settled(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, NpuConsoleApp)
    await wait_until(pilot, lambda: app.main.query_one("#chips", DataTable).row_count > 0,
                     what="the npu-smi reading")
    await wait_until(pilot, lambda: "Evidence of this session" in str(app.main.query_one("#run-dir").render()),
                     what="the run directory")
    await pilot.pause(0.1)


def test_main_screen_wide(snap_compare: Any, frozen_demo: NpuConsoleApp) -> None:
    assert snap_compare(frozen_demo, terminal_size=(200, 50), run_before=settled)


def test_main_screen_80x24(snap_compare: Any, frozen_demo: NpuConsoleApp) -> None:
    assert snap_compare(frozen_demo, terminal_size=(80, 24), run_before=settled)


# ---- the dialogs at 80×24: buttons on screen, the dialog's own key bar ------------------------------------

def _preflight_checks() -> list[Any]:
    from tui.server.preflight import Check

    return [
        Check("port", "Port 8000 is free", "pass", "nobody listens on 127.0.0.1:8000"),
        Check("model", "Model folder", "pass", "/models/Qwen2.5-0.5B-Instruct: config.json, tokenizer, 1 shard"),
        Check("devices", "ASCEND_RT_VISIBLE_DEVICES", "warn", "unset: the server sees all 8 chips",
              "set ASCEND_RT_VISIBLE_DEVICES=0 in the profile's [environment.vars]"),
        Check("hbm", "Free HBM for --gpu-memory-utilization 0.9", "fail",
              "NPU 0 has 3.2 GB free of 64 GB; 57.6 GB are needed",
              "stop what holds the memory (Devices area, k) or lower --gpu-memory-utilization"),
        Check("leftovers", "No leftover processes", "pass", "no leftover vLLM process holds memory"),
        Check("cann", "CANN set_env.sh", "warn", "/usr/local/Ascend/ascend-toolkit/set_env.sh not found",
              "install CANN or point [environment] source at its set_env.sh"),
    ]


def _dialog(screen_factory: Any) -> Any:
    async def open_it(pilot: Pilot[None]) -> None:
        await settled(pilot)
        pilot.app.clear_notifications()  # the start-up note would sit over the body (never the buttons)
        pilot.app.push_screen(screen_factory())
        await pilot.pause(0.3)

    return open_it


def test_preflight_dialog_80x24(snap_compare: Any, frozen_demo: NpuConsoleApp) -> None:
    from tui.screens.preflight import PreflightScreen

    command = "vllm serve /models/Qwen2.5-0.5B-Instruct --served-model-name qwen --port 8000 --enforce-eager"
    assert snap_compare(frozen_demo, terminal_size=(80, 24),
                        run_before=_dialog(lambda: PreflightScreen(_preflight_checks(), command)))


def test_stop_confirmation_80x24(snap_compare: Any, frozen_demo: NpuConsoleApp) -> None:
    from tui.screens.confirm import ConfirmScreen

    question = ("Stop demo · eager (pid 4242) and every process it started? SIGINT, then SIGTERM, then SIGKILL; "
                "its log stays in the run folder.")
    assert snap_compare(frozen_demo, terminal_size=(80, 24),
                        run_before=_dialog(lambda: ConfirmScreen("Stop the server", question, "Stop it")))


def test_attach_dialog_80x24(snap_compare: Any, frozen_demo: NpuConsoleApp) -> None:
    from tui.screens.attach import AttachScreen
    from tui.server.attach_check import LeftRunning

    left = [LeftRunning(4242, "http://127.0.0.1:8000", Path("/tmp/npu-console-snapshot/runs/demo/server.log"),
                        "demo", "eager", 0.0)]
    assert snap_compare(frozen_demo, terminal_size=(80, 24),
                        run_before=_dialog(lambda: AttachScreen("http://127.0.0.1:8000", left)))


def test_variant_choice_80x24(snap_compare: Any, frozen_demo: NpuConsoleApp) -> None:
    async def open_it(pilot: Pilot[None]) -> None:
        await settled(pilot)
        pilot.app.clear_notifications()
        await pilot.press("v")
        await pilot.pause(0.3)

    assert snap_compare(frozen_demo, terminal_size=(80, 24), run_before=open_it)
