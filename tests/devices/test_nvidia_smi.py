"""nvidia-smi CSV onto the same snapshot: GPU memory as HBM, bracketed values as None, apps by bus id."""

from __future__ import annotations

from tests.devices.shared_corpus import OWN_FIXTURES
from tui.devices.backends import parse_saved_output
from tui.devices.nvidia_smi import apps_query_argv, gpu_query_argv, looks_like_nvidia_smi, parse_nvidia_smi
from tui.devices.snapshot import ChipReading, DeviceProcess

NVIDIA = OWN_FIXTURES / "nvidia-smi"


def read(name: str) -> str:
    return (NVIDIA / name).read_text(encoding="utf-8")


def test_argv_is_the_documented_csv_queries() -> None:
    assert gpu_query_argv("/usr/bin/nvidia-smi") == [
        "/usr/bin/nvidia-smi",
        "--query-gpu=index,name,pci.bus_id,temperature.gpu,power.draw,utilization.gpu,memory.used,memory.total,"
        "driver_version",
        "--format=csv,noheader,nounits",
    ]
    assert apps_query_argv("nvidia-smi") == [
        "nvidia-smi", "--query-compute-apps=gpu_bus_id,pid,process_name,used_memory", "--format=csv,noheader,nounits",
    ]


def test_eight_h100s_with_a_tp4_vllm_job() -> None:
    snapshot = parse_nvidia_smi(read("h100-sxm_8gpu_query-gpu.csv"), read("h100-sxm_8gpu_query-compute-apps.csv"))
    assert snapshot.backend == "nvidia-smi" and snapshot.driver_version == "550.54.15"
    assert snapshot.tool_version is None and snapshot.error is None and snapshot.warnings == ()
    assert snapshot.chips[0] == ChipReading(
        npu=0, chip=None, phy_id=None, name="NVIDIA H100 80GB HBM3", health=None, power_w=312.85, temp_c=47,
        hugepages_used=None, hugepages_total=None, bus_id="00000000:18:00.0", util_pct=98,
        memory_used_mb=None, memory_total_mb=None, hbm_used_mb=74411, hbm_total_mb=81559,
    )
    assert [(p.npu, p.pid, p.name) for p in snapshot.processes] == [
        (0, 1843210, "VLLM::Worker_TP0"), (1, 1843211, "VLLM::Worker_TP1"), (2, 1843212, "VLLM::Worker_TP2"),
        (3, 1843213, "VLLM::Worker_TP3"), (7, 1902877, "/usr/bin/python3"),
    ]


def test_bracketed_values_are_none_not_zero() -> None:
    mig = parse_nvidia_smi(read("a100-80gb_mig-enabled_query-gpu.csv"),
                           read("a100-80gb_mig-enabled_query-compute-apps.csv"))
    assert mig.chips[0].util_pct is None and mig.chips[1].util_pct == 0
    assert mig.processes == (DeviceProcess(npu=0, chip=None, pid=2211, container_pid=None, name="python3",
                                           memory_mb=None),)
    geforce = parse_nvidia_smi(read("geforce_power-not-supported_query-gpu.csv"))
    assert geforce.chips[0].power_w is None and geforce.chips[0].hbm_total_mb == 4096


def test_a_process_on_an_unlisted_bus_is_a_warning() -> None:
    snapshot = parse_nvidia_smi(read("h100-sxm_8gpu_query-gpu.csv"), "00000000:FF:00.0, 77, python, 10\n")
    assert snapshot.processes == ()
    assert snapshot.warnings == ("process 77 is on 00000000:FF:00.0, which the GPU query did not list",)


def test_bus_ids_match_across_domain_padding() -> None:
    snapshot = parse_nvidia_smi("0, NVIDIA L4, 00000000:01:00.0, 30, 16.20, 0, 0, 23034, 535.104.05\n",
                                "0000:01:00.0, 99, python3, 300\n")
    assert [p.npu for p in snapshot.processes] == [0]


def test_error_outputs_are_the_error() -> None:
    assert parse_nvidia_smi(read("error_driver-not-loaded.txt")).error == (
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
        "Make sure that the latest NVIDIA driver is installed and running."
    )
    mismatch = parse_nvidia_smi(read("error_nvml-version-mismatch.txt"))
    assert mismatch.error == "Failed to initialize NVML: Driver/library version mismatch"
    assert mismatch.warnings == ("NVML library version: 550.90",)
    assert parse_nvidia_smi(read("error_no-devices.txt")).error == "No devices were found"


def test_saved_outputs_are_told_apart_by_their_rows() -> None:
    assert looks_like_nvidia_smi(read("replay_h100_2gpu_gpus-then-apps.csv"))
    assert looks_like_nvidia_smi(read("error_driver-not-loaded.txt"))
    replay = parse_saved_output(read("replay_h100_2gpu_gpus-then-apps.csv"))
    assert (replay.backend, len(replay.chips), len(replay.processes)) == ("nvidia-smi", 2, 2)
    npu = (OWN_FIXTURES / "npu-smi" / "950PR_4npu_alarm_procs_25.7.rc1.txt").read_text(encoding="utf-8")
    assert not looks_like_nvidia_smi(npu) and parse_saved_output(npu).backend == "npu-smi"


def test_nvidia_parser_never_raises_on_garbage() -> None:
    gpus = "0, x, 00000000:01:00.0, hot, lots, ?, a, b, c\n,,,\n\x00\n"
    snapshot = parse_nvidia_smi(gpus, "00000000:01:00.0, -1, , z\n")
    assert snapshot.chips[0].temp_c is None and snapshot.chips[0].power_w is None
    assert snapshot.warnings
