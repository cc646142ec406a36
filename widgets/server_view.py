"""The Server area: what will be launched, with which environment."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from tui.profiles import Profile
from tui.server.launch_plan import LaunchPlan
from widgets.area import AreaView


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
    variants = []
    for name in profile.variants:
        variants.append(f"[b]{name}[/b]" if name == plan.variant else name)
    table.add_row("Variants", Text.from_markup(" · ".join(variants)) if variants else Text("none", style="dim"))
    if profile.description:
        table.add_row("About", Text(profile.description, style="italic"))
    return table


def launch_text(plan: LaunchPlan) -> Text:
    """The copyable script, sourced files and exports dimmed, the command bold."""
    text = Text()
    for line in plan.shell_script().splitlines():
        if line.startswith(("source ", "export ")):
            text.append(line + "\n", style="dim")
        else:
            text.append(line + "\n", style="bold")
    text.rstrip()
    return text


class ServerView(AreaView):
    """Draws the profile summary and the exact launch command."""

    DEFAULT_CSS = """
    ServerView > Static { height: auto; }
    ServerView .section { color: $accent; text-style: bold; margin-top: 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static("No profile chosen: press [b]p[/b] to pick one.", id="summary")
        yield Static("Launch command", classes="section")
        yield Static("", id="launch")

    def show_plan(self, profile: Profile, plan: LaunchPlan) -> None:
        self.query_one("#summary", Static).update(profile_table(profile, plan))
        self.query_one("#launch", Static).update(launch_text(plan))

    def show_error(self, sentence: str) -> None:
        self.query_one("#summary", Static).update(Text(sentence, style="bold red"))
        self.query_one("#launch", Static).update("")
