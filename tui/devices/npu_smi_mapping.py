"""Reading `npu-smi info -m`: which logic id each (NPU, chip) has.

The output is whitespace columns padded to 30 (`NPU ID  Chip ID  Chip Logic ID
Chip Name`), with a leading TAB that pastes show as 8 spaces or drop. Columns
are found by their header words, not by offsets: the A3 adds `Chip Phy-ID`,
the 950 adds `Slot ID`, and pastes collapse the padding. Only `Chip Name` may
hold spaces (`Ascend 910B4`), so a row is split on whitespace and the extra
words go to the name. Mcu rows (Logic ID `-`) are kept with `logic_id` None.
"""

from __future__ import annotations

import re

from tui.devices.npu_smi_cells import Reader
from tui.devices.snapshot import ChipMapping

DEFAULT_COLUMNS = ("NPU ID", "Chip ID", "Chip Logic ID", "Chip Name")
_COLUMN_GAP = re.compile(r"\s{2,}|\t")


def is_mapping_header(line: str) -> bool:
    return "Chip Logic ID" in line or ("NPU ID" in line and "Chip ID" in line and "Chip Name" in line)


class MappingReader:
    """Collects mapping rows from text lines; `try_line` says whether a line was one of its own."""

    __slots__ = ("_columns", "_read", "_rows")

    def __init__(self, read: Reader, *, assume_header: bool = False) -> None:
        self._read = read
        self._columns: tuple[str, ...] | None = DEFAULT_COLUMNS if assume_header else None
        self._rows: list[ChipMapping] = []

    def rows(self) -> tuple[ChipMapping, ...]:
        return tuple(self._rows)

    def try_line(self, line: str) -> bool:
        """Take `line` (stripped) if it is the mapping header or a mapping row under one."""
        if is_mapping_header(line):
            self._columns = tuple(column for column in _COLUMN_GAP.split(line) if column)
            return True
        columns = self._columns
        if columns is None or not line[:1].isdigit():
            return False
        values = _split(line.split(), columns)
        if values is None:
            return False
        where = f"mapping row {line!r}"
        npu = self._read.integer(values.get("NPU ID"), "the NPU id", where)
        chip = self._read.integer(values.get("Chip ID"), "the chip id", where)
        if npu is None or chip is None:
            return False
        self._rows.append(
            ChipMapping(
                npu=npu,
                chip=chip,
                logic_id=self._read.integer(values.get("Chip Logic ID"), "the logic id", where),
                name=values.get("Chip Name", ""),
            )
        )
        return True


def _split(tokens: list[str], columns: tuple[str, ...]) -> dict[str, str] | None:
    """Tokens to columns; surplus tokens belong to `Chip Name`, a missing last name is ""."""
    width = len(columns)
    try:
        name_at = columns.index("Chip Name")
    except ValueError:
        name_at = width - 1
    surplus = len(tokens) - width
    if surplus < -1 or (surplus == -1 and name_at != width - 1):
        return None
    if surplus == -1:
        tokens = [*tokens, ""]
        surplus = 0
    name_end = name_at + 1 + surplus
    values = [*tokens[:name_at], " ".join(tokens[name_at:name_end]), *tokens[name_end:]]
    return dict(zip(columns, values, strict=True))
