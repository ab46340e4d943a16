"""The bot's settings, parsed and checked in one place: `BotSettings` turns the raw text of the
bot's variables in `Settings` into usable types (ids, a time, a token of the right shape).

NEWSDESK_BRIEFING_CHANNELS is a comma-separated list of channel ids, each optionally narrowed:
`123:topic=energy;sources=Reuters,AP,456` posts to channel 123 the day's briefing of the articles
from Reuters or AP about energy, and to channel 456 the whole briefing. The outlets of `sources=`
run on, comma-separated, up to the next item that starts with a channel id.

NEWSDESK_GUILD_COLLECTIONS maps guilds to collections, `guild_id:collection`; a server not listed
gets a collection of its own, `guild-<id>`, so that one server's /ingest never answers another.
Sharing is explicit: list several guilds with one collection, or `*:collection` for every server
not listed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from typing import Literal

from pydantic import BaseModel, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from rag.settings import Settings, check_collection_name, env_names

# Discord bot tokens are three base64url parts joined by dots (user id, timestamp, HMAC).
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_CHANNEL_START = re.compile(r"\s*\d+\s*(?::|$)")  # an item of NEWSDESK_BRIEFING_CHANNELS that names a channel
ANY_GUILD = 0  # the key `*:collection` is parsed to (no Discord id is 0); BotConfig keeps it apart
_ID_HELP = ("is not a Discord id (17-20 digits; turn on Developer Mode, then right-click the server or "
            "channel and Copy ID)")


class BotConfigError(ValueError):
    """The bot's settings are missing or malformed; the message names each problem."""


@dataclass(frozen=True)
class ChannelFilter:
    """What one briefing channel's daily post is narrowed to: a topic and/or outlets."""

    topic: str | None = None
    sources: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.topic or self.sources)


@dataclass
class BotConfig:
    """What the bot needs beyond the core settings, in usable types."""

    token: str
    dev_guilds: list[int] = field(default_factory=list)
    guild_collections: dict[int, str] = field(default_factory=dict)
    shared_collection: str | None = None  # `*:name`: the collection of every guild not listed
    briefing_channels: list[int] = field(default_factory=list)
    briefing_filters: dict[int, ChannelFilter] = field(default_factory=dict)  # narrowed channels only
    briefing_time: time = time(8, 0)
    briefing_day: str = "previous"
    ingest_roles: list[str] = field(default_factory=list)
    cooldown: float = 10.0
    history_turns: int = 6

    def __repr__(self) -> str:  # never show the token, even in a traceback
        return f"BotConfig(guilds={self.dev_guilds}, collections={self.guild_collections}, token=***)"


def _env(info: ValidationInfo) -> str:
    """The variable a user sets for the field being validated."""
    return env_names(str(info.field_name))[0]


def _items(raw: str) -> list[str]:
    """The non-empty items of a comma-separated list, stripped."""
    return [part.strip() for part in raw.split(",") if part.strip()]


def _is_discord_id(text: str) -> bool:
    """Whether `text` looks like a Discord snowflake id."""
    return text.isdigit() and 15 <= len(text) <= 21


def _problem(error: ErrorDetails) -> str:
    """One problem in words: a validator's own message (it names the variable), else pydantic's."""
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):
        return str(cause)
    return f"{env_names(str(error['loc'][0]))[0]}: {error['msg']}"


