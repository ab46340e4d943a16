"""The Newsdesk Discord bot: slash commands, mentions and threads, daily briefings.

`client.py` is the Discord front end, `core.py` what it does (the same core as the CLI),
`format.py` fits results into Discord's limits (and escapes what comes from articles),
`config.py` checks the settings, `caches.py` bounds what the bot remembers, and `state.py`
remembers the daily posts across restarts. Each server reads and writes a collection of its own
(`guild-<id>`) unless NEWSDESK_GUILD_COLLECTIONS maps it, or `*:name` shares one.
"""
