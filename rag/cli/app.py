"""The `newsdesk` command group."""

from __future__ import annotations

import click

from rag import __version__

# Front ends that live outside the core (the Discord bot) add their commands through this entry
# point group, as `llm` plugins do: `rag` never imports them.
COMMAND_ENTRY_POINTS = "newsdesk.commands"


class NewsdeskGroup(click.Group):
    """The command group, plus the commands installed packages register under
    `newsdesk.commands`, loaded only when listed or called (so no import cycle, and a fast --help)."""

    def _plugins(self) -> dict:
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group=COMMAND_ENTRY_POINTS) if ep.name not in self.commands}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*self.commands, *self._plugins()])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        ep = self._plugins().get(cmd_name)
        return ep.load() if ep else None


@click.group(cls=NewsdeskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsdesk")
def main() -> None:
    """Newsdesk: ask questions of your news articles and get answers that cite their sources."""

