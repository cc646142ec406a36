"""The Devices area: host strip, one row per chip, and who holds device memory.

The view draws what it is handed (`DeviceState`, the process rows, the host
reading) and does no I/O. Tables are updated cell by cell, and only where a
value changed, so a 2-second poll over 16 chips does not repaint everything.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.devices.chip_memory import chip_memory_mb
from tui.devices.host import HostSnapshot
from tui.devices.poller import ChipHistory, DeviceState, chip_key
from tui.devices.processes import HeldMemory
from tui.devices.snapshot import ChipReading, DeviceSnapshot
from tui.formatting import or_na
from widgets.area import AreaView
from widgets.sparkline_text import sparkline, usage_bar

GIB = 1024**3
TREND_WIDTH = 10
HEALTH_STYLES = {"OK": "bold green", "Warning": "bold yellow", "Alarm": "bold red", "Critical": "bold white on red"}

Cell = str | Text

# Most telling first, so that 80 columns show health and HBM; the trends come last.
CHIP_COLUMNS = ("", "NPU/chip", "Logic", "Name", "Health", "HBM MB", "Util%", "Power W", "Temp°C", "HBM trend",
                "Util trend")
PROCESS_COLUMNS = ("NPU", "PID", "Name", "Dev MB", "User", "Age", "Holder", "Command")


def host_line(snapshot: HostSnapshot) -> Text:
    """`Host  CPU 12% of 2 · load 0.4 · memory 8.1 / 24.0 GiB (34%) · disk 120 GiB free at /models`."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("Host  ", style="bold")
    cpu = or_na(snapshot.cpu_pct, ".0f", "%")
    text.append(f"CPU {cpu} of {snapshot.cpu_count}")
    if snapshot.load_1m is not None:
        text.append(f" · load {snapshot.load_1m:.1f}")
    used, total = snapshot.memory_used_bytes / GIB, snapshot.memory_total_bytes / GIB
    text.append(" · memory ")
    text.append(f"{used:.1f} / {total:.1f} GiB ({snapshot.memory_pct:.0f}%)",
                style="bold red" if snapshot.memory_pct >= 90 else "")
    if snapshot.disk_free_bytes is not None and snapshot.disk_path is not None:
        free = snapshot.disk_free_bytes / GIB
        text.append(" · disk ")
        text.append(f"{free:.0f} GiB free", style="bold red" if free < 20 else "")
        text.append(f" at {snapshot.disk_path}", style="dim")
    return text


def health_cell(health: str | None, stale: bool) -> Text:
    if stale:
        return Text(health or "N/A", style="dim strike")
    if health is None:
        return Text("N/A", style="dim")
    return Text(health, style=HEALTH_STYLES.get(health, "bold magenta"))


def _number(value: int | float | None, fmt: str = "{}") -> Cell:
    return Text("N/A", style="dim") if value is None else fmt.format(value)


def chip_cells(chip: ChipReading, logic_id: int | None, selected: bool, history: ChipHistory | None,
               stale: bool) -> tuple[Cell, ...]:
    """One chip as table cells. DDR-only chips (310 family) show their memory in the HBM column."""
    used, total = chip_memory_mb(chip)
    hbm_history = history.hbm_used_mb if history else ()
    util_history = history.util_pct if history else ()
    return (
        Text("▶", style="bold cyan") if selected else "",
        str(chip.npu) if chip.chip is None else f"{chip.npu}/{chip.chip}",
        _number(logic_id),
        chip.name or Text("N/A", style="dim"),
        health_cell(chip.health, stale),
        usage_bar(used, total, width=8),
        _number(chip.util_pct),
        _number(chip.power_w, "{:.1f}"),
        _number(chip.temp_c),
        Text(sparkline(hbm_history, TREND_WIDTH, top=total), style="magenta"),
        Text(sparkline(util_history, TREND_WIDTH, top=100), style="cyan"),
    )


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "N/A"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def process_cells(row: HeldMemory, now: float, attached: bool = False) -> tuple[Cell, ...]:
    device, host = row.device, row.host
    if row.ours:
        holder: Cell = Text("our server", style="bold green")
    elif attached:
        holder = Text("attached server", style="bold cyan")
    elif row.leftover:
        holder = Text(f"LEFTOVER: {row.leftover}", style="bold red")
    elif host is None:
        holder = Text("not visible here", style="dim")
    else:
        holder = ""
    where = f"{device.npu}" if device.chip is None else f"{device.npu}/{device.chip}"
    return (
        where,
        str(device.pid) if device.container_pid is None else f"{device.pid} ({device.container_pid})",
        device.name if device.name else Text("—", style="dim"),
        _number(device.memory_mb),
        (host.user or "?") if host else "",
        _age(host.age_s(now)) if host else "",
        holder,
        Text(host.command, overflow="ellipsis", no_wrap=True) if host else "",
    )


