"""The preflight checklist shown before a launch: pass / warn / fail, each with its fix."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Button, Static

from tui.screens.dialog import DialogScreen
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


class PreflightScreen(DialogScreen[str | None]):
    """Returns "launch", "offer:<index>" (do what check <index> offers, then check again), or None.

    The summary, the checklist and "What will run" scroll; the buttons stay at the
    bottom at any terminal size. With a failed check the focus starts on Cancel.
    """

    DEFAULT_CSS = """
    PreflightScreen #summary { margin-bottom: 1; }
    """
    dialog_title = "Preflight"

    def __init__(self, checks: Sequence[Check], command: str, *, launching: str | None = None) -> None:
        super().__init__()
        self._checks = list(checks)
        self._command = command
        self._launching = launching
        self._fails = sum(check.status == "fail" for check in self._checks)

    def body(self) -> Iterable[Widget]:
        warns = sum(check.status == "warn" for check in self._checks)
        summary = Text()
        if self._launching:
            summary.append(f"Launching {self._launching}. ", style="bold")
        if self._fails:
            summary.append(f"{self._fails} check(s) failed", style="bold red")
            summary.append(": this launch would most likely fail. Fix them, or launch anyway.")
        elif warns:
            summary.append(f"{warns} warning(s)", style="bold yellow")
            summary.append(": the launch should work; read them first.")
        else:
            summary.append("All checks passed.", style="bold green")
        yield Static(summary, id="summary")
        yield Static(checklist(self._checks))
        yield Static(Text("\nWhat will run:", style="bold"))
        yield Static(Text(self._command, style="dim"), id="command")

    def buttons(self) -> Iterable[Widget]:
        for index, check in enumerate(self._checks):
            if check.offer is not None:
                yield Button(check.offer.label, id=f"offer-{index}", variant="warning")
        yield Button("Cancel", id="cancel")
        if self._fails:
            yield Button("Launch anyway", id="launch", variant="error")
        else:
            yield Button("Launch", id="launch", variant="success")

    def initial_focus(self) -> Widget | None:
        return self.query_one("#cancel" if self._fails else "#launch", Button)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        button = event.button.id or ""
        if button == "launch":
            self.dismiss("launch")
        elif button.startswith("offer-"):
            self.dismiss("offer:" + button.removeprefix("offer-"))
        else:
            self.dismiss(None)
