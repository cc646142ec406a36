"""Printing `npu-smi info` tables the way each driver generation prints them, for tests.

Each layout is written down cell width by cell width from the samples in the
shared corpus (FORMATS.md §1), and `tests/devices/test_render.py` checks that
rendering what a real sample says gives that sample back byte for byte. With
that anchor, the round-trip property (render random readings, parse them, get
the same readings) exercises the parser on every layout without hand-written
tables.

Every rendered line carries a tag saying which reading it prints, so a test
can cut the text anywhere and work out what a parser should still see.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from tui.devices.snapshot import ChipReading, DeviceProcess, DeviceSnapshot

WARNING_LINE = (
    "[WARNING]The driver package may not be completely installed, "
    "which may cause function abnormal. Please reinstall it."
)


def _na(value: object) -> str:
    return "NA" if value is None else str(value)


def _power(value: float | None, second_die: bool) -> str:
    if value is None:
        return "-" if second_die else "NA"
    return f"{value:.1f}"


def _pair(used: int | None, total: int | None, used_width: int, total_width: int) -> str:
    return f"{_na(used):<{used_width}}/ {_na(total):<{total_width}}"


@dataclass(frozen=True)
class Layout:
    """One driver generation's table, as widths and fixed header lines."""

    name: str
    width: int
    version_at: int
    cells: tuple[int, ...]  # device-table separator cells
    header: tuple[str, str]
    npu_cell: Callable[[ChipReading], str]  # row 1, before health
    chip_cell: Callable[[ChipReading, int], str]  # row 2, before bus id; the int is the row pair's position
    side: int  # width of the health / bus-id cell text
    row1_right: Callable[[ChipReading], str]
    row2_right: Callable[[ChipReading], str]
    right: int  # width of the right-hand cell text
    die_separator: str  # "cells" (310 family) or "full" (A3), between chips of one card
    hugepages: bool = True
    hbm: bool = True
    wide_id: bool = False  # the 950's `NPU ID | Name` cells
    process_header: str | None = None
    process_cells: tuple[int, ...] = ()  # process-table separator cells
    process_row: Callable[[DeviceProcess], str] | None = None
    container_pid: bool = False

    @property
    def chip_index(self) -> bool:
        return not self.wide_id

    @property
    def phy_id(self) -> bool:
        return self.die_separator == "full"


def _border(cells: Sequence[int], fill: str) -> str:
    return "+" + "+".join(fill * width for width in cells) + "+"


def _910_row1(power: int, temp: int, used: int, total: int) -> Callable[[ChipReading], str]:
    def render(chip: ChipReading) -> str:
        second_die = chip.chip == 1 and chip.phy_id is not None
        return (
            f"{_power(chip.power_w, second_die):<{power}}{_na(chip.temp_c):<{temp}}"
            + _pair(chip.hugepages_used, chip.hugepages_total, used, total)
        )

    return render


def _no_hp_row1(power: int) -> Callable[[ChipReading], str]:
    def render(chip: ChipReading) -> str:
        return f"{_power(chip.power_w, False):<{power}}{_na(chip.temp_c)}"

    return render


def _row2(util: int, mem: tuple[int, int], hbm: tuple[int, int] | None) -> Callable[[ChipReading], str]:
    def render(chip: ChipReading) -> str:
        text = f"{_na(chip.util_pct):<{util}}" + _pair(chip.memory_used_mb, chip.memory_total_mb, *mem)
        if hbm is not None:
            text += _pair(chip.hbm_used_mb, chip.hbm_total_mb, *hbm)
        return text

    return render


def _npu_name(id_width: int, width: int) -> Callable[[ChipReading], str]:
    return lambda chip: f"{chip.npu:<{id_width}}{chip.name or ''}".ljust(width)


def _chip_only(width: int) -> Callable[[ChipReading, int], str]:
    return lambda chip, _: f"{_na(chip.chip):<{width}}"


