"""The bot's settings, parsed and checked in one place: `BotSettings` turns the raw text of the
bot's variables in `Settings` into usable types (ids, a time, a token of the right shape)."""

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
    briefing_channels: list[int]
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
        return BotConfig(token=self.discord_token.get_secret_value(), dev_guilds=self.bot_guilds,
                         guild_collections=self.guild_collections, briefing_channels=self.briefing_channels,
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
            if not _is_discord_id(guild) or not name:
                problems.append(f"{_env(info)}: {part!r} is not guild_id:collection")
                continue
            try:
                collections[int(guild)] = check_collection_name(name)
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

    @field_validator("bot_guilds", "briefing_channels", mode="before")
    @classmethod
    def _discord_ids(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, str):
            return value
        bad = [part for part in _items(value) if not _is_discord_id(part)]
        if bad:
            raise ValueError("; ".join(
                f"{_env(info)}: {part!r} is not a Discord id (17-20 digits; turn on Developer Mode, "
                "then right-click the server or channel and Copy ID)" for part in bad))
        return [int(part) for part in _items(value)]

    @field_validator("ingest_roles", mode="before")
    @classmethod
    def _roles(cls, value: object) -> object:
        return _items(value) if isinstance(value, str) else value

    @field_validator("bot_history_turns")
    @classmethod
    def _history_turns(cls, value: int) -> int:
        return max(0, value)


def load_bot_config(settings: Settings, require_token: bool = True) -> BotConfig:
    """Parse and check the bot settings; raises BotConfigError listing every problem."""
    return BotSettings.from_settings(settings, require_token=require_token).config()
