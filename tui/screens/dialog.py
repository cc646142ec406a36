"""The frame every dialog shares: it fits any terminal down to 80×24.

A dialog is a bordered box with a body that scrolls and a row of buttons
pinned to the box's bottom, so that however long the body (a preflight with
every check failing, a long question), the buttons are on screen and the
focus never moves to something invisible. Under it, the dialog's own key bar
replaces the main screen's: it names what Enter does with the focused button,
what Esc does, and how to move between buttons.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, TypeVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, OptionList

from widgets.key_bar import KeyBar

ResultT = TypeVar("ResultT")


class DialogScreen(ModalScreen[ResultT]):
    """Subclasses give `body()`, `buttons()`, a `title` and what Esc does (`ESCAPE_LABEL`, `on_escape`)."""

    DEFAULT_CSS = """
    DialogScreen { align: center middle; }
    DialogScreen > #dialog {
        width: 90%; max-width: 120; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    DialogScreen #dialog-body { height: auto; max-height: 100%; scrollbar-size: 1 1; }
    DialogScreen #dialog-body > Static { height: auto; }
    DialogScreen #dialog-buttons { dock: bottom; height: auto; align-horizontal: right; padding-top: 1; }
    DialogScreen #dialog-buttons Button { margin-left: 1; min-width: 10; }
    DialogScreen #dialog-buttons.-empty { display: none; }
    DialogScreen #dialog-buttons #problem { width: 1fr; color: $error; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "escape", "Cancel", show=False),
        Binding("left", "app.focus_previous", "Previous", show=False),
        Binding("right", "app.focus_next", "Next", show=False),
    ]
    ESCAPE_LABEL = "cancel"
    BORDER = "$accent"

    dialog_title: str = ""  # the border title (`title` is the Screen's own reactive)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = self.dialog_title
            with VerticalScroll(id="dialog-body", can_focus=False):
                yield from self.body()
            buttons = list(self.buttons())
            row = Horizontal(*buttons, id="dialog-buttons")
            row.set_class(not buttons, "-empty")
            yield row
        yield KeyBar(id="dialog-keys", follow_bindings=False, palette=False)

    def body(self) -> Iterable[Widget]:
        return ()

    def buttons(self) -> Iterable[Widget]:
        return ()

    def on_mount(self) -> None:
        self._focus_initial(tries=3)

    def _focus_initial(self, tries: int) -> None:
        """Focus what `initial_focus` names; on a busy machine the body may not be mounted yet: try after the
        next refresh (a few times), so that Enter never lands on nothing."""
        target = self.initial_focus()
        if target is not None:
            target.focus()
        elif tries > 0 and self.is_attached:
            self.call_after_refresh(self._focus_initial, tries - 1)
        self._show_keys()

    def initial_focus(self) -> Widget | None:
        """What has the focus when the dialog opens (the first button unless a subclass says otherwise)."""
        buttons = self.query("#dialog-buttons Button")
        return buttons.first() if buttons else None

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._show_keys()
        event.widget.scroll_visible(animate=False)

    def _show_keys(self) -> None:
        hints: list[tuple[str, str, str]] = []
        focused = self.focused
        if isinstance(focused, Button):
            hints.append(("enter", "Enter", str(focused.label).split(" (")[0].lower()))
        elif isinstance(focused, Input):
            hints.append(("enter", "Enter", "submit"))
        elif isinstance(focused, OptionList):
            hints.append(("enter", "Enter", "pick"))
            hints.append(("down", "↑↓", "move"))
        hints.append(("escape", "Esc", self.ESCAPE_LABEL))
        if len(self.query("#dialog-buttons Button")) + len(self.query(Input)) > 1:
            hints.append(("tab", "Tab ←→", "next button"))
        hints.extend(self.extra_keys())
        for bar in self.query("#dialog-keys").results(KeyBar):
            bar.show(tuple(hints))

    def extra_keys(self) -> Iterable[tuple[str, str, str]]:
        """More (key, shown as, label) hints for the key bar."""
        return ()

    def action_escape(self) -> None:
        self.on_escape()

    def on_escape(self) -> None:
        self.dismiss(None)
