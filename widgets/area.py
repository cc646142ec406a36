"""The frame every area of the main screen shares."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widget import Widget


class AreaView(VerticalScroll):
    """A scrollable, focusable area that can be zoomed to the whole window."""

    ALLOW_MAXIMIZE = True

    def focus_target(self) -> Widget:
        """What gets the keyboard when this area is brought to the front (the area itself by default)."""
        return self
