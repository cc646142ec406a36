"""A modal with one NPU's usage rates (`npu-smi info -t usages -i N`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.devices.snapshot import ChipUsage
from widgets.chip_usage_view import usage_tables


class ChipDetailScreen(ModalScreen[None]):
    """Shows the rates; Esc or Enter closes it."""

    DEFAULT_CSS = """
    ChipDetailScreen { align: center middle; }
    ChipDetailScreen > VerticalScroll {
        width: 80%; max-width: 80; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ChipDetailScreen Static { height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("enter", "dismiss", "Close", show=False),
    ]

    def __init__(self, npu: int, usages: Sequence[ChipUsage], error: str | None) -> None:
        super().__init__()
        self._npu = npu
        self._usages = usages
        self._error = error

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = f"NPU {self._npu} usage (npu-smi info -t usages -i {self._npu})"
            box.border_subtitle = "Esc closes"
            if self._error:
                yield Static(Text(self._error, style="bold red"))
            else:
                yield Static(usage_tables(self._usages))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
