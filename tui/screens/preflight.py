"""The preflight checklist shown before a launch: pass / warn / fail, each with its fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.server.preflight import Check

MARKS = {"pass": ("✔", "green"), "warn": ("!", "bold yellow"), "fail": ("✘", "bold red")}


def checklist(checks: Sequence[Check]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for check in checks:
        mark, style = MARKS[check.status]
        body = Text()
        body.append(check.title, style="bold" if check.status != "pass" else "")
        if check.detail:
            body.append(f" — {check.detail}", style="" if check.status != "pass" else "dim")
        if check.fix and check.status != "pass":
            body.append("\n")
            body.append("fix: ", style="bold")
            body.append(check.fix, style="italic")
        table.add_row(Text(mark, style=style), body)
    return table


class PreflightScreen(ModalScreen[str | None]):
    """Returns "launch", "offer:<index>" (do what check <index> offers, then check again), or None."""

    DEFAULT_CSS = """
    PreflightScreen { align: center middle; }
    PreflightScreen > Vertical {
        width: 90%; max-width: 120; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    PreflightScreen VerticalScroll { height: auto; max-height: 30; }
    PreflightScreen #summary { margin-bottom: 1; }
    PreflightScreen Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    PreflightScreen Button { margin-left: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, checks: Sequence[Check], command: str) -> None:
        super().__init__()
        self._checks = list(checks)
        self._command = command

    def compose(self) -> ComposeResult:
        fails = sum(check.status == "fail" for check in self._checks)
        warns = sum(check.status == "warn" for check in self._checks)
        with Vertical() as box:
            box.border_title = "Preflight"
            summary = Text()
            if fails:
                summary.append(f"{fails} check(s) failed", style="bold red")
                summary.append(": this launch would most likely fail. Fix them, or launch anyway.")
            elif warns:
                summary.append(f"{warns} warning(s)", style="bold yellow")
                summary.append(": the launch should work; read them first.")
            else:
                summary.append("All checks passed.", style="bold green")
            yield Static(summary, id="summary")
            with VerticalScroll():
                yield Static(checklist(self._checks))
                yield Static(Text("\nWhat will run:", style="bold"))
                yield Static(Text(self._command, style="dim"))
            with Horizontal():
                for index, check in enumerate(self._checks):
                    if check.offer is not None:
                        yield Button(check.offer.label, id=f"offer-{index}", variant="warning")
                yield Button("Cancel", id="cancel")
                if fails:
                    yield Button("Launch anyway", id="launch", variant="error")
                else:
                    yield Button("Launch", id="launch", variant="success")

    def on_mount(self) -> None:
        fails = any(check.status == "fail" for check in self._checks)
        self.query_one("#cancel" if fails else "#launch", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id or ""
        if button == "launch":
            self.dismiss("launch")
        elif button.startswith("offer-"):
            self.dismiss("offer:" + button.removeprefix("offer-"))
        else:
            self.dismiss(None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
