"""The rates of one NPU from `npu-smi info -t usages`, as bars."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tui.devices.snapshot import ChipUsage

RATES: tuple[tuple[str, str], ...] = (
    ("aicore_pct", "AI Core"),
    ("aivector_pct", "AI Vector"),
    ("aicube_pct", "AI Cube"),
    ("aicpu_pct", "AI CPU"),
    ("ctrlcpu_pct", "Ctrl CPU"),
    ("vectorcore_pct", "Vector core"),
    ("npu_util_pct", "NPU utilization"),
    ("hbm_usage_pct", "HBM usage"),
    ("hbm_bandwidth_pct", "HBM bandwidth"),
    ("ddr_usage_pct", "DDR usage"),
    ("ddr_bandwidth_pct", "DDR bandwidth"),
    ("ddr_hugepages_usage_pct", "DDR hugepages"),
)
BAR_WIDTH = 30


def _bar(pct: int) -> Text:
    filled = round(min(max(pct, 0), 100) / 100 * BAR_WIDTH)
    style = "red" if pct >= 90 else "yellow" if pct >= 60 else "green"
    text = Text("█" * filled, style=style)
    text.append("░" * (BAR_WIDTH - filled), style="dim")
    text.append(f" {pct:3d}%")
    return text


def usage_tables(usages: Sequence[ChipUsage]) -> RenderableType:
    """One table per chip: each rate the driver reported (rates it did not report are left out)."""
    parts: list[RenderableType] = []
    for usage in usages:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        title = f"NPU {usage.npu if usage.npu is not None else '?'}"
        if usage.chip is not None:
            title += f" · chip {usage.chip}"
        capacity = [f"HBM {usage.hbm_capacity_mb} MB"] if usage.hbm_capacity_mb is not None else []
        if usage.ddr_capacity_mb is not None:
            capacity.append(f"DDR {usage.ddr_capacity_mb} MB")
        for field, label in RATES:
            value = getattr(usage, field)
            if value is not None:
                table.add_row(label, _bar(int(value)))
        for key, value in usage.other.items():
            table.add_row(Text(key, style="dim"), Text(value, style="dim"))
        parts.append(Text(title + ("  (" + ", ".join(capacity) + ")" if capacity else ""), style="bold cyan"))
        parts.append(table)
        parts.append(Text(""))
    return Group(*parts)
