"""A real launch and stop of the simulated `vllm serve` from the demo profile."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import replace
from pathlib import Path

import psutil

from tui.profile import load_profile, shipped_profiles_dir
from tui.server.launch_plan import launch_plan
from tui.server.launcher import LaunchError, ServerProcess
from tui.sim.demo import prepare_demo_host

INSTANT = {"NPU_CONSOLE_SIM_SPEED": "0", "NPU_CONSOLE_SIM_TTFT_MS": "0", "NPU_CONSOLE_SIM_TPOT_MS": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def wait_for(condition, timeout: float = 20.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def demo_plan(tmp_path: Path):  # type: ignore[no-untyped-def]
    demo = prepare_demo_host(tmp_path / "sim")
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    profile = replace(profile, server=replace(profile.server, port=free_port()))
    env = demo.env({**os.environ, **INSTANT})
    plan = launch_plan(profile, "eager", env)
    return plan, {**env, **plan.env}


async def test_launch_streams_lines_to_the_caller_and_the_log_then_stops_the_whole_tree(tmp_path: Path) -> None:
    plan, env = demo_plan(tmp_path)
    lines: list[str] = []
    server = await ServerProcess.start(plan.argv, env, tmp_path / "run" / "server.log", lines.extend)
    try:
        await wait_for(lambda: any("Application startup complete." in line for line in lines), what="ready")
        tree = [p.pid for p in psutil.Process(server.pid).children(recursive=True)]
        assert tree, "the simulated server runs an EngineCore child"
        report = await server.stop()
        assert report.ok, report
        assert report.last_signal == "SIGINT", "vLLM stops cleanly on SIGINT; no escalation needed"
        assert not any(alive(pid) for pid in [server.pid, *tree])
        ended = await server.wait()
        assert ended.returncode == 0 or ended.by_signal == "SIGINT"
        on_disk = (tmp_path / "run" / "server.log").read_text(encoding="utf-8")
        assert on_disk.splitlines() == lines, "every byte the server wrote is in server.log"
        assert "Resolved architecture: Qwen2ForCausalLM" in on_disk
    finally:
        if server.running:
            await server.stop()


async def test_a_server_that_dies_at_startup_reports_its_exit(tmp_path: Path) -> None:
    plan, env = demo_plan(tmp_path)
    lines: list[str] = []
    server = await ServerProcess.start(plan.argv, {**env, "NPU_CONSOLE_SIM_FAULT": "startup"},
                                       tmp_path / "server.log", lines.extend)
    ended = await asyncio.wait_for(server.wait(), 30)
    assert ended.returncode != 0 and ended.by_signal is None
    assert "exited with status" in ended.sentence()
    assert any("ERROR" in line for line in lines)


async def test_a_missing_command_is_a_launch_error(tmp_path: Path) -> None:
    try:
        await ServerProcess.start(["vllm-not-installed", "serve"], {"PATH": "/nonexistent"}, tmp_path / "s.log",
                                  lambda lines: None)
    except LaunchError as error:
        assert "command not found" in str(error) and "serving environment" in str(error)
    else:
        raise AssertionError("expected a LaunchError")
