"""The Playground area: where the server answers and the prompts the profile brings."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from tui.profiles import Profile
from widgets.area import AreaView


def playground_table(profile: Profile) -> Table:
    """Endpoint, served model name, mode, system prompt and presets."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    settings = profile.playground
    table.add_row("API", Text(f"{profile.base_url}/v1", style="underline"))
    table.add_row("Model", profile.server.served_model_name or profile.model_ref)
    if profile.server.api_key_env:
        table.add_row("API key", Text(f"from ${profile.server.api_key_env}", style="dim"))
    table.add_row("Mode", settings.mode)
    if settings.system:
        table.add_row("System", Text(settings.system, style="italic"))
    sampling = [f"max_tokens {settings.max_tokens}"]
    if settings.temperature is not None:
        sampling.append(f"temperature {settings.temperature:g}")
    if settings.top_p is not None:
        sampling.append(f"top_p {settings.top_p:g}")
    table.add_row("Sampling", " · ".join(sampling))
    for index, preset in enumerate(settings.presets, start=1):
        table.add_row("Presets" if index == 1 else "", Text(f"{index}. {preset}"))
    return table


class PlaygroundView(AreaView):
    """Draws the playground settings of the profile."""

    DEFAULT_CSS = """
    PlaygroundView > Static { height: auto; }
    """

    def compose(self) -> ComposeResult:
        yield Static("No profile chosen.", id="settings")

    def show_profile(self, profile: Profile) -> None:
        self.query_one("#settings", Static).update(playground_table(profile))