def logic_ids(snapshot: DeviceSnapshot) -> dict[tuple[int, int | None], int | None]:
    """(npu, chip) → logic id: from `npu-smi info -m` when read, else the chips' order.

    Without the mapping, logic ids are assumed to follow the table order, which is
    how the driver numbers chips on the hosts seen so far.
    """
    if snapshot.mapping:
        return {(m.npu, m.chip): m.logic_id for m in snapshot.mapping}
    return {chip_key(chip): index for index, chip in enumerate(snapshot.chips)}


class DevicesView(AreaView):
    """Draws device state; posts `KillRequested` when the operator asks to stop a holder."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("k", "kill_holder", "Stop holder")]

    DEFAULT_CSS = """
    DevicesView #host { height: 1; }
    DevicesView #status { height: auto; }
    DevicesView DataTable { height: auto; max-height: 40; }
    DevicesView #chips { margin-top: 1; }
    DevicesView #processes-title { margin-top: 1; color: $text-muted; }
    DevicesView #message { height: auto; display: none; }
    DevicesView #message.-shown { display: block; }
    """

    class DetailRequested(Message):
        """The operator asked for the detail (usage rates) of NPU `npu`."""

        def __init__(self, npu: int) -> None:
            super().__init__()
            self.npu = npu

    class KillRequested(Message):
        """The operator asked to stop the process holding memory in `row`."""

        def __init__(self, row: HeldMemory) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._chip_cells: dict[str, tuple[Cell, ...]] = {}
        self._process_cells: dict[str, tuple[Cell, ...]] = {}
        self._rows: dict[str, HeldMemory] = {}

    def compose(self) -> ComposeResult:
        yield Static("Host  reading…", id="host")
        yield Static("Asking the device tool…", id="status")
        yield Static("", id="message")
        chips: DataTable[Cell] = DataTable(id="chips", cursor_type="row", zebra_stripes=True)
        chips.add_columns(*CHIP_COLUMNS)
        yield chips
        yield Static("Processes holding device memory", id="processes-title")
        processes: DataTable[Cell] = DataTable(id="processes", cursor_type="row")
        processes.add_columns(*PROCESS_COLUMNS)
        yield processes

    def focus_target(self) -> Widget:
        """The chip table: Down/Enter on a chip work at once after 1."""
        return self.query_one("#chips", DataTable)

    # ---- drawing -------------------------------------------------------------------------------

    def show_host(self, snapshot: HostSnapshot) -> None:
        for host in self.query("#host").results(Static):  # none while the console is closing
            host.update(host_line(snapshot))

    def show_message(self, sentence: str | None) -> None:
        """A sentence that replaces the tables' meaning (no tool on this host, for one)."""
        if not self.query("#message"):  # the console is closing
            return
        message = self.query_one("#message", Static)
        message.update(Text(sentence or "", style="bold red"))
        message.set_class(bool(sentence), "-shown")
        if sentence:  # the answer is known: "Asking the device tool…" would be a stale promise
            self.query_one("#status", Static).update("")

    def show_status(self, state: DeviceState, now_monotonic: float, interval_s: float) -> None:
        """The line that says where the numbers come from and how fresh they are."""
        if not self.query("#status"):  # the console is closing: the parts are gone already
            return
        text = Text(no_wrap=False)
        snapshot = state.snapshot
        age = state.age_s(now_monotonic)
        stale = state.is_stale(now_monotonic, interval_s)
        text.append(state.source, style="bold")
        if snapshot is not None and snapshot.tool_version:
            text.append(f" {snapshot.tool_version}")
        if state.read_at is not None:
            text.append(f" · read {state.read_at.strftime('%H:%M:%S')}")
        if age is not None:
            text.append(f" · {age:.0f} s ago", style="bold yellow" if stale else "")
        if stale and snapshot is not None:
            text.append("  STALE", style="bold black on yellow")
        if state.error:
            text.append("\n")
            text.append(state.error, style="bold red")
            if state.failures > 1:
                text.append(f" ({state.failures} reads in a row)", style="red")
        if snapshot is not None and snapshot.warnings:
            text.append("\n")
            text.append("; ".join(snapshot.warnings[:2]), style="yellow")
        self.query_one("#status", Static).update(text)

    def show_devices(self, state: DeviceState, selected_logic_ids: Collection[int], now_monotonic: float,
                     interval_s: float) -> None:
        snapshot = state.snapshot
        table = self.query_one("#chips", DataTable)
        if snapshot is None:
            return
        stale = state.is_stale(now_monotonic, interval_s)
        ids = logic_ids(snapshot)
        rows: dict[str, tuple[Cell, ...]] = {}
        for chip in snapshot.chips:
            chip_id = chip_key(chip)
            logic = ids.get(chip_id)
            rows[f"{chip.npu}/{chip.chip}"] = chip_cells(
                chip, logic, logic is not None and logic in selected_logic_ids, state.history.get(chip_id), stale
            )
        _sync_table(table, self._chip_cells, rows)

    def show_holders(self, holders: Sequence[HeldMemory], now: float | None = None,
                     attached: Collection[int] = ()) -> None:
        """The process table; rows of the server the console attached to say so (never LEFTOVER)."""
        moment = now if now is not None else time.time()
        table = self.query_one("#processes", DataTable)
        rows: dict[str, tuple[Cell, ...]] = {}
        self._rows = {}
        for row in holders:
            key = f"{row.device.npu}/{row.device.chip}/{row.device.pid}"
            rows[key] = process_cells(row, moment, row.kill_pid in attached or row.device.pid in attached)
            self._rows[key] = row
        _sync_table(table, self._process_cells, rows)
        title = "Processes holding device memory"
        if holders:
            title += "  (↑↓ select, k: stop the selected one)"
        else:
            title += ": none"
        self.query_one("#processes-title", Static).update(title)

    # ---- input ---------------------------------------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "chips" and event.row_key.value is not None:
            self.post_message(self.DetailRequested(int(event.row_key.value.split("/")[0])))

    def action_kill_holder(self) -> None:
        table = self.query_one("#processes", DataTable)
        if table.row_count == 0:
            self.notify("No process holds device memory.", severity="information")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        row = self._rows.get(key) if key is not None else None
        if row is not None:
            self.post_message(self.KillRequested(row))


def _sync_table(table: DataTable[Cell], shown: dict[str, tuple[Cell, ...]],
                wanted: dict[str, tuple[Cell, ...]]) -> None:
    """Bring `table` to `wanted`, touching only rows and cells that differ from `shown`."""
    columns = list(table.columns)  # column keys, in order
    for key in [key for key in shown if key not in wanted]:
        table.remove_row(key)
        del shown[key]
    for key, cells in wanted.items():
        before = shown.get(key)
        if before is None:
            table.add_row(*cells, key=key)
        else:
            for column, old, new in zip(columns, before, cells, strict=True):
                if _differs(old, new):
                    table.update_cell(key, column, new, update_width=True)
        shown[key] = cells


def _differs(old: Cell, new: Cell) -> bool:
    if isinstance(old, Text) and isinstance(new, Text):
        return old.plain != new.plain or old.spans != new.spans or old.style != new.style
    return old != new

