"""Attaching to a server: one this console left running, or someone else's (its log file, its URL, or both).

Before it attaches, the dialog checks what is there (off the UI's loop, each
check bounded): whether the URL answers and how the log ends. When nothing is
alive — the log ended and nothing listens — it says so and the button becomes
"Attach anyway"; otherwise it attaches and the findings go with the target.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.screens.dialog import DialogScreen
from tui.server.attach_check import Finding, LeftRunning, check_log, check_url, listener_pid


@dataclass(frozen=True)
class AttachTarget:
    """What to follow (at least one of log and URL), what the checks found, and the server's pid if known."""

    log_path: Path | None
    url: str | None
    from_start: bool
    findings: tuple[Finding, ...] = ()
    pid: int | None = None

    @property
    def summary(self) -> str:
        return "; ".join(finding.sentence for finding in self.findings)

    @property
    def alive(self) -> bool:
        return any(finding.alive for finding in self.findings)


def check_target(log_path: Path | None, url: str | None, api_key: str | None, transport: Any | None
                 ) -> tuple[tuple[Finding, ...], int | None]:
    """The checks of one target (blocking: run in a thread) and the pid that listens on its URL."""
    findings: list[Finding] = []
    if url:
        findings.append(check_url(url, api_key, transport))
    if log_path is not None:
        findings.append(check_log(log_path))
    pid = listener_pid(url) if url and findings and findings[0].alive else None
    return tuple(findings), pid


class AttachScreen(DialogScreen[AttachTarget | None]):
    """The servers this console left running, two fields and a checkbox; checks before it attaches."""

    DEFAULT_CSS = """
    AttachScreen > #dialog { max-width: 110; }
    AttachScreen Input { margin-bottom: 1; }
    AttachScreen #left, AttachScreen #left:focus { height: auto; max-height: 6; border: none; margin-bottom: 1; }
    AttachScreen #findings { height: auto; }
    AttachScreen #dialog-body Label { width: 1fr; }
    """
    dialog_title = "Attach to a running server"

    def __init__(self, default_url: str | None, left_running: list[LeftRunning] | None = None,
                 api_key: str | None = None, transport: Any | None = None) -> None:
        super().__init__()
        self._default_url = default_url or ""
        self._left = list(left_running or [])
        self._api_key = api_key
        self._transport = transport
        self._checked: AttachTarget | None = None  # a target whose checks found nothing alive: attach anyway?

    def body(self) -> Iterable[Widget]:
        if self._left:
            yield Label("Servers this console left running (Enter fills the fields):")
            yield OptionList(*[Option(Text(entry.label), id=str(i)) for i, entry in enumerate(self._left)],
                             id="left")
        else:
            yield Label(Text("No server this console left running is still up.", style="dim"))
        yield Label("Its log file (what `vllm serve … 2>&1 | tee FILE` writes); leave empty for none:")
        yield Input(placeholder="/path/to/server.log", id="log-path")
        yield Checkbox("From the log's start (else its last 200 lines)", id="start")
        yield Label("Its URL (for /metrics and the playground); leave empty for none:")
        yield Input(value=self._default_url, placeholder="http://127.0.0.1:8000", id="url")
        yield Static("", id="findings")

    def buttons(self) -> Iterable[Widget]:
        yield Label("", id="problem")
        yield Button("Cancel", id="cancel")
        yield Button("Attach", id="attach", variant="primary")

    def initial_focus(self) -> Widget | None:
        if self._left:
            return self.query_one("#left", OptionList)
        return self.query_one("#log-path", Input)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        entry = self._left[int(event.option.id or 0)]
        self.query_one("#log-path", Input).value = str(entry.log_path)
        self.query_one("#url", Input).value = entry.url or ""
        self.query_one("#attach", Button).focus()

    def on_input_changed(self) -> None:
        self._reset_check()

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "attach":
            self._submit()
        else:
            self.dismiss(None)

    def _reset_check(self) -> None:
        """Forget the findings once the operator changes what they point at (not on a late echo of the same)."""
        checked = self._checked
        if checked is not None and (checked.log_path, checked.url) == self._inputs():
            return
        if self._checked is not None:
            self._checked = None
            self.query_one("#attach", Button).label = "Attach"
            self.query_one("#findings", Static).update("")

    def _inputs(self) -> tuple[Path | None, str | None]:
        raw_path = self.query_one("#log-path", Input).value.strip()
        url = self.query_one("#url", Input).value.strip().rstrip("/")
        return (Path(raw_path).expanduser() if raw_path else None), (url or None)

    def _submit(self) -> None:
        raw_path = self.query_one("#log-path", Input).value.strip()
        url = self.query_one("#url", Input).value.strip().rstrip("/")
        problem = self.query_one("#problem", Label)
        if not raw_path and not url:
            problem.update("Give a log file, a URL, or both.")
            return
        path = Path(raw_path).expanduser() if raw_path else None
        if path is not None and path.is_dir():
            problem.update(f"{path} is a folder; give the log file inside it.")
            return
        if url and not url.startswith(("http://", "https://")):
            problem.update("The URL starts with http:// or https://.")
            return
        checked = self._checked
        if checked is not None and (checked.log_path, checked.url) == (path, url or None):
            self.dismiss(checked)  # the operator read the findings and attaches anyway
            return
        problem.update("Checking…")
        self._check(path, url or None, self.query_one("#start", Checkbox).value)

    @work(exclusive=True, group="attach-check")
    async def _check(self, path: Path | None, url: str | None, from_start: bool) -> None:
        findings, pid = await asyncio.to_thread(check_target, path, url, self._api_key, self._transport)
        known = next((entry.pid for entry in self._left if entry.log_path == path or entry.url == url), None)
        target = AttachTarget(path, url, from_start, findings, pid or known)
        if target.alive:
            self.dismiss(target)
            return
        self._checked = target
        text = Text()
        text.append("Nothing to attach to: ", style="bold red")
        text.append(target.summary + ".")
        self.query_one("#findings", Static).update(text)
        self.query_one("#problem", Label).update("")
        button = self.query_one("#attach", Button)
        button.label = "Attach anyway"
        self.query_one("#cancel", Button).focus()
