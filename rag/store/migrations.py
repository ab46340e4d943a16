"""Schema migrations of the SQLite article registry.

`MIGRATIONS` is the ordered list of every schema change, numbered 1, 2, 3, ... Each upgrades a
registry from the version before it; the version a file is at is kept in `meta` under
`schema_version` (a fresh file has none and starts from 0). On open, `migrate` applies every
migration above the file's version in one write transaction and records the new version, so a
failure leaves the file exactly as it was. A file at a version newer than the code knows is
refused, never touched.

Writing a migration: take the connection, change the schema and data with `db.execute` (or
`run_script` for several statements), and do not commit: `executescript`, `COMMIT` or `BEGIN`
would end the transaction the migration runs in, and is refused.

Version 1 grew in place: the `recheck` table was added to it without a new version number, so a
file at version 1 may lack it. Such a file is completed by running the (idempotent) version 1
migration again, as every open did before migrations existed.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


class RegistrySchemaError(RuntimeError):
    """The registry's schema cannot be brought to the version this code uses."""


class RegistryTooNewError(RegistrySchemaError):
    """The registry was written by a newer Newsdesk, with a schema this code does not know."""


@dataclass(frozen=True)
class Migration:
    """One schema change: the version it upgrades to, what it does, and the function doing it."""

    version: int
    description: str
    apply: Callable[[sqlite3.Connection], None]


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Execute the statements of an SQL script one by one, inside the caller's transaction
    (unlike `executescript`, which commits first)."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \t\n;"):
                db.execute(statement)
            statement = ""
    if statement.strip(" \t\n;"):
        raise ValueError(f"incomplete SQL statement: {statement.strip()[:80]!r}")


_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    source TEXT,
    author TEXT,
    url TEXT,
    path TEXT,
    published TEXT,
    ingested_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0,
    duplicate_of TEXT,
    similarity REAL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_text_hash ON articles(text_hash);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE INDEX IF NOT EXISTS articles_duplicate_of ON articles(duplicate_of);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT UNIQUE NOT NULL,
    article_id TEXT NOT NULL,
    ord INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, text, content='chunks', content_rowid='rowid',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, title, text) VALUES ('delete', old.rowid, old.title, old.text);
