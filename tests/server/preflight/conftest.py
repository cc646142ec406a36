"""Shared helpers for the preflight tests: small profiles, device readings, real child processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tui.devices.npu_smi_parser import parse_npu_smi_info
from tui.devices.snapshot import ChipReading, DeviceSnapshot
from tui.profile import EnvironmentSpec, FlagValue, ModelSpec, Profile, Runtime, ServerSpec

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NPU_SMI_910B3_BUSY = FIXTURES / "npu-smi" / "910B3_8npu_procs_driver-warning_24.1.0.txt"
NPU_SMI_A3_BUSY = FIXTURES / "npu-smi" / "A3_Ascend910_8npu-16chip_busy-procs_25.2.0.txt"


def make_profile(
    *,
    runtime: Runtime = "vllm-ascend",
    model: ModelSpec | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, FlagValue] | None = None,
    port: int = 8000,
    source: tuple[str, ...] = (),
) -> Profile:
    """A profile with only what a test sets; everything else at its default."""
    return Profile(
        name="t",
        runtime=runtime,
        model=model or ModelSpec(id="Qwen/Qwen2.5-0.5B-Instruct", source="modelscope"),
        server=ServerSpec(port=port, flags=dict(flags or {})),
        environment=EnvironmentSpec(vars=dict(env or {}), source=source),
    )


def read_fixture(path: Path) -> DeviceSnapshot:
    return parse_npu_smi_info(path.read_text(encoding="utf-8"))


def chip(npu: int, used: int | None, total: int | None = 65536, chip_id: int = 0) -> ChipReading:
    return ChipReading(
        npu=npu, chip=chip_id, phy_id=None, name="910B3", health="OK", power_w=None, temp_c=None,
        hugepages_used=None, hugepages_total=None, bus_id=None, util_pct=None, memory_used_mb=0,
        memory_total_mb=0, hbm_used_mb=used, hbm_total_mb=total,
    )


def idle_host(count: int = 8) -> DeviceSnapshot:
    """`count` idle 910B3 chips, logic id = NPU id, as on an ordinary 8-card host."""
    return DeviceSnapshot(backend="npu-smi", chips=tuple(chip(npu, 3314) for npu in range(count)))


@pytest.fixture
def spawn_child() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start real child processes (killed afterwards) whose command lines a test chooses."""
    children: list[subprocess.Popen[str]] = []

    def start(code: str, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
        )
        children.append(process)
        return process

    yield start
    for process in children:
        process.kill()
        process.wait()
