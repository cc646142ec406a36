"""A yes/no question that defaults to no: for anything that kills or deletes.

Typing cannot answer it: the focus starts on Cancel, no letter key confirms,
and the action is taken only by moving to its button (Tab or →) and pressing
Enter, or by clicking it. An operator who types a sentence into the wrong
place ("say hi please" reaching `s`) lands on Cancel.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Button, Static

from tui.screens.dialog import DialogScreen


class ConfirmScreen(DialogScreen[bool]):
    """Returns True only when the operator presses the action's button; Esc and "Cancel" say no."""

    DEFAULT_CSS = """
    ConfirmScreen > #dialog { width: 80%; max-width: 90; border: round $error; padding: 0 2; }
    ConfirmScreen #question { padding-top: 1; }
    """

    def __init__(self, title: str, question: str, action_label: str) -> None:
        super().__init__()
        self.dialog_title = title
        self._question = question
        self._action_label = action_label

    def body(self) -> Iterable[Widget]:
        yield Static(Text(self._question), id="question")
        yield Static(Text(f"To go ahead: Tab to \u201c{self._action_label}\u201d, then Enter.", style="dim"))

    def buttons(self) -> Iterable[Widget]:
        yield Button("Cancel", id="cancel", variant="default")
        yield Button(self._action_label, id="confirm", variant="error")

    def initial_focus(self) -> Widget | None:
        return self.query_one("#cancel", Button)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def on_escape(self) -> None:
        self.dismiss(False)
