"""Reading the device and process tables of `npu-smi info`, line by line.

Every layout in the corpus (FORMATS.md §1) is read by one state machine:

* The layout is learned from header words, never from widths or versions:
  `Hugepages` in header row 1, `HBM-Usage`, `Phy-ID` or `Device` in header
  row 2, `NPU ID |` for the 950's separate id cell. A paste that lost its
  header falls back on the rows' own shape (how many cells, how many
  `used / total` pairs).
* A chip is two rows paired by position: the first row after a border is the
  NPU row (id, name, health, power, temperature, hugepages), the next one the
  chip row (chip index, bus id, utilization, memory, HBM). Rows are never told
  apart by "starts with a number": both do, and so do process rows.
* A table cut short keeps what it shows: an NPU row without its chip row
  still gives a chip, with the chip row's fields None.

Anything that is not a table line goes to the message collector (errors,
warnings); anything in the table that cannot be read becomes a warning. The
machine never raises on input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from tui.devices.npu_smi_cells import (
    MISSING,
    Reader,
    Row,
    is_border,
    pick,
    pick_pair,
    split_row,
    split_values,
    text_value,
)
from tui.devices.npu_smi_mapping import MappingReader
from tui.devices.npu_smi_messages import MessageCollector
from tui.devices.snapshot import ChipReading, DeviceProcess, DeviceSnapshot

BACKEND = "npu-smi"

_TITLE = re.compile(r"npu-smi\s+(\S+)(?:\s+Version:\s*(\S+))?")
_BUS_ID = re.compile(r"^[0-9A-Fa-fx]{4,8}:[0-9A-Fa-fx]{2}:")
_NO_PROCESSES = "No running processes found"


@dataclass(slots=True)
class _Layout:
    """What the header said; None where no header was seen (then the rows' shape decides)."""

    hugepages: bool | None = None
    hbm: bool | None = None
    second_id: str | None = None  # "phy" (A3 `Chip  Phy-ID`), "device" (310 `Chip    Device`), "" (none)
    id_cell: bool | None = None  # the 950's `NPU ID | Name` split


class _NpuRow(NamedTuple):
    """The first row of a chip, waiting for its second (a named tuple: one is made per chip, cheaply)."""

    npu: int
    name: str | None
    health: str | None
    power_w: float | None
    temp_c: int | None
    hugepages_used: int | None
    hugepages_total: int | None


class InfoTableParser:
    """Feed it the lines of an `npu-smi info` output (and/or `npu-smi info -m`), then call `finish()`."""

    def __init__(self, *, expect_mapping: bool = False) -> None:
        self.warnings: list[str] = []
        self._messages = MessageCollector(self.warnings)
        self._read = Reader(self.warnings)
        self._mapping = MappingReader(self._read, assume_header=expect_mapping)
        self._chips: list[ChipReading] = []
        self._processes: list[DeviceProcess] = []
        self._tool_version: str | None = None
        self._driver_version: str | None = None
        self._section = ""
        self._layout = _Layout()
        self._pending: _NpuRow | None = None

    # ---- driving -------------------------------------------------------------------------------

    def feed(self, raw: str) -> None:
        """One line of output, as printed or pasted (indentation and trailing spaces allowed)."""
        line = raw.strip()
        if not line:
            self._messages.close()
            return
        first = line[0]
        if first == "|":
            self._messages.close()
            self._table_row(line, raw)
        elif first == "+" and is_border(line):
            self._messages.close()
            self._flush_pending()
        elif self._mapping.try_line(line):
            self._messages.close()
        else:
            self._messages.add(line)

    def finish(self) -> DeviceSnapshot:
        self._flush_pending()
        return DeviceSnapshot(
            backend=BACKEND,
            tool_version=self._tool_version,
            driver_version=self._driver_version,
            chips=tuple(self._chips),
            processes=tuple(self._processes),
            mapping=self._mapping.rows(),
            warnings=tuple(self.warnings),
            error=self._messages.error,
        )

    # ---- rows ----------------------------------------------------------------------------------

    def _table_row(self, line: str, raw: str) -> None:
        lead = line[1:].lstrip()
        if not lead[:1].isdigit() and self._special_row(line, lead):
            return
        row = split_row(line, raw)
        count = len(row.cells)
        if self._section == "processes":
            self._process_row(row, line)
        elif count >= 4 and self._is_process_shaped(row):
            self._flush_pending()
            self._section = "processes"
            self._process_row(row, line)
        elif count >= 3 or self._may_be_cut_device_row(row):
            self._device_row(row, line)
        else:
            self.warnings.append(line)

    def _special_row(self, line: str, lead: str) -> bool:
        """Title, header and `No running processes` rows; True when `line` was one.

        Only rows whose first cell does not start with a digit get here, so a
        process named `npu-smi` or a chip named `Health` stays a data row.
        """
        if lead.startswith("npu-smi"):
            return self._title(line)
        if lead.startswith(_NO_PROCESSES):
            self._flush_pending()
            self._section = "processes"
            return True
        if "Process id" in line or "Process name" in line:
            self._flush_pending()
            self._section = "processes"
            return True
        if "Bus-Id" in line:
            self._header_two(line)
            return True
        if "Health" in line:
            self._header_one(line)
            return True
        return False

    def _title(self, line: str) -> bool:
        match = _TITLE.search(line)
        if match is None:
            return False
        self._tool_version = match.group(1)
        self._driver_version = match.group(2)
        return True

    def _header_one(self, line: str) -> None:
        self._flush_pending()
        self._section = "devices"
        self._layout = _Layout(hugepages="Hugepages" in line, id_cell="NPU ID" in line)

    def _header_two(self, line: str) -> None:
        self._flush_pending()
        self._section = "devices"
        layout = self._layout
        layout.hbm = "HBM" in line
        layout.second_id = "phy" if "Phy-ID" in line else "device" if "Device" in line else ""
        if layout.id_cell is None and line.count("|") >= 5:
            layout.id_cell = True

    def _may_be_cut_device_row(self, row: Row) -> bool:
        """A row of under 3 cells is a device row only when cut short, or when an NPU row awaits it."""
        if self._pending is not None and len(row.cells) >= 2:
            return True
        return not row.complete and self._section == "devices"

    def _is_process_shaped(self, row: Row) -> bool:
        """A 4+-cell row with no header above: process rows end in one number, 950 chip rows in several."""
        if self._layout.id_cell and self._section == "devices":
            return False
        return len(row.cells[3].split()) <= 1 and row.cells[1].isdigit()

    def _device_row(self, row: Row, line: str) -> None:
        self._section = "devices"
        wide = self._layout.id_cell
        if wide is None:
            wide = len(row.cells) >= 4
        pending = self._pending
        if pending is None:
            if self._looks_like_chip_row(row, wide):
                self.warnings.append(f"a chip row without its NPU row above it: {line}")
                return
            self._pending = self._npu_row(row, wide, line)
        else:
            self._pending = None
            self._chips.append(self._chip(pending, row, wide))

    def _looks_like_chip_row(self, row: Row, wide: bool) -> bool:
        """A first row that is really a chip row (a paste cut between the two): warn rather than mis-pair.

        A chip row has a bus id where the NPU row has its health; with the bus id `NA`, its right cell
        gives it away (one utilization number, then pairs; the NPU row starts with power and temperature).
        """
        cells = row.cells
        if wide:
            return not cells[0]
        if len(cells) < 3:
            return False
        if _BUS_ID.match(cells[1]) is not None:
            return True
        if cells[1] not in MISSING:
            return False
        right = split_values(cells[2])
        return len(right.scalars) == 1 and bool(right.pairs)

    def _npu_row(self, row: Row, wide: bool, line: str) -> _NpuRow | None:
        cells = row.cells
        if wide:
            npu_text: str | None = cells[0]
            name: str | None = cells[1] if len(cells) > 1 else None
            name_cut = row.is_cut(1)
            rest = 2
        else:
            id_and_name = cells[0].split(None, 1)
            npu_text = id_and_name[0] if id_and_name else ""
            name = id_and_name[1] if len(id_and_name) > 1 else ""
            name_cut = row.is_cut(0)
            rest = 1
        if name == "" and name_cut:
            name = None
        if not npu_text or not npu_text.isdecimal():
            self.warnings.append(f"could not read the NPU id of: {line}")
            return None
        npu = int(npu_text)
        where = f"NPU {npu}"
        right = split_values(cells[rest + 1]) if len(cells) > rest + 1 else split_values("")
        hugepages_used, hugepages_total = pick_pair(right.pairs, 0)
        if self._layout.hugepages is False:
            hugepages_used = hugepages_total = None
        return _NpuRow(
            npu=npu,
            name=name,
            health=text_value(pick(cells, rest)),
            power_w=self._read.number(pick(right.scalars, 0), "Power(W)", where),
            temp_c=self._read.integer(pick(right.scalars, 1), "Temp(C)", where),
            hugepages_used=self._read.integer(hugepages_used, "Hugepages-Usage", where),
            hugepages_total=self._read.integer(hugepages_total, "Hugepages-Usage", where),
        )

    def _chip(self, npu: _NpuRow, row: Row, wide: bool) -> ChipReading:
        cells = row.cells
        where = f"NPU {npu.npu}"
        layout = self._layout
        if wide:
            chip: int | None = None
            second: str | None = None
            rest = 2
        else:
            ids = cells[0].split()
            chip = self._read.integer(ids[0], "the chip index", where) if ids else None
            second = ids[1] if len(ids) > 1 else None
            rest = 1
        where = f"NPU {npu.npu} chip {chip}" if chip is not None else where
        right = split_values(cells[rest + 1]) if len(cells) > rest + 1 else split_values("")
        memory_used, memory_total = pick_pair(right.pairs, 0)
        hbm_used, hbm_total = pick_pair(right.pairs, 1)
        if layout.hbm is False:
            hbm_used = hbm_total = None
        phy_id = None
        if second is not None and (layout.second_id == "phy" or (layout.second_id is None and hbm_total)):
            phy_id = self._read.integer(second, "the Phy-ID", where)
        reader = self._read
        return ChipReading(
            npu=npu.npu,
            chip=chip,
            phy_id=phy_id,
            name=npu.name,
            health=npu.health,
            power_w=npu.power_w,
            temp_c=npu.temp_c,
            hugepages_used=npu.hugepages_used,
            hugepages_total=npu.hugepages_total,
            bus_id=text_value(pick(cells, rest)),
            util_pct=reader.integer(pick(right.scalars, 0), "the utilization", where),
            memory_used_mb=reader.integer(memory_used, "Memory-Usage", where),
            memory_total_mb=reader.integer(memory_total, "Memory-Usage", where),
            hbm_used_mb=reader.integer(hbm_used, "HBM-Usage", where),
            hbm_total_mb=reader.integer(hbm_total, "HBM-Usage", where),
        )

    def _flush_pending(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._chips.append(_chip_from_npu_row(pending))

    def _process_row(self, row: Row, line: str) -> None:
        """`| npu [chip] | pid | name | MB [| pid in container] |`; the 950 prints no chip."""
        cells = row.cells
        ids = cells[0].split()
        reader = self._read
        npu = reader.integer(ids[0], "the NPU id", "process row") if ids else None
        pid = reader.integer(cells[1], "the process id", "process row") if len(cells) > 1 else None
        if npu is None or pid is None:
            self.warnings.append(line)
            return
        where = f"NPU {npu} process {pid}"
        name = cells[2] if len(cells) > 2 else None
        if name == "" and row.is_cut(2):
            name = None
        self._processes.append(
            DeviceProcess(
                npu=npu,
                chip=reader.integer(ids[1], "the chip index", where) if len(ids) > 1 else None,
                pid=pid,
                container_pid=reader.integer(pick(cells, 4), "the process id in container", where),
                name=name,
                memory_mb=reader.integer(pick(cells, 3), "Process memory(MB)", where),
            )
        )


def _chip_from_npu_row(npu: _NpuRow) -> ChipReading:
    """An NPU row whose chip row was never printed (a cut paste): the chip row's fields are None."""
    return ChipReading(
        npu=npu.npu, chip=None, phy_id=None, name=npu.name, health=npu.health, power_w=npu.power_w,
        temp_c=npu.temp_c, hugepages_used=npu.hugepages_used, hugepages_total=npu.hugepages_total,
        bus_id=None, util_pct=None, memory_used_mb=None, memory_total_mb=None, hbm_used_mb=None,
        hbm_total_mb=None,
    )
