"""The Devices area: host CPU/memory and what the device tool printed."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from tui.devices.host import HostSnapshot
from widgets.area import AreaView

GIB = 1024**3


def host_line(snapshot: HostSnapshot) -> Text:
    """`Host  CPU 12% of 2 · load 0.4 · memory 8.1 / 24.0 GiB (34%)`."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("Host  ", style="bold")
    cpu = "N/A" if snapshot.cpu_pct is None else f"{snapshot.cpu_pct:.0f}%"
    text.append(f"CPU {cpu} of {snapshot.cpu_count}")
    if snapshot.load_1m is not None:
        text.append(f" · load {snapshot.load_1m:.1f}")
    used, total = snapshot.memory_used_bytes / GIB, snapshot.memory_total_bytes / GIB
    style = "bold red" if snapshot.memory_pct >= 90 else ""
    text.append(" · memory ")
    text.append(f"{used:.1f} / {total:.1f} GiB ({snapshot.memory_pct:.0f}%)", style=style)
    return text


class DevicesView(AreaView):
    """Draws the host line and the device tool's output (or why there is none)."""

    DEFAULT_CSS = """
    DevicesView #host { height: auto; }
    DevicesView #source { height: 1; color: $text-muted; }
    DevicesView #tool-output { width: auto; height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Host  reading…", id="host")
        yield Static("", id="source")
        yield Static("Asking the device tool…", id="tool-output", markup=False)

    def show_host(self, snapshot: HostSnapshot) -> None:
        self.query_one("#host", Static).update(host_line(snapshot))

    def show_tool_output(self, source: str, output: str, error: str | None) -> None:
        """`source` says what ran and when; `error` replaces the output when the tool failed."""
        self.query_one("#source", Static).update(Text(source, no_wrap=True, overflow="ellipsis"))
        body = self.query_one("#tool-output", Static)
        if error:
            body.update(Text(error, style="bold red"))
        else:
            body.update(Text(output.rstrip("\n"), no_wrap=True))
