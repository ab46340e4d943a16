"""`newsdesk bot`: the Discord front end's command, added to `newsdesk` through the
`newsdesk.commands` entry point (the core never imports `bot`)."""

from __future__ import annotations

import logging

import click

from rag.cli.options import common_options, emit_json, err_console


@click.command(short_help="Run the Discord bot.")
@click.option("--check", is_flag=True,
              help="Validate the bot's settings and print its slash commands as JSON, without connecting.")
@common_options
def bot(check: bool, settings, as_json: bool) -> None:
    """Run the Discord bot (token from DISCORD_TOKEN; see the README for the set-up)."""
    from bot.config import BotConfigError, load_bot_config

    try:
        config = load_bot_config(settings)
    except BotConfigError as exc:
        raise click.ClickException(f"invalid bot settings: {exc}") from None
    # discord.py warns at start-up that voice support is missing; the bot uses no voice.
    logging.getLogger("discord.client").setLevel(logging.ERROR)
    from bot.client import NewsdeskBot, command_specs
    from bot.core import BotCore

    core = BotCore(settings, config)
    client = NewsdeskBot(core, config)
    if check:
        emit_json({"commands": command_specs(client),
                    "settings": {"collections": {str(k): v for k, v in config.guild_collections.items()},
                                 # what a server not listed uses: `*:name`'s, else one of its own
                                 "unlisted_servers": config.shared_collection or "guild-<id>",
                                 "default_collection": settings.collection,
                                 "dev_guilds": config.dev_guilds, "briefing_channels": config.briefing_channels,
                                 "briefing_time": config.briefing_time.strftime("%H:%M"),
                                 "briefing_day": config.briefing_day, "timezone": settings.timezone,
                                 "ingest_roles": config.ingest_roles, "cooldown_seconds": config.cooldown,
                                 "history_turns": config.history_turns}})
        return
    unlisted = repr(config.shared_collection) if config.shared_collection else "a collection of their own"
    err_console().print(f"Starting the Newsdesk bot (servers not in NEWSDESK_GUILD_COLLECTIONS use {unlisted}; "
                        f"data in {settings.data_dir}); Ctrl-C stops it.", style="dim", markup=False)
    try:
        client.run(config.token, log_handler=None)
    except Exception as exc:  # discord.LoginFailure etc.: never print the token
        raise click.ClickException(f"the bot stopped: {exc.__class__.__name__}: {exc}") from None
    finally:
        core.close()

