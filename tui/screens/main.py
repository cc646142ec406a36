"""The main screen: header, the four areas, footer.

Wide terminals (≥ 120×34) show the four areas as a 2×2 grid; smaller ones
(80×24 over SSH) show one area at a time under a tab strip, switched with
1–4. Either way the active area has the accent border and the keyboard focus.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Container
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget

from widgets.area import AreaView
from widgets.area_tabs import AREAS, AreaTabs
from widgets.console_header import ConsoleHeader
from widgets.devices_view import DevicesView
from widgets.key_bar import KeyBar
from widgets.playground_view import PlaygroundView
from widgets.server_view import ServerView
from widgets.stages_view import StagesView

COMPACT_BELOW = (120, 34)  # width, height under which one area is shown at a time

AREA_TITLES = dict(AREAS)


class MainScreen(Screen[None]):
    """Lays out the areas and keeps track of which one is in front."""

    active_area: reactive[str] = reactive("devices")

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(id="header")
        yield AreaTabs(id="area-tabs")
        with Container(id="areas"):
            yield DevicesView(id="devices", classes="area")
            yield ServerView(id="server", classes="area")
            yield PlaygroundView(id="playground", classes="area")
            yield StagesView(id="stages", classes="area")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        for index, (area_id, title) in enumerate(AREAS, start=1):
            self.area(area_id).border_title = f"{index} {title}"
        self._apply_size(self.size.width, self.size.height)
        self.watch_active_area(self.active_area)
        self.area(self.active_area).focus_target().focus()

    def area(self, area_id: str) -> AreaView:
        return self.query_one(f"#{area_id}", AreaView)

    def show_area(self, area_id: str) -> None:
        """Bring `area_id` to the front and give it the focus."""
        if area_id not in AREA_TITLES:
            return
        if self.maximized is not None and self.maximized.id != area_id:
            self.minimize()
        self.active_area = area_id
        self.area(area_id).focus_target().focus()

    def toggle_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
        else:
            self.maximize(self.area(self.active_area), container=False)

    def watch_active_area(self, active: str) -> None:
        # Inline styles, not a CSS class: toggling a class re-matches the stylesheet over the whole
        # subtree (tables, the log), which made an area switch cost tens of milliseconds.
        compact = self.has_class("-compact")
        accent = self.app.current_theme.accent or "orange"
        for area_id in AREA_TITLES:
            area = self.area(area_id)
            is_active = area_id == active
            area.styles.border = ("round", accent if is_active else "#444444")
            area.styles.border_title_color = accent if is_active else "#888888"
            area.display = is_active or not compact
        self.query_one(AreaTabs).show(active)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        node: Widget | None = event.widget
        while node is not None and node.id not in AREA_TITLES:
            parent = node.parent
            node = parent if isinstance(parent, Widget) else None
        if node is not None and node.id is not None:
            self.active_area = node.id

    def on_resize(self, event: events.Resize) -> None:
        self._apply_size(event.size.width, event.size.height)

    def _apply_size(self, width: int, height: int) -> None:
        compact = width < COMPACT_BELOW[0] or height < COMPACT_BELOW[1]
        if compact != self.has_class("-compact"):
            self.set_class(compact, "-compact")
            if self.is_mounted:
                self.watch_active_area(self.active_area)
