"""`npu-console serve` and the console's Server area leave the same evidence for the same launch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil

from tests.sim.harness import INSTANT, free_port
from tests.ui.helpers import FixedHost, wait_until
from tui.app import make_app
from tui.profile import load_profile, save_profile, shipped_profiles_dir
from tui.screens.preflight import PreflightScreen
from tui.sim.demo import prepare_demo_host
from tui.startup.build import build_session

EVIDENCE = {"run.json", "launch.json", "launch.sh", "server.log", "facts.json", "stop.json"}


def cli_launch(profile: Path, env: dict[str, str], runs: Path) -> Path:
    """`serve` until ready, then Ctrl-C; the run folder it left."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--profile", str(profile), "--variant", "eager",
         "--runs-dir", str(runs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while "Ready: the API answers." not in process.stdout.readline():
            assert time.monotonic() < deadline and process.poll() is None, "serve never said ready"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    finally:
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.communicate()
    (run_dir,) = (runs / "demo").iterdir()
    return run_dir


async def tui_launch(profile: Path, env: dict[str, str], runs: Path) -> Path:
    """The console: `l`, Launch, ready, stop; the run folder it left."""
    session = build_session(profile=str(profile), variant="eager", runs_dir=runs, demo=True, env=env,
                            move_busy_demo_port=False)
    app = make_app(session, host_sampler=FixedHost(), device_interval_s=0.5)
    async with app.run_test(size=(200, 50)) as pilot:
        try:
            await wait_until(pilot, lambda: app.devices.state is not None and app.devices.state.snapshot is not None,
                             timeout=30, what="the first device reading")
            await pilot.press("l")
            await wait_until(pilot, lambda: isinstance(app.screen, PreflightScreen), timeout=30, what="preflight")
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.server.status.state == "ready", timeout=60, what="ready")
        finally:
            await app.server.stop()
        await wait_until(pilot, lambda: app.server.status.state == "stopped", timeout=60, what="stopped")
    assert session.run_dir is not None
    return session.run_dir


async def test_serve_and_the_console_leave_the_same_evidence_for_the_same_launch(tmp_path: Path) -> None:
    demo = prepare_demo_host(tmp_path / "sim")
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    path = save_profile(replace(profile, server=replace(profile.server, port=free_port())), tmp_path / "demo.toml")
    env = demo.env({**os.environ, **INSTANT})

    by_cli = cli_launch(path, env, tmp_path / "cli-runs")
    by_tui = await tui_launch(path, env, tmp_path / "tui-runs")

    for run_dir in (by_cli, by_tui):
        assert {entry.name for entry in run_dir.iterdir()} >= EVIDENCE, run_dir
    cli_launch_json = json.loads((by_cli / "launch.json").read_text())
    tui_launch_json = json.loads((by_tui / "launch.json").read_text())
    assert cli_launch_json.keys() == tui_launch_json.keys()
    assert cli_launch_json["argv"] == tui_launch_json["argv"], "the same launch, word for word"
    for key in ("profile", "variant", "model", "url", "env_overrides", "source_files", "log", "log_offset"):
        assert cli_launch_json[key] == tui_launch_json[key], key
    assert cli_launch_json["env"]["PATH"] == tui_launch_json["env"]["PATH"]
    assert (by_cli / "launch.sh").read_text() == (by_tui / "launch.sh").read_text()

    cli_facts = json.loads((by_cli / "facts.json").read_text())
    tui_facts = json.loads((by_tui / "facts.json").read_text())
    assert cli_facts.keys() == tui_facts.keys()
    for key in ("architecture", "max_model_len", "dtype", "compilation", "ready", "api_url"):
        assert cli_facts[key] == tui_facts[key], key

    cli_stop = json.loads((by_cli / "stop.json").read_text())
    tui_stop = json.loads((by_tui / "stop.json").read_text())
    assert cli_stop.keys() == tui_stop.keys()
    assert cli_stop["how"] == tui_stop["how"] == "stopped"
    assert cli_stop["survivors"] == tui_stop["survivors"] == []
    assert cli_stop["asked_by"] == "Ctrl-C (SIGINT)" and tui_stop["asked_by"] == "the operator"


async def test_the_console_with_an_unwritable_runs_folder_says_so_in_one_sentence(tmp_path: Path) -> None:
    demo = prepare_demo_host(tmp_path / "sim")
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    path = save_profile(replace(profile, server=replace(profile.server, port=free_port())), tmp_path / "demo.toml")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the runs folder should be")
    session = build_session(profile=str(path), variant="eager", runs_dir=blocker / "runs", demo=True,
                            env=demo.env({**os.environ, **INSTANT}), move_busy_demo_port=False)
    app = make_app(session, host_sampler=FixedHost(), device_interval_s=0.5)
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: app.devices.state is not None and app.devices.state.snapshot is not None,
                         timeout=30, what="the first device reading")
        await pilot.press("l")
        await wait_until(pilot, lambda: isinstance(app.screen, PreflightScreen), timeout=30, what="preflight")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.server.status.state == "failed", timeout=30, what="the refusal")
        detail = app.server.status.detail or ""
        assert "cannot write the evidence" in detail and "--runs-dir" in detail and "\n" not in detail
        assert app.server.server is None and app.is_running, "nothing started, and the console goes on"
