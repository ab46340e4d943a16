"""The Newsdesk Discord bot (see issue #5); it calls the same core as the CLI."""
