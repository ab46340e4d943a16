"""Settings: every variable described once in the model; .env.example and the README table generated
from it (and .env.example parses); the bot's settings parsed in one place."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_in_env_example():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    for name, field in Settings.model_fields.items():
        alias = getattr(field.validation_alias, "choices", None)
        env = alias[0] if alias else f"NEWSDESK_{name.upper()}"
        assert env in documented, f"{env} is missing from .env.example"


def test_env_example_parses_as_a_dotenv(tmp_path, monkeypatch):
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.collection == "news" and s.chroma_host is None and s.openai_api_key is None
    assert s.llm_enabled is False  # no key and no base URL: answers are extractive


def test_env_overrides_and_llm_auto(monkeypatch):
    monkeypatch.setenv("NEWSDESK_COLLECTION", "wire")
    monkeypatch.setenv("NEWSDESK_LLM_BASE_URL", "http://127.0.0.1:8080/v1")
    s = Settings(_env_file=None)
    assert s.collection == "wire" and s.llm_enabled
    monkeypatch.setenv("NEWSDESK_LLM", "none")
    assert Settings(_env_file=None).llm_enabled is False


def test_secret_is_not_shown(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123456")
    s = Settings(_env_file=None)
    assert s.openai_api_key.get_secret_value() == "sk-test-123456"
    assert "sk-test-123456" not in repr(s) and "sk-test-123456" not in str(s.model_dump())


# --- the docs are generated from the model --------------------------------------------------------


def test_every_setting_has_a_description_and_a_section():
    from rag.settings import SECTIONS

    for name, field in Settings.model_fields.items():
        assert field.description and field.description.strip(), f"{name} has no description"
        extra = field.json_schema_extra
        assert isinstance(extra, dict) and extra.get("section") in SECTIONS, f"{name} has no known section"


def test_env_example_is_generated_from_the_model():
    from rag.settings_docs import render_env_example

    assert (ROOT / ".env.example").read_text(encoding="utf-8") == render_env_example(), (
        ".env.example is out of date: run `python -m rag.settings_docs --write`")


def test_readme_tables_are_generated_from_the_model():
    from rag.settings_docs import render_readme_table, update_readme

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "<!-- settings-table:start" in readme and "<!-- settings-table:end -->" in readme
    assert update_readme(readme) == readme, "README.md's settings table is out of date: " \
                                            "run `python -m rag.settings_docs --write`"
    table = render_readme_table()
    assert "`NEWSDESK_DATA_DIR` | `~/.local/share/newsdesk` |" in table and "`OPENAI_API_KEY` | unset |" in table


def test_generated_docs_show_no_secret_and_name_the_aliases(monkeypatch):
    from rag.settings_docs import render_env_example, render_readme_table

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123456")
    monkeypatch.setenv("DISCORD_TOKEN", "MTAx.secret.token")
    text = render_env_example() + render_readme_table() + render_readme_table("bot")
    assert "sk-test" not in text and "secret" not in text
    assert "\n#OPENAI_API_KEY=\n" in text and "\n#DISCORD_TOKEN=\n" in text
    assert "Also read as NEWSDESK_OPENAI_API_KEY" in text
    assert all(len(line) <= 100 for line in render_env_example().splitlines())


def test_bot_settings_parse_in_one_place_and_name_every_problem(settings):
    from bot.config import BotConfigError, BotSettings, load_bot_config

    g1, g2 = "111111111111111111", "222222222222222222"
    ok = settings.model_copy(update={"guild_collections": f"{g1}:alpha", "bot_guilds": f" {g2} ,",
                                     "briefing_channels": g1, "briefing_time": "7:05", "bot_cooldown": 0.0,
                                     "bot_history_turns": -3, "ingest_roles": "editors,, 42 "})
    config = load_bot_config(ok, require_token=False)
    assert (config.guild_collections, config.dev_guilds, config.briefing_channels) == ({int(g1): "alpha"},
                                                                                       [int(g2)], [int(g1)])
    assert (config.briefing_time.hour, config.briefing_time.minute, config.history_turns) == (7, 5, 0)
    assert config.ingest_roles == ["editors", "42"] and config.token == "" and config.cooldown == 0.0
    assert set(BotSettings.model_fields) <= set(Settings.model_fields)
    bad = settings.model_copy(update={"guild_collections": "x:alpha", "briefing_time": "8", "bot_cooldown": -1.0,
                                      "bot_guilds": "12", "briefing_channels": f"{g1},general"})
    with pytest.raises(BotConfigError) as err:
        load_bot_config(bad)
    assert str(err.value) == "; ".join([
        "DISCORD_TOKEN is not set: put the bot token from the Discord developer portal in the environment or in .env",
        "NEWSDESK_GUILD_COLLECTIONS: 'x:alpha' is not guild_id:collection",
        "NEWSDESK_BRIEFING_TIME: '8' is not a time HH:MM (24-hour)",
        "NEWSDESK_BOT_COOLDOWN must be 0 or more seconds",
        "NEWSDESK_BOT_GUILDS: '12' is not a Discord id (17-20 digits; turn on Developer Mode, then right-click "
        "the server or channel and Copy ID)",
        "NEWSDESK_BRIEFING_CHANNELS: 'general' is not a Discord id (17-20 digits; turn on Developer Mode, then "
        "right-click the server or channel and Copy ID)",
    ])
    with pytest.raises(BotConfigError, match="DISCORD_TOKEN does not look like a Discord bot token"):
        load_bot_config(settings.model_copy(update={"discord_token": SecretStr("not-a-token")}))
