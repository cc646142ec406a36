"""The whole preflight against the simulated host: real npu-smi output, real sockets, real files."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest

from tui.devices.locate import find_npu_smi
from tui.devices.npu_smi_parser import parse_npu_smi_info
from tui.devices.processes import describe_holders
from tui.devices.snapshot import DeviceSnapshot
from tui.processes.commands import SubprocessRunner
from tui.profile import Profile, load_profile, shipped_profiles_dir
from tui.server.environment import ResolvedEnv, resolve_environment
from tui.server.launch_plan import LaunchPlan, launch_plan
from tui.server.preflight import Check, run_preflight
from tui.sim.demo import DemoHost, prepare_demo_host

ORDER = ["port", "model", "flags", "max_model_len", "model_source", "visible_devices", "hbm", "leftovers", "env_names",
         "multiproc_method", "npu_smi", "sourced_files"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_profile(port: int, **extra_env: str) -> Profile:
    """The shipped demo profile on a port free right now (8000 may be busy on a shared machine)."""
    profile = load_profile(shipped_profiles_dir() / "demo.toml")
    environment = dataclasses.replace(profile.environment, vars={**profile.environment.vars, **extra_env})
    return dataclasses.replace(
        profile, server=dataclasses.replace(profile.server, port=port), environment=environment
    )


@pytest.fixture
def demo(tmp_path: Path) -> DemoHost:
    return prepare_demo_host(tmp_path / "sim")


async def read_host(demo: DemoHost) -> DeviceSnapshot:
    result = await SubprocessRunner(demo.env()).run(["npu-smi", "info"], timeout=20)
    assert result.ok, result.output
    return parse_npu_smi_info(result.stdout)


async def preflight(demo: DemoHost, profile: Profile) -> tuple[LaunchPlan, ResolvedEnv, list[Check]]:
    env = demo.env()
    runner = SubprocessRunner(env)
    plan = launch_plan(profile, env=env)
    resolved = await resolve_environment(env, plan.source_files, profile.effective_env(plan.variant), runner)
    devices = await read_host(demo)
    checks = await run_preflight(
        plan, profile, resolved, devices, describe_holders(devices.processes),
        npu_smi_found=find_npu_smi(env) is not None,
    )
    return plan, resolved, checks


async def test_demo_profile_passes_everything_on_the_simulated_host(demo: DemoHost) -> None:
    profile = demo_profile(free_port(), VLLM_WORKER_MULTIPROC_METHOD="spawn")
    _, _, checks = await preflight(demo, profile)
    assert [check.key for check in checks] == ORDER
    assert [(check.key, check.status) for check in checks if check.status != "pass"] == []
    by_key = {check.key: check for check in checks}
    assert "NPU 0: 62218 MB free of 65536" in by_key["hbm"].detail
    assert "npu-smi answered: 8 chip(s)" in by_key["npu_smi"].detail


async def test_the_shipped_demo_profile_passes_every_check(demo: DemoHost) -> None:
    _, _, checks = await preflight(demo, demo_profile(free_port()))
    assert [(check.key, check.status) for check in checks if check.status != "pass"] == []


async def test_a_broken_launch_collects_every_problem(demo: DemoHost, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        profile = demo_profile(port, ASCEBD_RT_VISIBLE_DEVICES="1", VLLM_WORKER_MULTIPROC_METHOD="spawn")
        profile = dataclasses.replace(
            profile,
            runtime="vllm-ascend",
            server=dataclasses.replace(profile.server, flags={**profile.server.flags, "tensor-parallel-size": 2}),
            environment=dataclasses.replace(profile.environment, source=(str(tmp_path / "missing_set_env.sh"),)),
        )
        _, _, checks = await preflight(demo, profile)
    status = {check.key: check.status for check in checks}
    assert status["port"] == "fail" and f"pid {os.getpid()}" in checks[0].detail
    assert status["model"] == "fail"  # a real runtime needs weights; the demo folder has none
    assert status["visible_devices"] == "fail"  # one chip listed, -tp 2
    assert status["env_names"] == "fail"
    assert status["sourced_files"] == "fail"
    assert all(check.fix for check in checks if check.status != "pass")
