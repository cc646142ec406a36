"""A modal with one NPU's usage rates (`npu-smi info -t usages -i N`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Static

from tui.devices.snapshot import ChipUsage
from tui.screens.dialog import DialogScreen
from widgets.chip_usage_view import usage_tables


class ChipDetailScreen(DialogScreen[None]):
    """Shows the rates; Esc or Enter closes it."""

    DEFAULT_CSS = """
    ChipDetailScreen > #dialog { width: 80%; max-width: 80; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "escape", "Close", show=False)]
    ESCAPE_LABEL = "close"

    def __init__(self, npu: int, usages: Sequence[ChipUsage], error: str | None) -> None:
        super().__init__()
        self._npu = npu
        self._usages = usages
        self._error = error
        self.dialog_title = f"NPU {npu} usage (npu-smi info -t usages -i {npu})"

    def body(self) -> Iterable[Widget]:
        if self._error:
            yield Static(Text(self._error, style="bold red"), id="usage")
        else:
            yield Static(usage_tables(self._usages), id="usage")

    def initial_focus(self) -> Widget | None:
        return None
