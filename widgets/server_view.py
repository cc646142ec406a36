"""The Server area: the log on the left; state, timeline, diagnosis, facts, metrics and launch on the right."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from tui.profile import Profile
from tui.redact import redact
from tui.server.launch_plan import LaunchPlan
from tui.server.logfacts.diagnosis import Diagnosis
from tui.server.logfacts.phases import Phase
from tui.server.status import ServerStatus
from widgets.area import AreaView
from widgets.server_facts import diagnosis_text, facts_table, metrics_table, phases_table, section
from widgets.server_log import ServerLog

STATE_STYLES = {
    "not started": "dim", "preflight": "yellow", "starting": "bold yellow", "ready": "bold green",
    "stopping": "yellow", "stopped": "dim", "failed": "bold red", "attached": "bold cyan",
}


def profile_table(profile: Profile, plan: LaunchPlan) -> Table:
    """Model, runtime and variants of the profile as a two-column table."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    model = profile.model
    source = model.source + (f" @ {model.revision}" if model.revision else "")
    table.add_row("Model", Text(model.id))
    if model.path:
        table.add_row("Path", Text(plan.model, style="dim"))
    table.add_row("Source", source)
    table.add_row("Runtime", profile.runtime)
    variants = [f"[b]{name}[/b]" if name == plan.variant else name for name in profile.variants]
    table.add_row("Variants", Text.from_markup(" · ".join(variants)) if variants else Text("none", style="dim"))
    return table


def launch_text(plan: LaunchPlan) -> Text:
    """The copyable script, sourced files and exports dimmed, the command bold; secrets shown masked."""
    text = Text()
    for line in redact(plan.shell_script()).splitlines():
        style = "dim" if line.startswith(("# ", "set ", ". ", "source ", "export ")) else "bold"
        text.append(line + "\n", style=style)
    text.rstrip()
    return text


def status_line(status: ServerStatus, uptime_s: float | None) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("● ", style=STATE_STYLES.get(status.state, ""))
    text.append(status.state, style=STATE_STYLES.get(status.state, ""))
    if status.pid is not None:
        text.append(f" · pid {status.pid}")
    if uptime_s is not None and status.state in ("starting", "ready"):
        text.append(f" · up {uptime_s:.0f} s" if uptime_s < 120 else f" · up {uptime_s / 60:.0f} min")
    if status.url:
        text.append(f" · {status.url}", style="underline")
    if status.log_path is not None:
        text.append(f" · {status.log_path}", style="dim")
    if status.detail:
        text.append("\n")
        text.append(status.detail, style="bold red" if status.state == "failed" else "yellow")
    return text


class ServerView(AreaView):
    """Draws what it is given; the log pane is `self.log_pane`."""

    DEFAULT_CSS = """
    ServerView { overflow-y: hidden; }
    ServerView #server-status { height: auto; }
    ServerView #server-note { height: auto; display: none; }
    ServerView #server-note.-shown { display: block; }
    ServerView #server-body { height: 1fr; }
    ServerView ServerLog { width: 2fr; min-width: 40; }
    ServerView #server-side { width: 1fr; min-width: 34; padding-left: 1; border-left: vkey $panel-lighten-2; }
    ServerView #server-side > Static { height: auto; }
    ServerView.-narrow #server-body { layout: vertical; }
    ServerView.-narrow ServerLog { width: 1fr; height: 2fr; }
    ServerView.-narrow #server-side { width: 1fr; height: 1fr; border-left: none; padding-left: 0; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._plan_render: RenderableType = Text("No profile chosen: press p to pick one.")
        self._run_render: RenderableType | None = None

    def compose(self) -> ComposeResult:
        yield Static(status_line(ServerStatus(), None), id="server-status")
        yield Static("", id="server-note")
        with Horizontal(id="server-body"):
            yield ServerLog(id="server-log-pane")
            with VerticalScroll(id="server-side"):
                yield Static("", id="server-facts")

    def on_resize(self) -> None:
        self.set_class(self.size.width < 90, "-narrow")

    def focus_target(self) -> Widget:
        return self.log_pane.log_widget

    @property
    def log_pane(self) -> ServerLog:
        return self.query_one(ServerLog)

    # ---- drawing -------------------------------------------------------------------------------

    def show_plan(self, profile: Profile, plan: LaunchPlan) -> None:
        self._plan_render = Group(profile_table(profile, plan), Text(""), launch_text(plan))
        self._redraw_side()

    def show_error(self, sentence: str) -> None:
        self._plan_render = Text(sentence, style="bold red")
        self._redraw_side()

    def show_status(self, status: ServerStatus, uptime_s: float | None) -> None:
        self.query_one("#server-status", Static).update(status_line(status, uptime_s))

    def show_note(self, sentence: str | None, warning: bool = False) -> None:
        """A sentence under the status line (what an attach found), or none."""
        note = self.query_one("#server-note", Static)
        note.update(Text(sentence or "", style="bold yellow" if warning else "cyan"))
        note.set_class(bool(sentence), "-shown")

    def show_facts(
        self,
        facts: Mapping[str, Any],
        phases: Sequence[Phase],
        progress: tuple[str, int] | None,
        root: Diagnosis | None,
        error_count: int,
        metrics: Sequence[tuple[str, str, Sequence[float | None]]],
        finished: bool,
    ) -> None:
        parts: list[RenderableType] = []
        if root is not None:
            parts.append(section("Diagnosis", diagnosis_text(root, max(0, error_count - 1))))
        parts.append(section("Start-up", phases_table(phases, progress, finished)))
        if metrics:
            parts.append(section("Serving now", metrics_table(metrics)))
        parts.append(section("Facts from the log", facts_table(facts)))
        self._run_render = Group(*parts)
        self._redraw_side()

    def clear_facts(self) -> None:
        self._run_render = None
        self._redraw_side()

    def _redraw_side(self) -> None:
        parts: list[RenderableType] = []
        if self._run_render is not None:
            parts.append(self._run_render)
        parts.append(section("Launch", self._plan_render))
        self.query_one("#server-facts", Static).update(Group(*parts))
