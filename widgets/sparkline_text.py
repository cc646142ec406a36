"""Text sparklines and bars that fit in a table cell."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[int | float | None], width: int, top: float | None = None) -> str:
    """The last `width` values as block characters, scaled to `top` (default: their maximum).

    A value the device did not report is a blank, not a zero bar.
    """
    recent = list(values)[-width:]
    known = [v for v in recent if v is not None]
    scale = top if top else (max(known) if known else 0)
    chars = []
    for value in recent:
        if value is None or scale <= 0:
            chars.append(" ")
        else:
            level = round(min(max(value / scale, 0.0), 1.0) * (len(BLOCKS) - 1))
            chars.append(BLOCKS[max(level, 1) if value > 0 else 0])
    return "".join(chars).rjust(width)


def usage_bar(used: int | None, total: int | None, width: int = 10) -> Text:
    """`███████░░░ 51328/65536` coloured by how full it is; `N/A` when either side is unknown."""
    if used is None or total is None or total <= 0:
        return Text("N/A", style="dim")
    fraction = min(max(used / total, 0.0), 1.0)
    filled = round(fraction * width)
    style = "red" if fraction >= 0.9 else "yellow" if fraction >= 0.6 else "green"
    text = Text()
    text.append("█" * filled, style=style)
    text.append("░" * (width - filled), style="dim")
    text.append(f" {used}/{total}")
    return text
