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
