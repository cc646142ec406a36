"""The bottom line of key hints.

Textual's `Footer` rebuilds all its widgets whenever the focus moves, which
costs more than the area switch it follows. This bar is one `Static`: on each
bindings change it rebuilds one line of text from the screen's active
bindings, and redraws only when that text differs. A click on a hint presses
its key.
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

KEY_STYLE = "bold #ffa62b"
PALETTE_KEY = "ctrl+p"


class KeyBar(Static):
    """Draws the shown bindings of the focused chain, then the command palette's key."""

    DEFAULT_CSS = """
    KeyBar {
        link-style: none;
        link-style-hover: bold;
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def __init__(self, *, id: str | None = None, follow_bindings: bool = True, palette: bool = True) -> None:
        """`follow_bindings=False`: draw only what `show` is given (a dialog names its own keys)."""
        super().__init__(id=id)
        self._shown: tuple[tuple[str, str, str], ...] | None = None
        self._follow = follow_bindings
        self._palette = palette

    def on_mount(self) -> None:
        if self._follow:
            self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
            self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        if self._follow:
            self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        hints: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if not binding.show or not active.enabled or binding.description in seen:
                continue
            seen.add(binding.description)
            hints.append((key, self.app.get_key_display(binding), binding.description))
        self.show(tuple(hints))

    def show(self, hints: tuple[tuple[str, str, str], ...]) -> None:
        """Draw (key, how the key is shown, label) hints, unless they are what is shown already."""
        if hints == self._shown:
            return
        self._shown = hints
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        """The hints that fit, in order, and always the palette's key last: every command is one ^p away.

        At 80 columns not every key fits; cutting the line at the edge would
        hide the one hint that leads to all the others.
        """
        width = self.size.width or 10_000
        palette = Text()
        if self._palette and self.app.ENABLE_COMMAND_PALETTE:
            palette.append("  ")
            palette.append(" ^p ", style=KEY_STYLE)
            palette.append("palette")
            palette.apply_meta({"@click": "app.command_palette"}, 0, len(palette))
        text = Text(no_wrap=True, overflow="ellipsis")
        for key, display, label in self._shown or ():
            hint = Text()
            hint.append(f" {display} ", style=KEY_STYLE)
            hint.append(f"{label} ")
            if len(text) + len(hint) + len(palette) > width:
                text.append("…")
                break
            hint.apply_meta({"@click": f"app.simulate_key({key!r})"}, 0, len(hint))
            text.append_text(hint)
        text.append_text(palette)
        self.update(text)
