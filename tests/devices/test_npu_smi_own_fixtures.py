"""The project's own npu-smi fixtures: tables for hosts the corpus lacks, error outputs, a pasted table.

The tables were printed by `tests/devices/render.py` from readings written
down in `make_npu_smi_fixtures.py`, and their JSON is those readings; the
error and paste fixtures and their JSON were written by hand from FORMATS.md.
The spot checks below restate, in words, what each one is there for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.devices.shared_corpus import OWN_FIXTURES, assert_same_json
from tui.devices.backends import parse_saved_output
from tui.devices.npu_smi_parser import parse_npu_smi_info, parse_npu_smi_mapping
from tui.devices.snapshot import DeviceSnapshot

NPU_SMI = OWN_FIXTURES / "npu-smi"
PAIRS = sorted(NPU_SMI.glob("*.json"))


def parse(name: str) -> DeviceSnapshot:
    return parse_npu_smi_info((NPU_SMI / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("json_path", PAIRS, ids=[path.stem for path in PAIRS])
def test_own_fixture_parses_to_its_json(json_path: Path) -> None:
    snapshot = parse_saved_output(json_path.with_suffix(".txt").read_text(encoding="utf-8"))
    assert_same_json(snapshot.to_json_dict(), json.loads(json_path.read_text(encoding="utf-8")))


def test_there_are_own_fixtures_for_every_kind() -> None:
    names = " ".join(path.stem for path in PAIRS)
    for kind in ("A3_", "950PR", "300I-Duo", "wide-26.1.0", "driver-warning", "error_", "info-m", "markdown"):
        assert kind in names


def test_a3_sixteen_dies_pair_by_position_with_dash_power_on_the_second_die() -> None:
    snapshot = parse("A3_Ascend910_8npu-16chip_busy-procs_25.2.0.txt")
    assert len(snapshot.chips) == 16 and len(snapshot.processes) == 32
    assert [(chip.npu, chip.chip, chip.phy_id) for chip in snapshot.chips[:4]] == [
        (0, 0, 0), (0, 1, 1), (1, 0, 2), (1, 1, 3)
    ]
    assert all(chip.power_w is None for chip in snapshot.chips if chip.chip == 1)
    assert all(chip.power_w is not None for chip in snapshot.chips if chip.chip == 0)
    assert snapshot.chips[11].health == "Warning"
    assert {process.chip for process in snapshot.processes} == {0, 1}


def test_300i_duo_gives_two_chips_per_card_sharing_one_bus_id_and_ddr_only() -> None:
    snapshot = parse("310P3_300I-Duo_2card-4chip_procs_25.5.1.txt")
    assert [(chip.npu, chip.chip) for chip in snapshot.chips] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert snapshot.chips[0].bus_id == snapshot.chips[1].bus_id == "0000:3B:00.0"
    assert all(chip.hbm_used_mb is None and chip.hbm_total_mb is None for chip in snapshot.chips)
    assert all(chip.power_w is None and chip.phy_id is None for chip in snapshot.chips)
    assert snapshot.chips[1].memory_total_mb == 43693


def test_950_has_no_chip_index_and_reports_npu_util() -> None:
    snapshot = parse("950PR_4npu_alarm_procs_25.7.rc1.txt")
    assert [chip.chip for chip in snapshot.chips] == [None] * 4
    wedged = snapshot.chips[2]
    assert (wedged.health, wedged.util_pct, wedged.hbm_total_mb) == ("Alarm", 100, 114688)
    assert [process.chip for process in snapshot.processes] == [None] * 3


def test_wide_26x_layout_reads_container_pids_and_na() -> None:
    snapshot = parse("910B4_2npu_wide-26.1.0_container-pids.txt")
    assert [process.container_pid for process in snapshot.processes] == [None, None, None, 7936]


def test_driver_warning_after_the_process_table_is_one_warning_not_an_error() -> None:
    snapshot = parse("910B3_8npu_procs_driver-warning_24.1.0.txt")
    assert snapshot.error is None and len(snapshot.chips) == 8
    assert snapshot.warnings == (
        "[WARNING]The driver package may not be completely installed, which may cause function abnormal. "
        "Please reinstall it.",
    )


def test_markdown_paste_with_prompt_keeps_masked_bus_id_and_drops_the_fences() -> None:
    snapshot = parse("910B4_1npu_markdown-paste-indented_prompt_25.0.rc1.1.txt")
    assert snapshot.warnings == () and snapshot.chips[0].bus_id == "0000:xx:00.0"


def test_dcmi_error_is_the_error_and_the_log_level_chatter_a_warning() -> None:
    snapshot = parse("error_dcmi-8020_device-used.txt")
    assert snapshot.chips == ()
    assert snapshot.error == "dcmi model initialized failed, because the device is used. ret is -8020"
    assert snapshot.warnings == ("DrvMngGetConsoleLogLevel failed. (g_conLogLevel=3)",)


def test_mapping_with_a_phy_id_column_and_real_tabs() -> None:
    text = (NPU_SMI / "A3_info-m_2npu-4chip_phy-id-column_real-tabs.txt").read_text(encoding="utf-8")
    mapping = parse_npu_smi_mapping(text).mapping
    assert [(row.npu, row.chip, row.logic_id) for row in mapping] == [(0, 0, 0), (0, 1, 1), (4, 0, 2), (4, 1, 3)]
