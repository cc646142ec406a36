"""The parser on the corners FORMATS.md warns about, one small table at a time."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.devices.shared_corpus import OWN_FIXTURES
from tui.devices.npu_smi_parser import parse_npu_smi_info

H1_910 = "| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|"
H2_910 = "| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |"
ROW1 = "| 0     910B3               | OK            | 101.8       43                0    / 0             |"
ROW2 = "| 0                         | 0000:C1:00.0  | 0           0    / 0          3318 / 65536         |"
EQ = "+===========================+===============+====================================================+"


def table(*rows: str) -> str:
    return "\n".join([H1_910, H2_910, EQ, *rows]) + "\n"


def test_na_dash_and_empty_cells_are_none_but_an_empty_name_is_empty() -> None:
    snapshot = parse_npu_smi_info(table(
        "| 3                         | NA            | -           NA                0    / 0             |",
        "| 0                         | NA            | NA          0    / 0          NA   / NA            |",
    ))
    (chip,) = snapshot.chips
    assert chip.name == "" and chip.health is None and chip.power_w is None and chip.temp_c is None
    assert chip.bus_id is None and chip.util_pct is None and chip.hbm_used_mb is None
    assert chip.memory_used_mb == 0 and snapshot.warnings == ()


def test_sparse_and_large_npu_ids_key_the_chips() -> None:
    snapshot = parse_npu_smi_info(table(ROW1.replace("| 0     ", "| 32768 "), ROW2, EQ,
                                        ROW1.replace("| 0     ", "| 2     "), ROW2))
    assert [chip.npu for chip in snapshot.chips] == [32768, 2]


def test_a_chip_named_like_a_header_word_stays_a_data_row() -> None:
    row1 = ROW1.replace("910B3     ", "Health Bus")
    snapshot = parse_npu_smi_info(table(row1, ROW2))
    assert snapshot.chips[0].name == "Health Bus"


def test_a_process_named_npu_smi_is_a_process_not_a_title() -> None:
    text = table(ROW1, ROW2, EQ) + (
        "| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |\n"
        "| 0       0                 | 4242          | npu-smi Version: 1       | 12                      |\n"
    )
    snapshot = parse_npu_smi_info(text)
    assert snapshot.tool_version is None
    assert [(p.pid, p.name, p.memory_mb) for p in snapshot.processes] == [(4242, "npu-smi Version: 1", 12)]


def test_a_row_cut_mid_value_drops_the_half_value() -> None:
    snapshot = parse_npu_smi_info(table("| 0     910B3               | OK            | 101.8       4"))
    (chip,) = snapshot.chips
    assert (chip.power_w, chip.temp_c, chip.hugepages_used) == (101.8, None, None)


def test_a_row_cut_after_whitespace_keeps_the_last_whole_value() -> None:
    snapshot = parse_npu_smi_info(table("| 0     910B3               | OK            | 101.8       43    "))
    assert snapshot.chips[0].temp_c == 43


def test_a_chip_row_cut_in_its_hbm_pair_keeps_memory_and_drops_hbm() -> None:
    cut = "| 0                         | 0000:C1:00.0  | 7           0    / 0          3318 / 655"
    snapshot = parse_npu_smi_info(table(ROW1, cut))
    chip = snapshot.chips[0]
    assert (chip.util_pct, chip.memory_total_mb, chip.hbm_used_mb, chip.hbm_total_mb) == (7, 0, None, None)


def test_unreadable_values_are_none_and_a_warning() -> None:
    snapshot = parse_npu_smi_info(table(ROW1.replace("43 ", "xx"), ROW2))
    assert snapshot.chips[0].temp_c is None
    assert snapshot.warnings == ("NPU 0: could not read Temp(C) 'xx'",)


def test_a_chip_row_without_its_npu_row_is_a_warning() -> None:
    snapshot = parse_npu_smi_info(ROW2 + "\n" + EQ + "\n" + ROW1 + "\n" + ROW2 + "\n")
    assert len(snapshot.chips) == 1 and snapshot.chips[0].bus_id == "0000:C1:00.0"
    assert snapshot.warnings == (f"a chip row without its NPU row above it: {ROW2}",)


def test_a_310_chip_row_with_bus_id_na_is_not_taken_for_an_npu_row() -> None:
    snapshot = parse_npu_smi_info(
        "| 0       0         | NA              | 0                 5324 / 8192          |\n"
        "+===================+=================+========================================+\n"
        "| 1       310       | OK              | 12.8              58                   |\n"
        "| 0       1         | NA              | 3                 727  / 8192          |\n"
    )
    assert [(chip.npu, chip.name, chip.memory_used_mb) for chip in snapshot.chips] == [(1, "310", 727)]
    assert len(snapshot.warnings) == 1 and snapshot.warnings[0].startswith("a chip row without its NPU row")


def test_id_and_name_separated_by_a_tab_are_still_two_values() -> None:
    snapshot = parse_npu_smi_info(table(ROW1.replace("0     910B3", "0\t910B3    "), ROW2))
    assert (snapshot.chips[0].npu, snapshot.chips[0].name) == (0, "910B3")


def test_headerless_rows_take_the_layout_from_their_shape() -> None:
    a3 = parse_npu_smi_info(
        "| 4     Ascend910           | OK            | -           51                0    / 0             |\n"
        "| 1     9                   | 0000:8F:00.0  | 0           0    / 0          45292/ 65536         |\n"
    ).chips[0]
    duo = parse_npu_smi_info(
        "| 1       310P3                 | OK              | NA           52                0     / 0             |\n"
        "| 1       3                     | 0000:3B:00.0    | 37           35966/ 43693                            |\n"
    ).chips[0]
    assert (a3.chip, a3.phy_id, a3.hbm_total_mb) == (1, 9, 65536)
    assert (duo.chip, duo.phy_id, duo.memory_total_mb, duo.hbm_total_mb) == (1, None, 43693, None)


def test_info_and_mapping_in_one_paste_fill_both() -> None:
    mapping = (OWN_FIXTURES / "npu-smi" / "A3_info-m_2npu-4chip_phy-id-column_real-tabs.txt").read_text()
    snapshot = parse_npu_smi_info(table(ROW1, ROW2, EQ) + "\n" + mapping)
    assert len(snapshot.chips) == 1 and len(snapshot.mapping) == 4 and snapshot.warnings == ()


def test_a_wrapped_driver_warning_is_joined_and_a_later_line_is_not() -> None:
    snapshot = parse_npu_smi_info(
        "[WARNING]The driver package may not be completely installed, \n"
        "which may cause function abnormal. Please reinstall it.\n"
        "something else entirely\n"
    )
    assert snapshot.warnings == (
        "[WARNING]The driver package may not be completely installed, which may cause function abnormal. "
        "Please reinstall it.",
        "something else entirely",
    )


@pytest.mark.parametrize("line", [
    "dcmi module initialize failed. ret is -8005",
    "npu-smi: error while loading shared libraries: libc_sec.so: cannot open shared object file: "
    "No such file or directory",
    "-bash: npu-smi: command not found",
    "bash: /usr/local/sbin/npu-smi: No such file or directory",
    "This device does not support querying power.",
    "There is no NPU card on this server.",
    "The parameter is invalid.",
])
def test_error_lines_are_the_error_verbatim(line: str) -> None:
    snapshot = parse_npu_smi_info(f"DrvMngGetConsoleLogLevel failed. (g_conLogLevel=3)\n{line}\n")
    assert (snapshot.chips, snapshot.error) == ((), line)
    assert snapshot.warnings == ("DrvMngGetConsoleLogLevel failed. (g_conLogLevel=3)",)


def test_snapshot_values_are_frozen() -> None:
    snapshot = parse_npu_smi_info(table(ROW1, ROW2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.chips[0].temp_c = 0  # type: ignore[misc]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("|+-=/ \t\n0123456789.:ANOKPUChipsdNPU IDxX²٣\r")) | st.characters(),
               max_size=400))
def test_the_parser_never_raises_on_any_text(text: str) -> None:
    snapshot = parse_npu_smi_info(text)
    assert all(not warning.startswith("npu-console could not read") for warning in snapshot.warnings)


SAMPLE = (OWN_FIXTURES / "npu-smi" / "A3_Ascend910_8npu-16chip_busy-procs_25.2.0.txt").read_text()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(SAMPLE)), st.integers(0, 40), st.text(max_size=3)), max_size=6))
def test_the_parser_never_raises_on_a_mangled_table(edits: list[tuple[int, int, str]]) -> None:
    text = SAMPLE
    for at, cut, insert in edits:
        text = text[:at] + insert + text[at + cut:]
    snapshot = parse_npu_smi_info(text)
    assert all(not warning.startswith("npu-console could not read") for warning in snapshot.warnings)
    assert len(snapshot.chips) <= 16 + len(edits) * 2
