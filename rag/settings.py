"""Typed settings: every knob in one place, read from NEWSDESK_* variables and `.env`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """The per-user data dir (XDG on Linux): ~/.local/share/newsdesk."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "newsdesk"


class Settings(BaseSettings):
    """Newsdesk configuration. See `.env.example` for a commented list."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Storage
    data_dir: Path = Field(default_factory=default_data_dir)
    collection: str = "news"
    chroma_host: str | None = None
    chroma_port: int = 8000
    chroma_ssl: bool = False

    # Ingestion
    max_article_chars: int = 2_000_000
    http_timeout: float = 20.0
    http_max_bytes: int = 10_000_000
    user_agent: str = "Newsdesk/0.1 (+https://github.com/newsdesk)"
    chunk_tokens: int = 230  # model tokens per passage (the model reads 256, [CLS] and [SEP] included)
    chunk_overlap_tokens: int = 40
    near_duplicate_threshold: float = 0.8
    embed_batch_size: int = 16  # ONNX: same speed at 16, 32, 64; peak memory 0.6, 0.9, 1.6 GB
    ingest_batch_chunks: int = 256
    lock_timeout: float = 600.0

    # Embeddings
    embedding_backend: Literal["auto", "onnx", "torch"] = "auto"
    model_cache_dir: Path | None = None  # where the ONNX export is kept (default ~/.cache/newsdesk)

    # Retrieval
    rerank_depth: int = Field(default=20, ge=0, le=200)  # top fused passages re-ranked (0 or 1: off)

    # LLM
    llm: Literal["auto", "openai", "none"] = "auto"
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = 60.0
    llm_context_tokens: int = 8192
    llm_max_tokens: int = 512
    llm_max_calls: int = Field(default=8, ge=1)  # per summary (map-reduce of long input)
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "NEWSDESK_OPENAI_API_KEY")
    )

    # Briefings
    timezone: str = "UTC"

    # Discord bot (bot/config.py parses and checks the list-valued ones)
    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN", "NEWSDESK_DISCORD_TOKEN")
    )
    bot_guilds: str = ""           # guild ids to sync slash commands to at once (development)
    guild_collections: str = ""    # "guild_id:collection,..."; other guilds use `collection`
    briefing_channels: str = ""    # channel ids for the daily briefing
    briefing_time: str = "08:00"   # HH:MM in `timezone`
    briefing_day: Literal["previous", "same"] = "previous"
    ingest_roles: str = ""         # role ids or names allowed /ingest (besides Manage Server)
    bot_cooldown: float = 10.0     # seconds per user between /ask or /summarize calls
    bot_history_turns: int = 6     # earlier thread turns used as context for a follow-up

    log_level: str = "WARNING"

    @field_validator("collection")
    @classmethod
    def _valid_collection(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{1,62}[A-Za-z0-9]", value):
            raise ValueError(
                "collection names are 3-64 characters of letters, digits, '_' or '-', "
                "starting and ending with a letter or digit"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if not value.strip():
            return "UTC"
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin or UTC") from None
        return value

    @field_validator("chroma_host", "llm_base_url", "openai_api_key", "discord_token", "model_cache_dir",
                     mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def llm_enabled(self) -> bool:
        """Whether answers should go through an LLM (NEWSDESK_LLM=auto picks by configuration)."""
        if self.llm == "none":
            return False
        if self.llm == "openai":
            return True
        return bool(self.openai_api_key or self.llm_base_url)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment and `.env`, with explicit overrides (e.g. CLI flags) on top."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
