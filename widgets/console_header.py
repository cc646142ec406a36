"""The one-line header: which profile, what the server is doing, where it answers."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

SERVER_STATE_STYLES = {
    "not started": "dim",
    "starting": "yellow",
    "ready": "bold green",
    "stopping": "yellow",
    "stopped": "dim",
    "failed": "bold red",
    "attached": "bold cyan",
}


@dataclass(frozen=True)
class HeaderInfo:
    """Everything the header shows; the app builds a new one whenever something changes."""

    profile: str | None
    variant: str | None
    server_state: str
    url: str | None
    simulated: bool
    running_profile: str | None = None  # what the server this console launched runs, when one is up
    running_variant: str | None = None


class ConsoleHeader(Static):
    """Draws a `HeaderInfo`."""

    DEFAULT_CSS = """
    ConsoleHeader {
        height: 1;
        background: $panel;
        color: $text;
    }
    """

    def show(self, info: HeaderInfo) -> None:
        self._info = info
        width = self.size.width or 200
        for short in (False, True):  # at 80 columns the selection hint takes its short form
            text = self._line(info, short)
            if text.cell_len <= width:
                break
        self.update(text)

    def on_resize(self) -> None:
        info: HeaderInfo | None = getattr(self, "_info", None)
        if info is not None:
            self.show(info)

    @staticmethod
    def _line(info: HeaderInfo, short: bool) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" npu-console ", style="bold reverse")
        if info.simulated:  # first, so that even 80 columns show it
            text.append(" ")
            text.append(" SIMULATED HOST ", style="bold black on yellow")
        if info.running_profile is not None:
            # What runs comes first and, apart, what is selected when it differs: results are labelled
            # by what runs, and the operator sees at once that a relaunch is needed for the selection.
            text.append("  serving ", style="dim")
            text.append(info.running_profile, style="bold")
            if info.running_variant:
                text.append(f" · {info.running_variant}", style="cyan")
            text.append(" ")
            text.append(info.server_state, style=SERVER_STATE_STYLES.get(info.server_state, ""))
            if (info.profile, info.variant) != (info.running_profile, info.running_variant):
                selected = info.variant if info.profile == info.running_profile else \
                    f"{info.profile} · {info.variant}" if info.variant else str(info.profile)
                text.append(f" · selected {selected} — R" + ("" if short else " relaunches"), style="bold yellow")
        else:
            text.append("  profile ", style="dim")
            if info.profile is None:
                text.append("none chosen", style="italic")
            else:
                text.append(info.profile, style="bold")
                if info.variant:
                    text.append(f" · {info.variant}", style="cyan")
            text.append("   server ", style="dim")
            text.append(info.server_state, style=SERVER_STATE_STYLES.get(info.server_state, ""))
        if info.url:
            text.append("   ")
            text.append(info.url, style="underline")
        return text
