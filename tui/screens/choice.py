"""A keyboard-first modal list: pick one of a few things (a profile, a variant)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tui.screens.dialog import DialogScreen
from widgets.key_bar import KeyBar


@dataclass(frozen=True)
class Choice:
    """One line of the list. A choice with `problem` is shown, greyed, and cannot be picked."""

    key: str
    label: str
    detail: str = ""
    problem: str | None = None


class ChoiceScreen(DialogScreen[str | None]):
    """Returns the chosen `Choice.key`, or None on Esc. The list scrolls; the hint stays on top."""

    DEFAULT_CSS = """
    ChoiceScreen > #dialog { max-width: 110; }
    ChoiceScreen #hint { dock: top; margin-bottom: 1; }
    ChoiceScreen OptionList, ChoiceScreen OptionList:focus { height: auto; max-height: 100%; border: none; }
    """

    def __init__(self, title: str, choices: list[Choice], hint: str = "", current: str | None = None) -> None:
        super().__init__()
        self._title = title
        self._choices = choices
        self._hint = hint
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            box.border_title = self._title
            if self._hint:
                yield Label(self._hint, id="hint")
            yield OptionList(*[self._option(choice) for choice in self._choices])
        yield KeyBar(id="dialog-keys", follow_bindings=False, palette=False)

    def initial_focus(self) -> Widget | None:
        found = self.query(OptionList)
        if not found:  # closing already (the console quit while it opened)
            return None
        options = found.first()
        for index, choice in enumerate(self._choices):
            if choice.key == self._current and choice.problem is None:
                options.highlighted = index
                break
        return options

    def _option(self, choice: Choice) -> Option:
        text = Text(no_wrap=False)
        marker = "● " if choice.key == self._current else "  "
        text.append(marker + choice.label, style="bold" if choice.problem is None else "dim")
        if choice.detail:
            text.append("  " + choice.detail, style="dim")
        if choice.problem:
            text.append("\n    " + choice.problem, style="red")
        return Option(text, id=choice.key, disabled=choice.problem is not None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
