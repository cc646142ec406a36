"""The frame every area of the main screen shares."""

from __future__ import annotations

from textual.containers import VerticalScroll


class AreaView(VerticalScroll):
    """A scrollable, focusable area that can be zoomed to the whole window."""

    ALLOW_MAXIMIZE = True
