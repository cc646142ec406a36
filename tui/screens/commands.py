"""The console's entries in the command palette (ctrl+p).

Entries come from `NpuConsoleApp.console_commands()`, the same list that
drives the key bindings, so a palette entry exists exactly when its feature does.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.console_commands import ConsoleCommand


class ConsoleCommandsProvider(Provider):
    """Offers each console command by its title, with its key in the help line."""

    def _commands(self) -> tuple[ConsoleCommand, ...]:
        commands: tuple[ConsoleCommand, ...] = getattr(self.app, "console_commands", tuple)()
        return commands

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(
                command.title,
                partial(self.app.run_action, command.action),
                help=command.help_line,
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    partial(self.app.run_action, command.action),
                    help=command.help_line,
                )
