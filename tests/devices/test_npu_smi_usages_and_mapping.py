"""`npu-smi info -t usages -i N` and `npu-smi info -m`: key/value blocks and padded columns."""

from __future__ import annotations

from tests.devices.shared_corpus import OWN_FIXTURES, shared_sample
from tui.devices.npu_smi_parser import parse_npu_smi_mapping, parse_npu_smi_usages
from tui.devices.snapshot import ChipMapping, ChipUsage

NPU_SMI = OWN_FIXTURES / "npu-smi"


def test_910b_usages_with_real_tabs_name_every_known_rate() -> None:
    text = (NPU_SMI / "910B3_info-t-usages-i0_busy_real-tabs_24.1.0.txt").read_text(encoding="utf-8")
    assert parse_npu_smi_usages(text) == [ChipUsage(
        npu=0, chip=0, aicore_pct=87, aivector_pct=35, aicube_pct=83, aicpu_pct=0, ctrlcpu_pct=4,
        npu_util_pct=88, ddr_capacity_mb=0, ddr_usage_pct=0, ddr_hugepages_total=0, ddr_hugepages_usage_pct=0,
        ddr_bandwidth_pct=0, hbm_capacity_mb=65536, hbm_usage_pct=91, hbm_bandwidth_pct=46,
    )]


def test_duo_usages_give_one_entry_per_chip_and_keep_dvpp_rates_as_printed() -> None:
    text = (NPU_SMI / "310P3_info-t-usages-i1_duo-2chips_indented.txt").read_text(encoding="utf-8")
    usages = parse_npu_smi_usages(text)
    assert [(usage.npu, usage.chip) for usage in usages] == [(1, 0), (1, 1)]
    assert usages[0].vectorcore_pct == 55 and usages[0].hbm_capacity_mb is None
    assert usages[1].aicore_pct is None  # printed NA
    assert usages[0].other["DVPP VPC Usage Rate(%)"] == "12"
    assert usages[0].to_json_dict()["other"]["DVPP JPEGD Usage Rate(%)"] == "4"


def test_real_usages_pastes_from_the_corpus() -> None:
    telegraf = parse_npu_smi_usages(shared_sample("029").read_text(encoding="utf-8"))
    assert [(u.npu, u.chip, u.hbm_usage_pct, u.ctrlcpu_pct, u.npu_util_pct) for u in telegraf] == [(0, 0, 5, 6, 0)]
    older = parse_npu_smi_usages(shared_sample("043").read_text(encoding="utf-8"))  # blank line of 8 spaces
    assert [(u.ddr_capacity_mb, u.hbm_capacity_mb, u.aivector_pct) for u in older] == [(13553, 32768, None)]
    common = parse_npu_smi_usages(shared_sample("047").read_text(encoding="utf-8"))  # Chip ID first, MCU block
    assert [(u.chip, u.aicore_pct) for u in common] == [(0, 0)]


def test_usages_error_text_gives_no_usage_and_a_warning() -> None:
    warnings: list[str] = []
    assert parse_npu_smi_usages("This device does not support querying usages.\n", warnings) == []
    assert warnings == ["This device does not support querying usages."]


def test_mapping_keeps_mcu_rows_with_no_logic_id_and_names_with_spaces() -> None:
    mapping = parse_npu_smi_mapping(shared_sample("027").read_text(encoding="utf-8")).mapping
    assert mapping[:2] == (ChipMapping(0, 0, 0, "Ascend 910B4"), ChipMapping(0, 1, None, "Mcu"))
    assert len(mapping) == 16


def test_mapping_without_its_header_line_assumes_the_standard_columns() -> None:
    snapshot = parse_npu_smi_mapping("        4      0      0      Ascend 910B4\n        4      1      -      Mcu\n")
    assert snapshot.mapping == (ChipMapping(4, 0, 0, "Ascend 910B4"), ChipMapping(4, 1, None, "Mcu"))