def _chip_and_phy_id(id_width: int, width: int) -> Callable[[ChipReading, int], str]:
    return lambda chip, _: f"{_na(chip.chip):<{id_width}}{_na(chip.phy_id)}".ljust(width)


def _chip_and_device(id_width: int, width: int) -> Callable[[ChipReading, int], str]:
    """The 310 family's `Chip    Device`: the device (logic) id counts chips down the whole table."""
    return lambda chip, position: f"{_na(chip.chip):<{id_width}}{position}".ljust(width)


def _process(c0: int, npu_width: int, pid: int, name: int, mem: int, cpid: int = 0,
             chip: bool = True) -> Callable[[DeviceProcess], str]:
    def render(process: DeviceProcess) -> str:
        ident = f"{process.npu:<{npu_width}}{_na(process.chip)}" if chip else f"{process.npu}"
        text = (
            f"| {ident:<{c0}}| {process.pid:<{pid}}| {process.name or '':<{name}}"
            f"| {_na(process.memory_mb):<{mem}}|"
        )
        if cpid:
            text += f" {_na(process.container_pid):<{cpid}}|"
        return text

    return render


H910_98 = (
    "| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|",
    "| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |",
)
P910_98 = "| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |"

LAYOUTS: dict[str, Layout] = {}


def _add(layout: Layout) -> None:
    LAYOUTS[layout.name] = layout


