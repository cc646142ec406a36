"""Visible devices, free HBM and leftover holders, from real npu-smi outputs and real processes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

from tests.server.preflight.conftest import NPU_SMI_910B3_BUSY, NPU_SMI_A3_BUSY, chip, idle_host, read_fixture
from tui.devices.processes import describe_holders
from tui.devices.snapshot import ChipMapping, DeviceProcess, DeviceSnapshot
from tui.server.preflight import (
    check_hbm,
    check_leftovers,
    check_visible_devices,
    chip_label,
    device_use,
    parallel_sizes,
)

SERVE = ["vllm", "serve", "/models/qwen"]


def visible(value: str | None, *argv: str, devices: DeviceSnapshot | None = None) -> tuple[str, str, str | None]:
    env = {} if value is None else {"ASCEND_RT_VISIBLE_DEVICES": value}
    check = check_visible_devices(device_use(env, [*SERVE, *argv], devices or idle_host(), "vllm-ascend"))
    return check.status, check.detail, check.fix


def test_parallel_sizes_from_the_argv() -> None:
    assert parallel_sizes(SERVE).chips == 1
    assert parallel_sizes([*SERVE, "-tp", "2", "--pipeline-parallel-size=2"]).chips == 4
    assert parallel_sizes([*SERVE, "--tensor_parallel_size", "4", "-tp", "2"]).tensor == 2  # last one wins
    assert parallel_sizes([*SERVE, "-tp", "2", "--data-parallel-size", "2"]).chips == 4


def test_a_good_list_passes() -> None:
    status, detail, _ = visible("4,5", "-tp", "2")
    assert status == "pass" and "logic id 4,5" in detail


def test_duplicates_fail() -> None:
    status, detail, fix = visible("1,1")
    assert status == "fail" and "logic id 1 more than once" in detail and fix


def test_an_id_the_host_lacks_fails() -> None:
    status, detail, fix = visible("0,9", "-tp", "2")
    assert status == "fail" and "logic id 9 does not exist on this host (it has logic ids 0-7)" in detail
    assert fix and "npu-smi info -m" in fix


def test_too_few_for_the_tensor_parallel_size_fails() -> None:
    status, detail, fix = visible("0", "-tp", "2")
    assert status == "fail" and "gives 1 chip(s) but the server needs 2 (tensor-parallel 2" in detail
    assert fix and "at least 2" in fix


def test_unreadable_list_fails() -> None:
    status, detail, _ = visible("0;1")
    assert status == "fail" and "not a comma-separated list" in detail


def test_unset_warns_on_a_multi_chip_host_only() -> None:
    status, detail, fix = visible(None)
    assert status == "warn" and "not set" in detail and fix and "ASCEND_RT_VISIBLE_DEVICES" in fix
    assert visible(None, devices=idle_host(1))[0] == "pass"
    assert visible(None, "-tp", "2", devices=idle_host(1))[0] == "fail"


def test_mapping_with_gaps_picks_the_right_chip() -> None:
    """NPU ids 1 and 4 are logic ids 0 and 1 (fixture 036's kind of host)."""
    devices = DeviceSnapshot(
        backend="npu-smi",
        chips=(chip(1, 3000), chip(4, 60000)),
        mapping=(ChipMapping(1, 0, 0, "Ascend 910B3"), ChipMapping(1, 1, None, "Mcu"),
                 ChipMapping(4, 0, 1, "Ascend 910B3")),
    )
    assert chip_label(devices, 1) == "NPU 4 (logic id 1)"
    assert visible("4", devices=devices)[0] == "fail"
    use = device_use({"ASCEND_RT_VISIBLE_DEVICES": "1"}, SERVE, devices, "vllm-ascend")
    check = check_hbm(use, devices, SERVE)
    assert check.status == "fail" and check.detail.startswith("NPU 4 (logic id 1) has 5536 MB free")


def test_insufficient_hbm_from_a_real_busy_host() -> None:
    devices = read_fixture(NPU_SMI_910B3_BUSY)  # NPU 3 holds 61219 of 65536 MB
    use = device_use({"ASCEND_RT_VISIBLE_DEVICES": "3"}, SERVE, devices, "vllm-ascend")
    check = check_hbm(use, devices, SERVE)
    assert check.status == "fail"
    assert check.detail == "NPU 3 has 4317 MB free, the server will ask for 58982 MB (0.90 × 65536)"
    assert check.fix and "--gpu-memory-utilization to 0.06 or less" in check.fix
    low = check_hbm(use, devices, [*SERVE, "--gpu-memory-utilization", "0.05"])
    assert low.status == "pass"
    idle = device_use({"ASCEND_RT_VISIBLE_DEVICES": "4,5"}, [*SERVE, "-tp", "2"], devices, "vllm-ascend")
    assert check_hbm(idle, devices, SERVE).status == "pass"


def test_hbm_on_a_two_die_card() -> None:
    devices = read_fixture(NPU_SMI_A3_BUSY)  # logic id 1 is NPU 0's second die
    use = device_use({"ASCEND_RT_VISIBLE_DEVICES": "1"}, SERVE, devices, "vllm-ascend")
    check = check_hbm(use, devices, SERVE)
    assert check.status == "fail" and check.detail.startswith("NPU 0 chip 1 (logic id 1) has 12742 MB free")


def test_hbm_without_a_reading_warns() -> None:
    use = device_use({"ASCEND_RT_VISIBLE_DEVICES": "0"}, SERVE, None, "vllm-ascend")
    check = check_hbm(use, None, SERVE)
    assert check.status == "warn" and "no device reading" in check.detail
    assert check_visible_devices(use).status == "warn"


@pytest.fixture
def leftover_pid(spawn_child: Callable[..., subprocess.Popen[str]]) -> int:
    """A real process whose command line looks like a vLLM engine core someone left behind."""
    return spawn_child("import time; time.sleep(60)", "vllm", "EngineCore_DP0").pid


def test_a_leftover_on_the_chips_fails_and_offers_to_stop_it(leftover_pid: int) -> None:
    holders = describe_holders([
        DeviceProcess(npu=2, chip=0, pid=leftover_pid, container_pid=None, name="", memory_mb=47928),
    ])
    assert holders[0].is_leftover
    devices = idle_host()
    use = device_use({"ASCEND_RT_VISIBLE_DEVICES": "2,3"}, [*SERVE, "-tp", "2"], devices, "vllm-ascend")
    check = check_leftovers(use, devices, holders)
    assert check.status == "fail" and f"pid {leftover_pid}" in check.detail and "47928 MB on NPU 2" in check.detail
    assert check.offer is not None and check.offer.pids == (leftover_pid,) and check.offer.kind == "stop_process"
    elsewhere = device_use({"ASCEND_RT_VISIBLE_DEVICES": "5"}, SERVE, devices, "vllm-ascend")
    assert check_leftovers(elsewhere, devices, holders).status == "pass"


def test_a_leftover_not_visible_here_cannot_be_offered() -> None:
    from tui.devices.processes import HeldMemory

    invisible = HeldMemory(DeviceProcess(0, 0, 999_999_999, None, "VLLMWorker_TP", 1000), None, False,
                           "a vLLM process this console did not start", None)
    use = device_use({"ASCEND_RT_VISIBLE_DEVICES": "0"}, SERVE, idle_host(), "vllm-ascend")
    check = check_leftovers(use, idle_host(), [invisible])
    assert check.status == "fail" and check.offer is None and check.fix and "another container" in check.fix
