"""The strip that names the four areas and marks the one in front (compact layout)."""

from __future__ import annotations

from textual.widgets import Static

AREAS: tuple[tuple[str, str], ...] = (
    ("devices", "Devices"),
    ("server", "Server"),
    ("playground", "Playground"),
    ("stages", "Stages"),
)


class AreaTabs(Static):
    """`1 Devices  2 Server  3 Playground  4 Stages`, clickable, the active one highlighted."""

    DEFAULT_CSS = """
    AreaTabs {
        link-style: none;
        link-style-hover: bold;
        height: 1;
        background: $boost;
    }
    """

    def show(self, active: str) -> None:
        parts = []
        for index, (area_id, title) in enumerate(AREAS, start=1):
            label = f" {index} {title} "
            if area_id == active:
                label = f"[b reverse]{label}[/]"
            parts.append(f"[@click=app.show_area('{area_id}')]{label}[/]")
        self.update(" ".join(parts))
