"""Registry schema migrations: indexes of the previous release open unchanged, migrations run once
and in order, a failing one changes nothing, and a registry newer than the code is refused."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import types
from pathlib import Path

import pytest

from rag.models import ArticleRecord, Chunk
from rag.store.migrations import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    RegistrySchemaError,
    RegistryTooNewError,
    run_script,
)
from rag.store.registry import Registry, chunk_id

ROOT = Path(__file__).resolve().parents[1]
PREVIOUS_RELEASE = "363d542"
NEXT = SCHEMA_VERSION + 1  # the first version number free for a test's own migrations

ARTICLES = {
    "wind-1": ("Offshore wind farm approved", "Reuters",
               ["The offshore wind farm was approved by regulators on Monday.",
                "Turbines will be installed off the northern coast next spring."]),
    "rail-2": ("Rail strike ends", "AP",
               ["The national rail strike ended after unions accepted a pay offer.",
                "Commuters returned to crowded platforms on Tuesday morning."]),
    "copy-3": ("Offshore wind farm approved", "Wire", ["The offshore wind farm was approved by regulators."]),
}


def _record(article_id: str, title: str, source: str, paragraphs: list[str]) -> tuple[ArticleRecord, list[Chunk]]:
    text = "\n\n".join(paragraphs)
    chunks, start = [], 0
    for i, p in enumerate(paragraphs):
        start = text.index(p, start)
        chunks.append(Chunk(ord=i, start=start, end=start + len(p), text=p))
    duplicate = "wind-1" if article_id == "copy-3" else None
    record = ArticleRecord(
        article_id=article_id, version="v1", text_hash=f"h-{article_id}", title=title, source=source,
        author=None, url=f"https://example.com/{article_id}", path=None, published="2024-05-0" + article_id[-1],
        ingested_at="2024-05-10T00:00:00", updated_at="2024-05-10T00:00:00",
        chunks=0 if duplicate else len(chunks), duplicate_of=duplicate, similarity=1.0 if duplicate else None,
        text=text)
    return record, [] if duplicate else chunks


def _fill(registry) -> None:
    """Write the test articles with any release's Registry (the same public methods)."""
    with registry.transaction():
        for aid, (title, source, paragraphs) in ARTICLES.items():
            record, chunks = _record(aid, title, source, paragraphs)
            registry.save_article(record, chunks)
            registry.set_minhash(aid, b"sig-" + aid.encode(), [7, 8, 9])
    registry.journal_add([("rail-2", "v1")])


def _dump(path: Path) -> list[str]:
    db = sqlite3.connect(str(path))
    try:
        return list(db.iterdump())
    finally:
        db.close()


