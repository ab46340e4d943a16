"""The article registry and keyword index: one SQLite file per collection.

It is the source of truth for what is indexed. Articles, their chunks and the FTS5 keyword index
change together in one transaction, so the keyword index always agrees with the registry. The
vector store is written outside that transaction; the `journal` table records every article
whose vectors may disagree with the registry until they are reconciled (see ingest.py).

The `generation` row of `meta` counts the changes to what is indexed: it is bumped in the same
transaction that saves or deletes an article, and again when a write's vectors are settled
(`journal_clear`). A long-running reader compares it with the generation its vector-store view
was opened at, and reopens that view when another process changed the index (components.py).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rag.models import ArticleRecord, Chunk
from rag.store.migrations import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    RegistrySchemaError,
    RegistryTooNewError,
    check_version,
    migrate,
    stored_version,
)
from rag.text.words import STOPWORDS

__all__ = ["SCHEMA_VERSION", "Registry", "RegistrySchemaError", "RegistryTooNewError", "chunk_id",
           "fts_query", "split_chunk_id"]

_ARTICLE_COLUMNS = (
    "article_id, version, text_hash, title, source, author, url, path, published, "
    "ingested_at, updated_at, chunks, duplicate_of, similarity"
)


# The space of the vectors of a collection indexed before spaces were recorded: the default
# backend then was the int8 ONNX export (NEWSDESK_EMBEDDING_BACKEND=auto).
LEGACY_SPACE = "all-MiniLM-L6-v2/int8"


def chunk_id(article_id: str, version: str, ord_: int) -> str:
    """Chunk ids carry the article version, so a new version never overwrites the old in place."""
    return f"{article_id}:{version}:{ord_}"


def split_chunk_id(cid: str) -> tuple[str, str, int]:
    """(article_id, version, ord) of a chunk id; the article id may itself contain ':'."""
    article_id, version, ord_ = cid.rsplit(":", 2)
    return article_id, version, int(ord_)


def fts_query(text: str) -> str | None:
    """An FTS5 query that ORs the content words of free text (no FTS syntax reaches SQLite)."""
    words = [w for w in re.findall(r"\w+", text.lower()) if w not in STOPWORDS and len(w) > 1]
    if not words:
        return None
    seen = dict.fromkeys(words)
    return " OR ".join(f'"{w}"' for w in seen)


class Registry:
    """SQLite registry of one collection: articles, chunks, FTS5 index, MinHash LSH, journal."""

    def __init__(self, path: Path, migrations: Sequence[Migration] = MIGRATIONS):
        """Open (creating if need be) the registry file and bring its schema up to date with
        `migrations` (see migrations.py); RegistryTooNewError if a newer Newsdesk wrote it."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None,
                                  check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        try:
            self.db.execute("PRAGMA busy_timeout=60000")
            where = f"the registry {self.path}"
            check_version(self.db, migrations, where)  # before anything may write to a file too new
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            migrate(self.db, migrations, where)
        except BaseException:
            self.db.close()
            raise

    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        with self._lock:
            return stored_version(self.db)

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on error)."""
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # --- generation ---------------------------------------------------------------------------

    def generation(self) -> int:
        """How many times what is indexed has changed (articles, chunks or their vectors); one
        SQLite read, which sees every other process's committed writes."""
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def _bump_generation(self) -> None:
        """Count one change to what is indexed. Call inside the transaction that makes it."""
        self.db.execute("INSERT INTO meta (key, value) VALUES ('generation', '1') ON CONFLICT(key) "
                        "DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def vectors_changed(self) -> None:
        """Count a change to the vectors alone (a repair): readers reopen their view of them."""
        with self.transaction():
            self._bump_generation()

    # --- vector space ---------------------------------------------------------------------

    def embedding_space(self) -> str | None:
        """The vector space ("model/precision") this collection's vectors are in; a collection
        indexed before spaces were recorded is in LEGACY_SPACE, the default then; None before
        anything was indexed."""
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE key='embedding_space'").fetchone()
            if row:
                return str(row[0])
            has_chunks = self.db.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is not None
        return LEGACY_SPACE if has_chunks else None

    def vector_collection(self, default: str) -> str:
        """The name of the Chroma collection holding this collection's vectors (`default`, the
        collection's own name, until a reindex moved them)."""
        with self._lock:
            row = self.db.execute("SELECT value FROM meta WHERE key='vector_collection'").fetchone()
        return str(row[0]) if row else default

    def record_space(self, space: str) -> None:
        """Record the vector space of the first vectors written (kept if already recorded)."""
        with self.transaction():
            self.db.execute("INSERT INTO meta (key, value) VALUES ('embedding_space', ?) "
                            "ON CONFLICT(key) DO NOTHING", (self.embedding_space() or space,))

    def switch_vectors(self, space: str, vector_collection: str) -> None:
        """After a reindex: the vectors are now `vector_collection`'s, in `space` (one
        transaction, so readers see the old set or the new one, never a mix)."""
        with self.transaction():
            for key, value in (("embedding_space", space), ("vector_collection", vector_collection)):
                self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                                "DO UPDATE SET value = excluded.value", (key, value))
            self._bump_generation()

    # --- articles -------------------------------------------------------------------------

    def _record(self, row: sqlite3.Row) -> ArticleRecord:
        keys = row.keys()
        return ArticleRecord(**{k: row[k] for k in keys})

    def get(self, article_id: str, with_text: bool = False) -> ArticleRecord | None:
        """The article with this id, or None."""
        cols = _ARTICLE_COLUMNS + (", text" if with_text else "")
        with self._lock:
            row = self.db.execute(f"SELECT {cols} FROM articles WHERE article_id=?", (article_id,)).fetchone()
        return self._record(row) if row else None

    def find_by_text_hash(self, text_hash: str, exclude: str) -> ArticleRecord | None:
        """An indexed original (not itself a duplicate) with exactly this text."""
        with self._lock:
            row = self.db.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE text_hash=? AND duplicate_of IS NULL "
                "AND article_id != ? ORDER BY ingested_at LIMIT 1",
                (text_hash, exclude),
            ).fetchone()
        return self._record(row) if row else None

    def find(self, key: str) -> ArticleRecord | None:
        """An article by id, URL or ingested path (originals before duplicates)."""
        found = self.find_all(key)
        return found[0] if found else None

    def find_all(self, key: str) -> list[ArticleRecord]:
        """Every article with this id, URL or ingested path (a multi-article file has several)."""
        with self._lock:
            rows = self.db.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE article_id=? OR url=? OR path=? "
                "ORDER BY duplicate_of IS NOT NULL, ingested_at",
                (key, key, key),
            ).fetchall()
        return [self._record(r) for r in rows]

    def find_by_url(self, same: Callable[[str], bool], hint: str = "") -> list[ArticleRecord]:
        """Articles whose stored URL satisfies `same` (a looser comparison than equality); `hint`,
        a piece every such URL contains, narrows the scan."""
        with self._lock:
            rows = self.db.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE url IS NOT NULL AND instr(lower(url), ?) > 0 "
                "ORDER BY duplicate_of IS NOT NULL, ingested_at", (hint.lower(),)).fetchall()
        return [r for r in map(self._record, rows) if same(r.url or "")]

    def articles(self, with_text: bool = False) -> list[ArticleRecord]:
        """Every article, duplicates included, oldest published first."""
        cols = _ARTICLE_COLUMNS + (", text" if with_text else "")
        with self._lock:
            rows = self.db.execute(
                f"SELECT {cols} FROM articles ORDER BY COALESCE(published, substr(ingested_at, 1, 10)), title"
            ).fetchall()
        return [self._record(r) for r in rows]

    def duplicates_of(self, article_id: str) -> list[ArticleRecord]:
        """Articles recorded as duplicates of this one."""
        with self._lock:
            rows = self.db.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE duplicate_of=? ORDER BY ingested_at",
                (article_id,),
            ).fetchall()
        return [self._record(r) for r in rows]

    def indexed_versions(self, article_ids: Iterable[str]) -> dict[str, str]:
        """article_id -> current version, for the given ids that are indexed (have chunks)."""
        ids = list(dict.fromkeys(article_ids))
        out: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(ids), 500):
                part = ids[i:i + 500]
                marks = ",".join("?" * len(part))
                for row in self.db.execute(
                    f"SELECT article_id, version FROM articles WHERE article_id IN ({marks}) "
                    "AND duplicate_of IS NULL AND chunks > 0",
                    part,
                ):
                    out[row[0]] = row[1]
        return out

    def save_article(self, record: ArticleRecord, chunks: list[Chunk]) -> None:
        """Insert or replace an article and its chunks. Call inside transaction()."""
        self.db.execute("DELETE FROM chunks WHERE article_id=?", (record.article_id,))
        self.db.execute(
            f"INSERT OR REPLACE INTO articles ({_ARTICLE_COLUMNS}, text) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (record.article_id, record.version, record.text_hash, record.title, record.source,
             record.author, record.url, record.path, record.published, record.ingested_at,
             record.updated_at, record.chunks, record.duplicate_of, record.similarity, record.text),
        )
        self.db.executemany(
            "INSERT INTO chunks (chunk_id, article_id, ord, start, end, title, text) VALUES (?,?,?,?,?,?,?)",
            [(chunk_id(record.article_id, record.version, c.ord), record.article_id, c.ord,
              c.start, c.end, record.title, c.text) for c in chunks],
        )
        self._bump_generation()

    def delete_article(self, article_id: str) -> None:
        """Remove an article, its chunks and its MinHash. Call inside transaction()."""
        self.db.execute("DELETE FROM chunks WHERE article_id=?", (article_id,))
        self.db.execute("DELETE FROM articles WHERE article_id=?", (article_id,))
        self.set_minhash(article_id, None, [])
        self._bump_generation()

    # --- near-duplicate index ---------------------------------------------------------------

    def set_minhash(self, article_id: str, signature: bytes | None, buckets: list[int]) -> None:
        """Store (or with None, drop) an article's MinHash and LSH buckets. Inside transaction()."""
        self.db.execute("DELETE FROM minhash WHERE article_id=?", (article_id,))
        self.db.execute("DELETE FROM lsh WHERE article_id=?", (article_id,))
        if signature is not None:
            self.db.execute("INSERT INTO minhash VALUES (?, ?)", (article_id, signature))
            self.db.executemany("INSERT INTO lsh VALUES (?, ?, ?)",
                                [(band, bucket, article_id) for band, bucket in enumerate(buckets)])

    def lsh_candidates(self, buckets: list[int], exclude: str) -> list[tuple[str, bytes]]:
        """(article_id, signature) of articles sharing at least one LSH bucket."""
        with self._lock:
            ids: set[str] = set()
            for band, bucket in enumerate(buckets):
                ids.update(r[0] for r in self.db.execute(
                    "SELECT article_id FROM lsh WHERE band=? AND bucket=?", (band, bucket)))
            ids.discard(exclude)
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            return [(r[0], r[1]) for r in self.db.execute(
                f"SELECT article_id, signature FROM minhash WHERE article_id IN ({marks})", list(ids))]

    # --- journal ------------------------------------------------------------------------------

    def journal_add(self, entries: Iterable[tuple[str, str]]) -> None:
        """Record (durably) that the vectors of these articles are about to change."""
        with self.transaction():
            self.db.executemany("INSERT OR REPLACE INTO journal VALUES (?, ?)", list(entries))

    def journal(self) -> list[tuple[str, str]]:
        """Articles whose vectors may not match the registry yet."""
        with self._lock:
            return [(r[0], r[1]) for r in self.db.execute("SELECT article_id, version FROM journal")]

    def journal_clear(self, article_ids: Iterable[str]) -> None:
        """Forget journal entries once the vector store agrees with the registry (a change to the
        vectors readers see, so the generation moves too)."""
        ids = [(a,) for a in article_ids]
        with self.transaction():
            self.db.executemany("DELETE FROM journal WHERE article_id=?", ids)
            if ids:
                self._bump_generation()

    def recheck_duplicates_of(self, article_ids: Iterable[str]) -> None:
        """Queue the duplicates of these articles to be checked again. Call inside the
        transaction that writes the articles' new text."""
        self.db.executemany(
            "INSERT OR IGNORE INTO recheck SELECT article_id FROM articles WHERE duplicate_of=?",
            [(a,) for a in article_ids])

    def rechecks(self) -> list[str]:
        """Duplicates waiting to be checked again."""
        with self._lock:
            return [r[0] for r in self.db.execute("SELECT article_id FROM recheck ORDER BY rowid")]

    def recheck_count(self) -> int:
        """How many duplicates wait to be checked again (one cheap read, for `Ingestor.resume`)."""
        with self._lock:
            return int(self.db.execute("SELECT COUNT(*) FROM recheck").fetchone()[0])

    def rechecks_done(self, article_ids: Iterable[str]) -> None:
        with self.transaction():
            self.db.executemany("DELETE FROM recheck WHERE article_id=?", [(a,) for a in article_ids])

    # --- chunks and keyword search ------------------------------------------------------------

    def chunk_rows(self, chunk_ids: list[str]) -> dict[str, sqlite3.Row]:
        """Chunk rows joined with their article's metadata, by chunk id (current chunks only)."""
        out: dict[str, sqlite3.Row] = {}
        with self._lock:
            for i in range(0, len(chunk_ids), 500):
                part = chunk_ids[i:i + 500]
                marks = ",".join("?" * len(part))
                for row in self.db.execute(
                    "SELECT c.chunk_id, c.article_id, c.ord, c.start, c.end, c.text, a.title, a.source, "
                    "a.published, a.url, a.path FROM chunks c JOIN articles a USING (article_id) "
                    f"WHERE c.chunk_id IN ({marks})",
                    part,
                ):
                    out[row["chunk_id"]] = row
        return out

    # --- token vectors (token_store.py) -------------------------------------------------------

    def save_tokens(self, space: str, rows: Iterable[tuple[str, bytes]]) -> None:
        """Keep passages' packed token vectors, computed in `space`. Call inside transaction(),
        after save_article (which drops the rows of the chunks it replaces). A chunk no longer
        in the registry gets none, so no row outlives its chunk."""
        self.db.executemany("INSERT OR REPLACE INTO chunk_tokens (chunk_id, space, vectors) SELECT ?, ?, ? "
                            "WHERE EXISTS (SELECT 1 FROM chunks WHERE chunk_id=?)",
                            [(cid, space, blob, cid) for cid, blob in rows])

    def token_blobs(self, chunk_ids: list[str], space: str) -> dict[str, bytes]:
        """The packed token vectors kept for these chunks in `space`, by chunk id."""
        out: dict[str, bytes] = {}
        with self._lock:
            for i in range(0, len(chunk_ids), 500):
                part = chunk_ids[i:i + 500]
                marks = ",".join("?" * len(part))
                out.update(self.db.execute(f"SELECT chunk_id, vectors FROM chunk_tokens WHERE space=? "
                                           f"AND chunk_id IN ({marks})", [space, *part]).fetchall())
        return out

    def token_count(self, space: str) -> int:
        """How many passages have token vectors kept in `space`."""
        with self._lock:
            return int(self.db.execute("SELECT COUNT(*) FROM chunk_tokens WHERE space=?", (space,)).fetchone()[0])

    def article_chunks(self, article_id: str) -> list[sqlite3.Row]:
        """The current chunks of one article, in order."""
        with self._lock:
            return self.db.execute(
                "SELECT chunk_id, ord, start, end, text FROM chunks WHERE article_id=? ORDER BY ord",
                (article_id,),
            ).fetchall()

    def keyword_search(self, query: str, k: int, source_names: list[str] | None = None,
                       since: str | None = None, until: str | None = None,
                       undated_ids: Sequence[str] = ()) -> list[tuple[str, float]]:
        """(chunk_id, BM25 score, higher is better) of the best keyword matches passing the filters.

        Title matches weigh twice as much as body matches. `since`/`until` bound the published
        date; `undated_ids` are articles with no published date that pass them too (by the day
        they were ingested, which the caller decides).
        """
        match = fts_query(query)
        if match is None:
            return []
        where, params = ["chunks_fts MATCH ?"], [match]
        if source_names:
            where.append(f"a.source IN ({','.join('?' * len(source_names))})")
            params += source_names
        dated: list[str] = []
        dated_params: list[str] = []
        if since:
            dated.append("a.published >= ?")
            dated_params.append(since)
        if until:
            dated.append("a.published <= ?")
            dated_params.append(until)
        if dated and undated_ids:
            where.append(f"(({' AND '.join(dated)}) OR a.article_id IN (SELECT value FROM json_each(?)))")
            params += [*dated_params, json.dumps(list(undated_ids))]
        else:
            where += dated
            params += dated_params
        with self._lock:
            rows = self.db.execute(
                "SELECT c.chunk_id, -bm25(chunks_fts, 2.0, 1.0) AS score FROM chunks_fts "
                "JOIN chunks c ON c.rowid = chunks_fts.rowid JOIN articles a ON a.article_id = c.article_id "
                f"WHERE {' AND '.join(where)} ORDER BY bm25(chunks_fts, 2.0, 1.0) LIMIT ?",
                (*params, k),
            ).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    def undated_articles(self, first_day: str | None = None, last_day: str | None = None) -> list[ArticleRecord]:
        """Indexed originals with no published date whose `ingested_at` (as stored, UTC) falls
        on a day from `first_day` to `last_day` (ISO, inclusive; None: open)."""
        where = ["published IS NULL", "duplicate_of IS NULL", "chunks > 0"]
        params: list[str] = []
        if first_day:
            where.append("substr(ingested_at, 1, 10) >= ?")
            params.append(first_day)
        if last_day:
            where.append("substr(ingested_at, 1, 10) <= ?")
            params.append(last_day)
        with self._lock:
            rows = self.db.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE {' AND '.join(where)} ORDER BY ingested_at",
                params).fetchall()
        return [self._record(r) for r in rows]

    # --- counts ---------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Numbers of articles, indexed originals, duplicates and chunks."""
        with self._lock:
            row = self.db.execute(
                "SELECT COUNT(*), SUM(duplicate_of IS NULL), SUM(duplicate_of IS NOT NULL), "
                "(SELECT COUNT(*) FROM chunks) FROM articles"
            ).fetchone()
        return {"articles": row[0] or 0, "indexed": row[1] or 0, "duplicates": row[2] or 0,
                "chunks": row[3] or 0}

    def chunk_ids(self) -> set[str]:
        """Every current chunk id (for consistency checks)."""
        with self._lock:
            return {r[0] for r in self.db.execute("SELECT chunk_id FROM chunks")}

    def fts_consistent(self) -> bool:
        """Whether the FTS5 keyword index matches the chunks table exactly."""
        with self._lock:
            try:
                self.db.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
            except sqlite3.DatabaseError:
                return False
        return True

    def dangling_duplicates(self) -> dict[str, str]:
        """Duplicates whose original is missing or is itself a duplicate: {duplicate: original}.
        Such a copy is in no index (a `remove` killed before it took the original's place)."""
        with self._lock:
            return {r[0]: r[1] for r in self.db.execute(
                "SELECT d.article_id, d.duplicate_of FROM articles d LEFT JOIN articles o "
                "ON o.article_id = d.duplicate_of WHERE d.duplicate_of IS NOT NULL "
                "AND (o.article_id IS NULL OR o.duplicate_of IS NOT NULL) ORDER BY d.ingested_at")}

    def queue_rechecks(self, article_ids: Iterable[str]) -> None:
        """Queue these duplicates to be checked again (durably, in their own transaction)."""
        with self.transaction():
            self.db.executemany("INSERT OR IGNORE INTO recheck VALUES (?)", [(a,) for a in article_ids])

    def keyword_index_gaps(self) -> tuple[int, int]:
        """(keyword rows of no passage, passages with no keyword row), from the FTS5 index's own
        per-row table (`chunks_fts_docsize`, one row per indexed passage)."""
        with self._lock:
            orphans = self.db.execute(
                "SELECT COUNT(*) FROM chunks_fts_docsize f LEFT JOIN chunks c ON c.rowid = f.id "
                "WHERE c.rowid IS NULL").fetchone()[0]
            missing = self.db.execute(
                "SELECT COUNT(*) FROM chunks c LEFT JOIN chunks_fts_docsize f ON f.id = c.rowid "
                "WHERE f.id IS NULL").fetchone()[0]
        return int(orphans), int(missing)

    def rebuild_keyword_index(self) -> None:
        """Rebuild the FTS5 keyword index from the chunks table (its content table)."""
        with self.transaction():
            self.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
            self._bump_generation()

    def sources(self) -> list[tuple[str | None, int, str | None, str | None]]:
        """(outlet, articles, oldest published, newest published) over indexed originals."""
        with self._lock:
            return [tuple(r) for r in self.db.execute(
                "SELECT source, COUNT(*), MIN(published), MAX(published) FROM articles "
                "WHERE duplicate_of IS NULL GROUP BY source ORDER BY COUNT(*) DESC, source"
            )]
