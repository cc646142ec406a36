"""Asking where someone else's server is: its log file, its URL, or both."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label

from tui.screens.dialog import DialogScreen


@dataclass(frozen=True)
class AttachTarget:
    """What to follow. At least one of the two is set."""

    log_path: Path | None
    url: str | None
    from_start: bool


class AttachScreen(DialogScreen[AttachTarget | None]):
    """Two fields and a checkbox; says what is missing instead of closing on bad input."""

    DEFAULT_CSS = """
    AttachScreen > #dialog { max-width: 100; }
    AttachScreen Input { margin-bottom: 1; }
    """
    title = "Attach to a running server"

    def __init__(self, default_url: str | None) -> None:
        super().__init__()
        self._default_url = default_url or ""

    def body(self) -> Iterable[Widget]:
        yield Label("Its log file (what `vllm serve … 2>&1 | tee FILE` writes); leave empty for none:")
        yield Input(placeholder="/path/to/server.log", id="log-path")
        yield Checkbox("Read the log from its start (otherwise: the last 200 lines, then follow)", id="start")
        yield Label("Its URL (for /metrics and the playground); leave empty for none:")
        yield Input(value=self._default_url, placeholder="http://127.0.0.1:8000", id="url")

    def buttons(self) -> Iterable[Widget]:
        yield Label("", id="problem")
        yield Button("Cancel", id="cancel")
        yield Button("Attach", id="attach", variant="primary")

    def initial_focus(self) -> Widget | None:
        return self.query_one("#log-path", Input)

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "attach":
            self._submit()
        else:
            self.dismiss(None)

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
        self.dismiss(AttachTarget(path, url or None, self.query_one("#start", Checkbox).value))