_add(Layout(
    name="910-98", width=98, version_at=35, cells=(27, 15, 52), header=H910_98,
    npu_cell=_npu_name(6, 26), chip_cell=_chip_only(26), side=14,
    row1_right=_910_row1(12, 18, 5, 14), row2_right=_row2(12, (5, 11), (5, 14)), right=51,
    die_separator="cells", process_header=P910_98, process_cells=(27, 15, 52),
    process_row=_process(26, 8, 14, 25, 24),
))
_add(replace(
    LAYOUTS["910-98"], name="A3-98",
    header=(H910_98[0], H910_98[1].replace("| Chip                ", "| Chip  Phy-ID        ")),
    chip_cell=_chip_and_phy_id(6, 26), die_separator="full",
))
_add(Layout(
    name="910-116", width=116, version_at=46, cells=(27, 15, 70),
    header=(
        "| NPU   Name                | Health        | Power(W)             Temp(C)                 "
        "Hugepages-Usage(page)   |",
        "| Chip                      | Bus-Id        | AICore(%)            Memory-Usage(MB)        "
        "HBM-Usage(MB)           |",
    ),
    npu_cell=_npu_name(6, 26), chip_cell=_chip_only(26), side=14,
    row1_right=_910_row1(21, 24, 5, 17), row2_right=_row2(21, (5, 17), (5, 17)), right=69,
    die_separator="cells",
    process_header="| NPU     Chip              | Process id    | Process name       | Process memory(MB)    "
    "| Process id in container |",
    process_cells=(27, 15, 70), process_row=_process(26, 8, 14, 19, 22, cpid=24), container_pid=True,
))
_add(Layout(
    name="910-93", width=93, version_at=35, cells=(22, 15, 52),
    header=(
        "| NPU   Name           | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|",
        "| Chip                 | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |",
    ),
    npu_cell=_npu_name(6, 21), chip_cell=_chip_only(21), side=14,
    row1_right=_910_row1(12, 18, 5, 14), row2_right=_row2(12, (5, 11), (5, 14)), right=51,
    die_separator="cells",
    process_header="| NPU     Chip         | Process id    | Process name             "
    "| Process memory(MB)      |",
    process_cells=(22, 15, 52), process_row=_process(21, 8, 14, 25, 24),
))
_add(Layout(
    name="910-86", width=86, version_at=35, cells=(22, 15, 45),
    header=(
        "| NPU   Name           | Health        | Power(W)   Temp(C)                          |",
        "| Chip                 | Bus-Id        | AICore(%)  Memory-Usage(MB)  HBM-Usage(MB)  |",
    ),
    npu_cell=_npu_name(6, 21), chip_cell=_chip_only(21), side=14,
    row1_right=_no_hp_row1(11), row2_right=_row2(11, (5, 11), (5, 8)), right=44,
    die_separator="cells", hugepages=False,
))
_add(Layout(
    name="310-80", width=80, version_at=39, cells=(19, 17, 40),
    header=(
        "| NPU     Name      | Health          | Power(W)          Temp(C)              |",
        "| Chip    Device    | Bus-Id          | AICore(%)         Memory-Usage(MB)     |",
    ),
    npu_cell=_npu_name(8, 18), chip_cell=_chip_and_device(8, 18), side=16,
    row1_right=_no_hp_row1(18), row2_right=_row2(18, (5, 14), None), right=39,
    die_separator="cells", hugepages=False, hbm=False,
))
H310P = (
    "| Health          | Power(W)     Temp(C)           Hugepages-Usage(page) |",
    "| Bus-Id          | AICore(%)    Memory-Usage(MB)                        |",
)
_add(Layout(
    name="310P-94", width=94, version_at=39, cells=(19, 17, 54),
    header=("| NPU     Name      " + H310P[0], "| Chip    Device    " + H310P[1]),
    npu_cell=_npu_name(8, 18), chip_cell=_chip_and_device(8, 18), side=16,
    row1_right=_910_row1(13, 18, 5, 15), row2_right=_row2(13, (5, 33), None), right=53,
    die_separator="cells", hbm=False,
))
_add(replace(
    LAYOUTS["310P-94"], name="310P-106-v22", width=106, version_at=51, cells=(31, 17, 54),
    header=("| NPU     Name                  " + H310P[0], "| Chip    Device                " + H310P[1]),
    npu_cell=_npu_name(8, 30), chip_cell=_chip_and_device(8, 30),
))
_add(replace(
    LAYOUTS["310P-106-v22"], name="310P-106", row1_right=_910_row1(13, 18, 6, 14),
    process_header="| NPU     Chip                  | Process id      | Process name             "
    "| Process memory(MB)        |",
    process_cells=(31, 17, 54), process_row=_process(30, 8, 16, 25, 26),
))
_add(Layout(
    name="950-99", width=99, version_at=51, cells=(8, 18, 15, 53),
    header=(
        "| NPU ID | Name             | Health        | Power(W)    Temp(C)           Hugepages-Usage(page) |",
        "|        |                  | Bus-Id        | NPU Util(%) Memory-Usage(MB)  HBM-Usage(MB)         |",
    ),
    npu_cell=lambda chip: f"{chip.npu:<7}| {chip.name or '':<17}",
    chip_cell=lambda chip, _: f"{'':<7}| {'':<17}",
    side=14, row1_right=_910_row1(12, 18, 6, 14), row2_right=_row2(12, (5, 11), (6, 14)), right=52,
    die_separator="cells", wide_id=True,
    process_header="| NPU ID                    | Process id    | Process name             "
    "| Process memory(MB)       |",
    process_cells=(27, 15, 53), process_row=_process(26, 8, 14, 25, 24, chip=False),
))
_add(replace(
    LAYOUTS["950-99"], name="950-116", width=116, cells=(8, 18, 15, 70),
    header=(
        "| NPU ID | Name             | Health        | Power(W)              Temp(C)                  "
        "Hugepages-Usage(page) |",
        "|        |                  | Bus-Id        | NPU Util(%)           Memory-Usage(MB)         "
        "HBM-Usage(MB)         |",
    ),
    row1_right=_910_row1(22, 25, 6, 14), row2_right=_row2(22, (6, 17), (6, 14)), right=69,
    process_header="| NPU ID                    | Process id    | Process name       | Process memory(MB)    "
    "| Process id in container |",
    process_cells=(27, 15, 70), process_row=_process(26, 8, 14, 19, 22, cpid=24, chip=False),
    container_pid=True,
))


