"""Shared fixtures: isolated data dirs, the real packaged embedding model (loaded once), seeds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SEEDS = SHARED / "seeds"
REALTIMEQA = SHARED / "eval" / "realtimeqa"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No NEWSDESK_* variable or .env from the developer's machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("NEWSDESK_") or name in ("OPENAI_API_KEY", "DISCORD_TOKEN"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


# `make test-fast` sets this: logic tests run with a hashing embedder instead of the model, and
# tests marked `model` (they need the real model's semantics) or `slow` are skipped.
FAST = os.environ.get("NEWSDESK_TEST_FAST") == "1"


def pytest_collection_modifyitems(config, items):
    if not FAST:
        return
    skip = pytest.mark.skip(reason="make test-fast: needs the real embedding model or real processes (make test)")
    for item in items:
        if item.get_closest_marker("model") or item.get_closest_marker("slow"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def embedder():
    """The real packaged all-MiniLM-L6-v2, loaded once for the whole run (a hashing stand-in
    under `make test-fast`)."""
    if FAST:
        from fakes import HashingEmbedder

        return HashingEmbedder()
    from rag.store.embeddings import build_embedder

    emb = build_embedder()
    emb.embed(["warm up"])
    return emb


@pytest.fixture(scope="session")
def tokenizer():
    from rag.store.embeddings import Tokenizer

    return Tokenizer()


@pytest.fixture
def settings(tmp_path):
    from rag.settings import Settings

    return Settings(_env_file=None, data_dir=tmp_path / "data")


@pytest.fixture
def components(settings, embedder, tokenizer):
    from rag.components import Components

    c = Components(settings, embedder=embedder, tokenizer=tokenizer)
    yield c
    c.close()


@pytest.fixture
def seeds() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found at {SEEDS} (../shared is absent)")
    return SEEDS


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory, embedder, tokenizer):
    """The five seed articles ingested once per test module, with no LLM."""
    if not SEEDS.is_dir():
        pytest.skip(f"seed articles not found at {SEEDS} (../shared is absent)")
    from helpers import run_ingest

    from rag.components import Components
    from rag.settings import Settings

    c = Components(Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("seeds"), llm="none"),
                   embedder=embedder, tokenizer=tokenizer)
    run_ingest(c, [SEEDS])
    yield c
    c.close()