END;
CREATE TABLE IF NOT EXISTS minhash (article_id TEXT PRIMARY KEY, signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS lsh (band INTEGER NOT NULL, bucket INTEGER NOT NULL, article_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lsh_bucket ON lsh(band, bucket);
CREATE INDEX IF NOT EXISTS lsh_article ON lsh(article_id);
CREATE TABLE IF NOT EXISTS journal (article_id TEXT PRIMARY KEY, version TEXT NOT NULL);
-- Duplicates whose original's text changed: to be checked again (kept until done, so a killed
-- run leaves them for the next one).
CREATE TABLE IF NOT EXISTS recheck (article_id TEXT PRIMARY KEY);
"""


def _create_v1(db: sqlite3.Connection) -> None:
    run_script(db, _SCHEMA_V1)  # idempotent: every statement is IF NOT EXISTS


# Feed subscriptions (issue #17): one row a subscribed feed URL, with its schedule, the validators
# of its last response (ETag, Last-Modified) for a conditional GET, and its failure/retry state.
# Times are ISO 8601 text with an offset (UTC). See rag/store/subscriptions.py.
_SCHEMA_V2 = """
CREATE TABLE feeds (
    url TEXT PRIMARY KEY,
    name TEXT,
    every_minutes INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    last_poll TEXT,
    last_success TEXT,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_poll TEXT,
    retry_after TEXT,
    etag TEXT,
    last_modified TEXT,
    items_seen INTEGER NOT NULL DEFAULT 0,
    articles_added INTEGER NOT NULL DEFAULT 0
);
"""


def _add_feeds(db: sqlite3.Connection) -> None:
    run_script(db, _SCHEMA_V2)


# Token vectors kept from ingest for the late-interaction re-rank (issue #20, token_store.py):
# one packed matrix a passage, in the vector space it was computed in (readers use only rows of
# the collection's space). Deleting a chunk deletes its row, so the table never outlives the text.
_SCHEMA_V3 = """
CREATE TABLE chunk_tokens (chunk_id TEXT PRIMARY KEY, space TEXT NOT NULL, vectors BLOB NOT NULL);
CREATE TRIGGER chunks_tokens_ad AFTER DELETE ON chunks BEGIN
    DELETE FROM chunk_tokens WHERE chunk_id = old.chunk_id;
END;
"""


def _add_chunk_tokens(db: sqlite3.Connection) -> None:
    run_script(db, _SCHEMA_V3)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "articles, chunks, FTS5 keyword index, MinHash LSH, vector journal, re-check queue",
              _create_v1),
    Migration(2, "feed subscriptions: schedule, HTTP validators, failures and retry state", _add_feeds),
    Migration(3, "token vectors of passages, kept for the re-rank", _add_chunk_tokens),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def check_migrations(migrations: Sequence[Migration]) -> None:
    """Raise ValueError unless the migrations are numbered 1, 2, 3, ... in order."""
    versions = [m.version for m in migrations]
    if not versions or versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3, ... in order, not {versions}")


def stored_version(db: sqlite3.Connection, where: str = "the registry") -> int:
    """The schema version recorded in the file; 0 for a file without one (fresh)."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone() is None:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if row is None:
        return 0
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise RegistrySchemaError(f"{where} records an unreadable schema version {row[0]!r}") from None


def check_version(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS,
                  where: str = "the registry") -> int:
    """The file's schema version; RegistryTooNewError if it is newer than the migrations know."""
    check_migrations(migrations)
    found, known = stored_version(db, where), migrations[-1].version
    if found > known:
        raise RegistryTooNewError(
            f"{where} was written by a newer Newsdesk (registry schema version {found}; this "
            f"version knows up to {known}). Upgrade Newsdesk to open it; the file was not changed.")
    return found


@functools.cache
def _objects_made_by(apply: Callable[[sqlite3.Connection], None]) -> frozenset[str]:
    """Names of the tables, indexes and triggers a migration creates in an empty database."""
    scratch = sqlite3.connect(":memory:")
    try:
        apply(scratch)
        return frozenset(r[0] for r in scratch.execute("SELECT name FROM sqlite_master"))
    finally:
        scratch.close()


def _pending(db: sqlite3.Connection, found: int, migrations: Sequence[Migration]) -> list[Migration]:
    pending = [m for m in migrations if m.version > found]
    if found == 1:  # version 1 grew in place (see the module docstring)
        present = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        if not _objects_made_by(migrations[0].apply) <= present:
            pending.insert(0, migrations[0])
    return pending


def _apply(db: sqlite3.Connection, pending: list[Migration], found: int, where: str) -> None:
    for m in pending:
        try:
            m.apply(db)
        except Exception as exc:
            raise RegistrySchemaError(
                f"upgrading {where} to schema version {m.version} ({m.description}) failed: {exc}; "
                f"it is left unchanged at version {found}") from exc
        if not db.in_transaction:
            raise RegistrySchemaError(
                f"migration {m.version} ({m.description}) ended its transaction: a migration must not "
                "commit (no executescript, BEGIN or COMMIT)")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(m.version),))
        log.info("%s: schema version %d (%s)", where, m.version, m.description)


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS,
            where: str = "the registry") -> int:
    """Bring the database to the last migration's version and return that version.

    `db` must be in autocommit mode (isolation_level=None) with a busy timeout. A file already
    current is only read. Otherwise every pending migration runs in one BEGIN IMMEDIATE
    transaction, which also serializes processes opening the same file: the version is read again
    once the write lock is held, so a migration another process has just applied is not re-run.
    """
    found = check_version(db, migrations, where)
    if not _pending(db, found, migrations):
        return found
    db.execute("BEGIN IMMEDIATE")
    try:
        found = check_version(db, migrations, where)
        _apply(db, _pending(db, found, migrations), found, where)
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return migrations[-1].version
