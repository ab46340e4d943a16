"""The Discord bot as a service of `newsdesk run`: the desk's process polls the feeds and serves
the bot, sharing one set of components per collection, so one process writes the index."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from rag.settings import Settings

if TYPE_CHECKING:
    from rag.cli.run import Desk

log = logging.getLogger(__name__)


def serve(settings: Settings, desk: Desk, stop: threading.Event) -> bool:
    """Run the bot until it is stopped (Ctrl-C or SIGTERM reach it as KeyboardInterrupt, which
    discord.py's `run` turns into a clean close). False at once when DISCORD_TOKEN is not set."""
    if settings.discord_token is None:
        return False
    import click

    from bot.client import NewsdeskBot
    from bot.config import BotConfigError, load_bot_config
    from bot.core import BotCore

    try:
        config = load_bot_config(settings)
    except BotConfigError as exc:
        raise click.ClickException(f"invalid bot settings: {exc}") from None
    logging.getLogger("discord.client").setLevel(logging.ERROR)  # "voice support missing": no voice used
    core = BotCore(settings, config, components_factory=desk.components, poll_feeds=True)
    try:
        NewsdeskBot(core, config).run(config.token, log_handler=None)
    except Exception as exc:  # discord.LoginFailure etc.: never print the token
        raise click.ClickException(f"the bot stopped: {exc.__class__.__name__}: {exc}") from None
    finally:
        stop.set()
    return True
