"""The Newsdesk Discord bot: slash commands, mentions and threads, daily briefings.

`client.py` is the Discord front end, `core.py` what it does (the same core as the CLI),
`format.py` fits results into Discord's limits, `config.py` checks the settings, and
`state.py` remembers the daily posts across restarts.
"""
