"""`npu-console serve` as an operator runs it: a real process, real signals, the simulated server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from tui.profiles import load_profile, save_profile, shipped_profiles_dir
from tui.sim.demo import prepare_demo_host

INSTANT = {"NPU_CONSOLE_SIM_SPEED": "0", "NPU_CONSOLE_SIM_TTFT_MS": "0", "NPU_CONSOLE_SIM_TPOT_MS": "0"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def demo_profile(tmp_path: Path) -> tuple[Path, dict[str, str], int]:
    """The shipped demo profile on a free port, and the environment with the simulated host on PATH."""
    demo = prepare_demo_host(tmp_path / "sim")
    port = free_port()
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    path = save_profile(replace(profile, server=replace(profile.server, port=port)), tmp_path / "demo.toml")
    return path, demo.env({**os.environ, **INSTANT}), port


def serve(profile: Path, env: dict[str, str], tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tui", "serve", "--profile", str(profile), "--variant", "eager",
         "--runs-dir", str(tmp_path / "runs"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


@pytest.fixture
def reaper() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
        process.communicate(timeout=10)


def read_until(process: subprocess.Popen[str], marker: str, timeout: float = 30.0) -> list[str]:
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip("\n"))
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} not printed; got {seen}")


def test_ctrl_c_stops_the_whole_tree_and_exits_0(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    profile, env, _ = demo_profile
    process = serve(profile, env, tmp_path)
    reaper.append(process)
    printed = read_until(process, "Ready: the API answers.")
    assert any(line.startswith("  ✔ Port") for line in printed)
    assert any("architecture = Qwen2ForCausalLM" in line for line in printed)
    assert any("phase: weights loading" in line for line in printed)
    tree = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
    assert len(tree) >= 2, "vllm serve and its EngineCore run under the CLI"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=40)
    assert process.returncode == 0, err
    assert "Stopped" in out
    assert not [pid for pid in tree if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    (run_dir,) = (tmp_path / "runs" / "demo").iterdir()
    assert (run_dir / "server.log").read_text().count("Application startup complete.") == 1
    assert '"architecture": "Qwen2ForCausalLM"' in (run_dir / "facts.json").read_text()


def test_a_server_that_dies_exits_1_with_the_root_cause(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    profile, env, _ = demo_profile
    process = serve(profile, {**env, "NPU_CONSOLE_SIM_FAULT": "startup"}, tmp_path)
    reaper.append(process)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "root cause: ascend_error" in err
    assert "ASCEND_RT_VISIBLE_DEVICES" in err or "npu-smi" in err


def test_failed_preflight_refuses_to_launch_without_force(
    demo_profile: tuple[Path, dict[str, str], int], tmp_path: Path, reaper: list[subprocess.Popen[str]]
) -> None:
    profile, env, port = demo_profile
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        process = serve(profile, env, tmp_path)
        reaper.append(process)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "✘" in out and "preflight check(s) failed" in err and "--force" in err
    assert not (tmp_path / "runs").exists(), "nothing was launched"
