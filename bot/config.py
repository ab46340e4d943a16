"""The bot's settings, parsed and checked: the list-valued variables, the token's shape, times."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time

from rag.settings import Settings

# Discord bot tokens are three base64url parts joined by dots (user id, timestamp, HMAC).
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")


class BotConfigError(ValueError):
    """The bot's settings are missing or malformed; the message names each problem."""


@dataclass
class BotConfig:
    """What the bot needs beyond the core settings, in usable types."""

    token: str
    dev_guilds: list[int] = field(default_factory=list)
    guild_collections: dict[int, str] = field(default_factory=dict)
    briefing_channels: list[int] = field(default_factory=list)
    briefing_time: time = time(8, 0)
    briefing_day: str = "previous"
    ingest_roles: list[str] = field(default_factory=list)
    cooldown: float = 10.0
    history_turns: int = 6

    def __repr__(self) -> str:  # never show the token, even in a traceback
        return f"BotConfig(guilds={self.dev_guilds}, collections={self.guild_collections}, token=***)"


def _ids(raw: str, name: str, problems: list[str]) -> list[int]:
    out = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        if not part.isdigit() or not 15 <= len(part) <= 21:
            problems.append(f"{name}: {part!r} is not a Discord id (17-20 digits; turn on Developer Mode, "
                            "then right-click the server or channel and Copy ID)")
            continue
        out.append(int(part))
    return out


def load_bot_config(settings: Settings, require_token: bool = True) -> BotConfig:
    """Parse and check the bot settings; raises BotConfigError listing every problem."""
    problems: list[str] = []
    token = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not token:
        if require_token:
            problems.append("DISCORD_TOKEN is not set: put the bot token from the Discord developer portal "
                            "in the environment or in .env")
    elif not _TOKEN.match(token):
        problems.append("DISCORD_TOKEN does not look like a Discord bot token (three dot-separated parts); "
                        "copy it again from the developer portal's Bot page")
    collections: dict[int, str] = {}
    for part in (p.strip() for p in settings.guild_collections.split(",")):
        if not part:
            continue
        guild, _, name = part.partition(":")
        if not guild.strip().isdigit() or not 15 <= len(guild.strip()) <= 21 or not name.strip():
            problems.append(f"NEWSDESK_GUILD_COLLECTIONS: {part!r} is not guild_id:collection")
            continue
        try:
            Settings(_env_file=None, collection=name.strip())
        except ValueError:
            problems.append(f"NEWSDESK_GUILD_COLLECTIONS: {name.strip()!r} is not a valid collection name")
            continue
        collections[int(guild)] = name.strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", settings.briefing_time.strip())
    at = time(8, 0)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        problems.append(f"NEWSDESK_BRIEFING_TIME: {settings.briefing_time!r} is not a time HH:MM (24-hour)")
    else:
        at = time(int(match[1]), int(match[2]))
    if settings.bot_cooldown < 0:
        problems.append("NEWSDESK_BOT_COOLDOWN must be 0 or more seconds")
    config = BotConfig(
        token=token,
        dev_guilds=_ids(settings.bot_guilds, "NEWSDESK_BOT_GUILDS", problems),
        guild_collections=collections,
        briefing_channels=_ids(settings.briefing_channels, "NEWSDESK_BRIEFING_CHANNELS", problems),
        briefing_time=at,
        briefing_day=settings.briefing_day,
        ingest_roles=[r.strip() for r in settings.ingest_roles.split(",") if r.strip()],
        cooldown=settings.bot_cooldown,
        history_turns=max(0, settings.bot_history_turns),
    )
    if problems:
        raise BotConfigError("; ".join(problems))
    return config