@dataclass(frozen=True)
class Line:
    """One printed line and what it prints: kind "title", "npu", "chip", "process" or "", and an index."""

    text: str
    kind: str = ""
    index: int = -1


def render_lines(
    layout: Layout, snapshot: DeviceSnapshot, *, process_table: bool = True, warning: bool = False
) -> list[Line]:
    """The table for `snapshot` (chips grouped by card in order, processes grouped by NPU in card order)."""
    width = layout.width
    lines = [Line("+" + "-" * (width - 2) + "+")]
    if snapshot.tool_version is not None:
        tool, driver = snapshot.tool_version, snapshot.driver_version
        title = f"| npu-smi {tool:<{layout.version_at - 10}}Version: {driver}"
        lines.append(Line(f"{title:<{width - 1}}|", "title"))
    lines.append(Line(_border(layout.cells, "-")))
    lines += [Line(layout.header[0]), Line(layout.header[1]), Line(_border(layout.cells, "="))]
    chips = snapshot.chips
    for index, chip in enumerate(chips):
        lines.append(Line(f"| {layout.npu_cell(chip)}| {chip.health or 'NA':<{layout.side}}"
                          f"| {layout.row1_right(chip):<{layout.right}}|", "npu", index))
        lines.append(Line(f"| {layout.chip_cell(chip, index)}| {chip.bus_id or 'NA':<{layout.side}}"
                          f"| {layout.row2_right(chip):<{layout.right}}|", "chip", index))
        last_of_card = index + 1 == len(chips) or chips[index + 1].npu != chip.npu
        if last_of_card:
            lines.append(Line(_border(layout.cells, "=")))
        elif layout.die_separator == "full":
            lines.append(Line("+" + "-" * (width - 2) + "+"))
        else:
            lines.append(Line(_border(layout.cells, "-")))
    if process_table and layout.process_row is not None and layout.process_header is not None:
        separator = _border(layout.process_cells, "=")
        lines += [Line(_border(layout.process_cells, "-")), Line(layout.process_header), Line(separator)]
        for npu in dict.fromkeys(chip.npu for chip in chips):
            rows = [(i, p) for i, p in enumerate(snapshot.processes) if p.npu == npu]
            if not rows:
                lines.append(Line(f"| {f'No running processes found in NPU {npu}':<{width - 3}}|"))
            lines += [Line(layout.process_row(process), "process", i) for i, process in rows]
            lines.append(Line(separator))
    if warning:
        lines.append(Line(WARNING_LINE))
    return lines


def render(layout: Layout, snapshot: DeviceSnapshot, **options: bool) -> str:
    return "".join(line.text + "\n" for line in render_lines(layout, snapshot, **options))


def expected_after_cut(
    snapshot: DeviceSnapshot, kept: Sequence[Line], warning: bool = False
) -> DeviceSnapshot:
    """What a parser should read from only the `kept` lines of a rendering of `snapshot`."""
    kinds = {(line.kind, line.index) for line in kept}
    chips = []
    for index, chip in enumerate(snapshot.chips):
        if ("chip", index) in kinds:
            chips.append(chip)
        elif ("npu", index) in kinds:
            chips.append(replace(
                chip, chip=None, phy_id=None, bus_id=None, util_pct=None, memory_used_mb=None,
                memory_total_mb=None, hbm_used_mb=None, hbm_total_mb=None,
            ))
    titled = ("title", -1) in kinds
    return replace(
        snapshot,
        tool_version=snapshot.tool_version if titled else None,
        driver_version=snapshot.driver_version if titled else None,
        chips=tuple(chips),
        processes=tuple(p for i, p in enumerate(snapshot.processes) if ("process", i) in kinds),
        warnings=(WARNING_LINE,) if warning and kept and kept[-1].text == WARNING_LINE else (),
    )
