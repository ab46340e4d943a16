"""Settings: every variable documented in .env.example, which itself parses."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

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
