"""The snapshot types against the contract: key order, None for unreported values, immutability."""

from __future__ import annotations

import json
import re

import pytest

from tests.devices.shared_corpus import SHARED
from tui.devices.snapshot import ChipMapping, ChipReading, DeviceProcess, DeviceSnapshot

CHIP_KEYS = [
    "npu", "chip", "phy_id", "name", "health", "power_w", "temp_c", "hugepages_used", "hugepages_total", "bus_id",
    "util_pct", "memory_used_mb", "memory_total_mb", "hbm_used_mb", "hbm_total_mb",
]


def snapshot() -> DeviceSnapshot:
    chip = ChipReading(0, 0, None, "910B1", "OK", 89.1, 32, 0, 0, "0000:C1:00.0", 0, 0, 0, 3437, 65536)
    process = DeviceProcess(0, 0, 641248, None, "", 113)
    return DeviceSnapshot("npu-smi", "24.1.0", "24.1.0", (chip,), (process,), (ChipMapping(0, 0, 0, "Ascend 910B1"),))


def test_json_keys_follow_the_contract_order() -> None:
    data = snapshot().to_json_dict()
    assert list(data) == ["backend", "tool_version", "driver_version", "chips", "processes", "mapping", "warnings",
                          "error"]
    assert list(data["chips"][0]) == CHIP_KEYS
    assert list(data["processes"][0]) == ["npu", "chip", "pid", "container_pid", "name", "memory_mb"]
    assert list(data["mapping"][0]) == ["npu", "chip", "logic_id", "name"]


def test_contract_example_round_trips_through_the_types() -> None:
    """The example object in CONTRACTS.md, comments stripped, is what these types print."""
    if SHARED is None:
        pytest.skip("the shared folder is not here")
    contracts = (SHARED / "CONTRACTS.md").read_text(encoding="utf-8")
    block = contracts.split("## `npu-console smi`", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    example = json.loads(re.sub(r"//[^\n]*", "", block))
    assert snapshot().to_json_dict() | {"mapping": []} == example


def test_an_empty_snapshot_has_nulls_and_empty_lists() -> None:
    assert DeviceSnapshot("npu-smi", error="boom").to_json_dict() == {
        "backend": "npu-smi", "tool_version": None, "driver_version": None, "chips": [], "processes": [],
        "mapping": [], "warnings": [], "error": "boom",
    }
    assert not DeviceSnapshot("npu-smi", error="boom").ok and DeviceSnapshot("npu-smi").ok


def test_values_are_hashable_and_frozen() -> None:
    assert hash(snapshot()) == hash(snapshot())
    with pytest.raises(AttributeError):
        snapshot().error = "x"  # type: ignore[misc]
