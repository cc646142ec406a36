"""The one rule for a chip's memory: HBM where the chip has it, else the Memory-Usage pair (310 DDR)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tui.devices.chip_memory import chip_memory_mb, chip_memory_used_mb
from tui.devices.npu_smi_parser import parse_npu_smi_info

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "npu-smi"


def test_a_910b_chip_reads_its_hbm() -> None:
    chip = parse_npu_smi_info((FIXTURES / "910B3_8npu_procs_driver-warning_24.1.0.txt").read_text()).chips[0]
    assert chip.hbm_used_mb is not None and chip.hbm_total_mb is not None
    assert chip_memory_mb(chip) == (chip.hbm_used_mb, chip.hbm_total_mb)
    assert chip_memory_used_mb(chip) == chip.hbm_used_mb


def test_a_310p_chip_without_hbm_reads_its_ddr() -> None:
    chip = parse_npu_smi_info((FIXTURES / "310P3_300I-Duo_2card-4chip_procs_25.5.1.txt").read_text()).chips[0]
    assert chip.hbm_used_mb is None and chip.hbm_total_mb is None and chip.memory_used_mb is not None
    assert chip_memory_mb(chip) == (chip.memory_used_mb, chip.memory_total_mb)
    assert chip_memory_used_mb(chip) == chip.memory_used_mb


def test_a_chip_with_no_memory_reading_has_none() -> None:
    chip = parse_npu_smi_info((FIXTURES / "910B3_8npu_procs_driver-warning_24.1.0.txt").read_text()).chips[0]
    blank = dataclasses.replace(chip, hbm_used_mb=None, hbm_total_mb=None, memory_used_mb=None, memory_total_mb=None)
    assert chip_memory_mb(blank) == (None, None) and chip_memory_used_mb(blank) is None