def _previous_release_registry() -> types.ModuleType:
    """rag/registry.py as the previous release shipped it, loaded from git."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot load the previous release's registry.py")
    shown = subprocess.run(["git", "show", f"{PREVIOUS_RELEASE}:rag/registry.py"], cwd=ROOT,
                           capture_output=True, text=True)
    if shown.returncode != 0:
        pytest.skip(f"commit {PREVIOUS_RELEASE} is not available here: {shown.stderr.strip()}")
    module = types.ModuleType("rag._registry_previous_release")
    module.__package__ = "rag"  # its `from .models import ...` resolves to rag.models
    exec(compile(shown.stdout, f"{PREVIOUS_RELEASE}:rag/registry.py", "exec"), module.__dict__)
    return module


@pytest.fixture
def v1_file(tmp_path) -> Path:
    """A registry at version 1 holding the test articles, written by the current code (with
    version 1's migration only)."""
    path = tmp_path / "registry" / "news.sqlite3"
    registry = Registry(path, migrations=MIGRATIONS[:1])
    _fill(registry)
    registry.close()
    return path


def _check_contents(registry: Registry) -> None:
    assert registry.counts() == {"articles": 3, "indexed": 2, "duplicates": 1, "chunks": 4}
    for aid, (title, source, paragraphs) in ARTICLES.items():
        got = registry.get(aid, with_text=True)
        assert got is not None and (got.title, got.source) == (title, source)
        assert got.text == "\n\n".join(paragraphs)
    assert [r["text"] for r in registry.article_chunks("wind-1")] == ARTICLES["wind-1"][2]
    assert registry.duplicates_of("wind-1")[0].article_id == "copy-3"
    rows = registry.chunk_rows([chunk_id("rail-2", "v1", 1)])
    assert rows[chunk_id("rail-2", "v1", 1)]["title"] == "Rail strike ends"
    assert registry.keyword_search("turbines coast", k=3)[0][0] == chunk_id("wind-1", "v1", 1)
    assert registry.keyword_search("unions pay", k=3, source_names=["AP"])[0][0] == chunk_id("rail-2", "v1", 0)
    assert registry.fts_consistent()
    assert sorted(registry.lsh_candidates([7, 0, 0], exclude="wind-1")) == [
        ("copy-3", b"sig-copy-3"), ("rail-2", b"sig-rail-2")]
    assert registry.journal() == [("rail-2", "v1")]


def _without_feeds(dump: list[str]) -> list[str]:
    """A dump less what migrations 2 and 3 add (the feeds and chunk_tokens tables, the trigger
    on chunks) and the recorded version."""
    added = ("feeds", "chunk_tokens", "schema_version")
    return [line for line in dump if not any(a in line for a in added)]


def test_index_of_previous_release_opens_unchanged(tmp_path):
    """Its articles are untouched; migrations 2 and 3 add the (empty) feeds and token tables and
    nothing else."""
    old = _previous_release_registry()
    assert old.SCHEMA_VERSION == 1
    path = tmp_path / "registry" / "news.sqlite3"
    registry = old.Registry(path)
    _fill(registry)
    registry.close()
    before = _dump(path)

    registry = Registry(path)
    assert registry.schema_version() == SCHEMA_VERSION == 3
    assert registry.db.execute("SELECT COUNT(*) FROM feeds").fetchone()[0] == 0
    assert registry.db.execute("SELECT COUNT(*) FROM chunk_tokens").fetchone()[0] == 0
    _check_contents(registry)
    registry.close()
    after = _dump(path)
    assert _without_feeds(after) == _without_feeds(before)
    assert any(line.startswith('CREATE TABLE feeds') for line in after)
    assert any(line.startswith('CREATE TABLE chunk_tokens') for line in after)

    registry = Registry(path)  # opened again: nothing more to do
    registry.close()
    assert _dump(path) == after


def test_fresh_registry_is_at_the_latest_version(tmp_path):
    registry = Registry(tmp_path / "new.sqlite3")
    assert registry.schema_version() == SCHEMA_VERSION == MIGRATIONS[-1].version == 3
    _fill(registry)
    _check_contents(registry)
    registry.close()


def test_version_1_without_the_recheck_table_is_completed(v1_file):
    """Version 1 grew in place: files written before the recheck table existed still say 1."""
    db = sqlite3.connect(str(v1_file))
    db.execute("DROP TABLE recheck")
    db.commit()
    db.close()
    registry = Registry(v1_file)
    assert registry.schema_version() == SCHEMA_VERSION
    assert registry.rechecks() == []
    _check_contents(registry)
    registry.close()


def _recording(calls: list[int], version: int, sql: str) -> Migration:
    def apply(db: sqlite3.Connection) -> None:
        calls.append(version)
        run_script(db, sql)
    return Migration(version, f"test migration {version}", apply)


def test_extra_migrations_run_once_in_order_and_are_recorded(v1_file):
    calls: list[int] = []
    extended = (*MIGRATIONS,
                _recording(calls, NEXT, "CREATE TABLE tags (article_id TEXT, tag TEXT);"),
                _recording(calls, NEXT + 1, "INSERT INTO tags SELECT article_id, 'news' FROM articles; "
                                            "CREATE INDEX tags_tag ON tags(tag);"))
    registry = Registry(v1_file, migrations=extended)
    assert calls == [NEXT, NEXT + 1]
    assert registry.schema_version() == NEXT + 1
    assert registry.db.execute("SELECT COUNT(*) FROM tags WHERE tag='news'").fetchone()[0] == 3
    _check_contents(registry)
    registry.close()

    registry = Registry(v1_file, migrations=extended)
    assert calls == [NEXT, NEXT + 1]  # not re-run
    assert registry.schema_version() == NEXT + 1
    registry.close()

    fresh_calls: list[int] = []
    fresh = Registry(v1_file.parent / "fresh.sqlite3", migrations=(
        *MIGRATIONS, _recording(fresh_calls, NEXT, "CREATE TABLE tags (article_id TEXT, tag TEXT);")))
    assert fresh_calls == [NEXT] and fresh.schema_version() == NEXT
    fresh.close()


def test_failing_migration_rolls_back_everything(v1_file):
    def broken(db: sqlite3.Connection) -> None:
        db.execute("UPDATE articles SET title='overwritten'")
        db.execute("DELETE FROM chunks")
        raise ValueError("disk on fire")

    before = _dump(v1_file)
    steps = (*MIGRATIONS, Migration(NEXT, "adds tags", lambda db: db.execute("CREATE TABLE tags (t TEXT)")),
             Migration(NEXT + 1, "broken", broken))
    with pytest.raises(RegistrySchemaError,
                       match=f"schema version {NEXT + 1} .*disk on fire.*unchanged at version 1"):
        Registry(v1_file, migrations=steps)
    assert _dump(v1_file) == before  # the feeds and tags tables are gone too: one transaction

    registry = Registry(v1_file)
    assert registry.schema_version() == SCHEMA_VERSION
    _check_contents(registry)
    registry.close()


def test_migration_that_commits_is_refused(tmp_path):
    def commits(db: sqlite3.Connection) -> None:
        db.executescript("CREATE TABLE IF NOT EXISTS x (y TEXT);")

    with pytest.raises(RegistrySchemaError, match="must not commit"):
        Registry(tmp_path / "r.sqlite3", migrations=(*MIGRATIONS, Migration(NEXT, "commits", commits)))


def test_registry_from_a_newer_newsdesk_is_refused_untouched(v1_file):
    db = sqlite3.connect(str(v1_file))
    db.execute("UPDATE meta SET value='7' WHERE key='schema_version'")
    db.commit()
    db.close()
    before = v1_file.read_bytes()
    with pytest.raises(RegistryTooNewError, match="newer Newsdesk.*version 7.*Upgrade Newsdesk") as err:
        Registry(v1_file)
    assert isinstance(err.value, RuntimeError)
    assert v1_file.read_bytes() == before


def test_unreadable_version_is_an_error(v1_file):
    db = sqlite3.connect(str(v1_file))
    db.execute("UPDATE meta SET value='one' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(RegistrySchemaError, match="unreadable schema version 'one'"):
        Registry(v1_file)


def test_badly_numbered_migrations_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="numbered"):
        Registry(tmp_path / "r.sqlite3", migrations=(*MIGRATIONS, Migration(NEXT + 1, "gap", lambda db: None)))
    with pytest.raises(ValueError, match="numbered"):
        Registry(tmp_path / "r.sqlite3", migrations=())


def test_concurrent_opens_of_a_new_file_migrate_once(tmp_path):
    path = tmp_path / "shared.sqlite3"
    calls: list[int] = []
    steps = (*MIGRATIONS, _recording(calls, NEXT, "CREATE TABLE tags (t TEXT);"))
    start, errors, versions = threading.Barrier(6), [], []

    def open_it() -> None:
        try:
            start.wait()
            registry = Registry(path, migrations=steps)
            versions.append(registry.schema_version())
            registry.close()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert versions == [NEXT] * 6
    assert calls == [NEXT]