class BotSettings(BaseModel):
    """The bot's settings in usable types, each parsed from the raw value of the `Settings` field of
    the same name. Fields are in the order their problems are reported; every problem is reported."""

    discord_token: SecretStr
    guild_collections: dict[int, str]
    briefing_time: time
    bot_cooldown: float
    bot_guilds: list[int]
    briefing_channels: list[tuple[int, ChannelFilter]]
    briefing_day: Literal["previous", "same"]
    ingest_roles: list[str]
    bot_history_turns: int

    @classmethod
    def from_settings(cls, settings: Settings, require_token: bool = True) -> BotSettings:
        """Parse the bot's fields of `settings`; BotConfigError lists every problem, "; "-separated."""
        raw = {name: getattr(settings, name) for name in cls.model_fields}
        try:
            return cls.model_validate(raw, context={"require_token": require_token})
        except ValidationError as exc:
            raise BotConfigError("; ".join(_problem(e) for e in exc.errors())) from None

    def config(self) -> BotConfig:
        """The BotConfig the bot runs with."""
        mapped = {gid: name for gid, name in self.guild_collections.items() if gid != ANY_GUILD}
        return BotConfig(token=self.discord_token.get_secret_value(), dev_guilds=self.bot_guilds,
                         guild_collections=mapped, shared_collection=self.guild_collections.get(ANY_GUILD),
                         briefing_channels=[cid for cid, _ in self.briefing_channels],
                         briefing_filters={cid: f for cid, f in self.briefing_channels if f},
                         briefing_time=self.briefing_time, briefing_day=self.briefing_day,
                         ingest_roles=self.ingest_roles, cooldown=self.bot_cooldown,
                         history_turns=self.bot_history_turns)

    @field_validator("discord_token", mode="before")
    @classmethod
    def _token(cls, value: object, info: ValidationInfo) -> str:
        token = (value.get_secret_value() if isinstance(value, SecretStr) else str(value or "")).strip()
        if not token and (info.context or {}).get("require_token", True):
            raise ValueError(f"{_env(info)} is not set: put the bot token from the Discord developer portal "
                             "in the environment or in .env")
        if token and not _TOKEN.match(token):
            raise ValueError(f"{_env(info)} does not look like a Discord bot token (three dot-separated parts); "
                             "copy it again from the developer portal's Bot page")
        return token

    @field_validator("guild_collections", mode="before")
    @classmethod
    def _guild_collections(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        collections: dict[int, str] = {}
        problems = []
        for part in _items(value):
            guild, _, name = (text.strip() for text in part.partition(":"))
            if not (_is_discord_id(guild) or guild == "*") or not name:
                problems.append(f"{_env(info)}: {part!r} is not guild_id:collection")
                continue
            try:
                collections[ANY_GUILD if guild == "*" else int(guild)] = check_collection_name(name)
            except ValueError:
                problems.append(f"{_env(info)}: {name!r} is not a valid collection name")
        if problems:
            raise ValueError("; ".join(problems))
        return collections

    @field_validator("briefing_time", mode="before")
    @classmethod
    def _briefing_time(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        match = _TIME.fullmatch(value.strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"{_env(info)}: {value!r} is not a time HH:MM (24-hour)")
        return time(int(match[1]), int(match[2]))

    @field_validator("bot_cooldown")
    @classmethod
    def _cooldown(cls, value: float, info: ValidationInfo) -> float:
        if value < 0:
            raise ValueError(f"{_env(info)} must be 0 or more seconds")
        return value

    @field_validator("bot_guilds", mode="before")
    @classmethod
    def _discord_ids(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        bad = [part for part in _items(value) if not _is_discord_id(part)]
        if bad:
            raise ValueError("; ".join(f"{_env(info)}: {part!r} {_ID_HELP}" for part in bad))
        return [int(part) for part in _items(value)]

    @field_validator("briefing_channels", mode="before")
    @classmethod
    def _briefing_channels(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        channels: list[tuple[int, ChannelFilter]] = []
        problems: list[str] = []
        for entry in _channel_entries(value):
            parsed = _channel(entry, _env(info), problems)
            if parsed is not None:
                channels.append(parsed)
        narrowed = [cid for cid, f in channels if f]
        twice = sorted({cid for cid in narrowed if [c for c, _ in channels].count(cid) > 1})
        problems += [f"{_env(info)}: channel {cid} is listed twice (it gets one briefing a day)" for cid in twice]
        if problems:
            raise ValueError("; ".join(problems))
        return channels

    @field_validator("ingest_roles", mode="before")
    @classmethod
    def _roles(cls, value: object) -> object:
        return _items(value) if isinstance(value, str) else value

    @field_validator("bot_history_turns")
    @classmethod
    def _history_turns(cls, value: int) -> int:
        return max(0, value)


def _channel_entries(raw: str) -> list[str]:
    """The entries of NEWSDESK_BRIEFING_CHANNELS: its comma-separated items, except that an item not
    starting with a channel id continues the entry before it when that entry ends in `sources=…`."""
    entries: list[str] = []
    for item in _items(raw):
        last_key = entries[-1].partition(":")[2].rsplit(";", 1)[-1].strip().lower() if entries else ""
        if not _CHANNEL_START.match(item) and last_key.startswith("sources="):
            entries[-1] += "," + item
        else:
            entries.append(item)
    return entries


def _channel(entry: str, env: str, problems: list[str]) -> tuple[int, ChannelFilter] | None:
    """One entry, `id` or `id:topic=TEXT;sources=OUTLET,…`; None (its problems added) if malformed."""
    cid, colon, spec = (text.strip() for text in entry.partition(":"))
    if not _is_discord_id(cid):
        problems.append(f"{env}: {cid!r} {_ID_HELP}")
        return None
    if not colon:
        return int(cid), ChannelFilter()
    topic: str | None = None
    sources: tuple[str, ...] = ()
    before = len(problems)
    for part in (p.strip() for p in spec.split(";")):
        key, _, text = (t.strip() for t in part.partition("="))
        if key.lower() == "topic" and text:
            topic = " ".join(text.split())
        elif key.lower() == "sources" and _items(text):
            sources = tuple(_items(text))
        elif part:
            problems.append(f"{env}: {part!r} (channel {cid}) is not topic=TEXT or sources=OUTLET,OUTLET")
    if len(problems) == before and not (topic or sources):
        problems.append(f"{env}: {entry!r}: after the channel id and ':' give topic=TEXT and/or "
                        "sources=OUTLET,OUTLET")
    return (int(cid), ChannelFilter(topic, sources)) if len(problems) == before else None


def load_bot_config(settings: Settings, require_token: bool = True) -> BotConfig:
    """Parse and check the bot settings; raises BotConfigError listing every problem."""
    return BotSettings.from_settings(settings, require_token=require_token).config()
