"""Ingestion: load, deduplicate, chunk, embed and index articles, crash-safely.

Write protocol for each batch of articles (the registry is the source of truth):
1. journal the articles whose vectors will change (committed first);
2. upsert the new chunks' vectors into Chroma (chunk ids carry the article version);
3. in one SQLite transaction, replace the articles, their chunks, keyword index rows and the
   token vectors kept for the re-rank (token_store.py);
4. delete the articles' vectors of other versions from Chroma, then clear the journal.
A process killed anywhere leaves journal entries; `recover()` (run before every write) deletes
the vectors that do not match the registry, and the re-run indexes what is missing. Readers
only ever see chunks whose article version the registry holds, so nothing half-written shows.
`remove_article` queues the removed article's duplicates for a re-check in the transaction that
deletes it, so a killed remove leaves them to the next write instead of in no index.

Article ids from the web (pages, feeds, records a site serves, the bot's `/ingest`) are scoped to
the web origin they were fetched from (`trust_scope`), so a record can only update an article of
its own origin: a site that copies another article's id or URL makes an article of its own.
Articles fetched before this keep their unscoped ids (`Ingestor._article_id`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

from rag.components import Components
from rag.ingest import dedup
from rag.ingest.chunking import EMBED_FORMAT, Chunker
from rag.ingest.loader import Loader
from rag.models import Article, ArticleRecord, Chunk, LoadFailure
from rag.store.embeddings import space_of
from rag.store.registry import chunk_id
from rag.store.token_store import embed_keeping_tokens
from rag.text.dates import utc_now
from rag.text.hashing import stable_hash, text_hash
from rag.text.urls import normalize_url

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What an ingest run did, in the shape of docs/contract.md's `ingest --json` (and `skipped`:
    inputs read that are no articles, such as a feed's headline-only items; not failures)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    failed: list[LoadFailure] = field(default_factory=list)
    skipped: list[LoadFailure] = field(default_factory=list)  # read, and not articles (a feed's headlines)
    articles: list[dict] = field(default_factory=list)
    chunks_embedded: int = 0
    embed_seconds: float = 0.0
    seconds: float = 0.0

    def as_json(self) -> dict:
        """The JSON object of docs/contract.md."""
        return {
            "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "failed": [{"input": f.input, "error": f.error} for f in self.failed],
            "skipped": [{"input": f.input, "reason": f.error} for f in self.skipped],
            "articles": self.articles,
        }


@dataclass
class _Pending:
    record: ArticleRecord
    status: str
    chunks: list[Chunk]
    signature: np.ndarray | None
    had_vectors: bool
    text_changed: bool = False  # its duplicates (copies of the old text) need checking again


def make_article_id(art: Article) -> str:
    """A stable id: the record's own id if it has a usable one, else from its URL, else from its
    place in a multi-article file, else from its path."""
    if art.given_id and art.given_id.isdigit():
        # A record number ("1", "42") is unique only within its own file or feed: two exports
        # numbered from 1 must not replace each other's articles.
        container = art.path or art.url or art.locator or art.origin
        return "i" + stable_hash(f"{container}#{art.given_id}", length=15)
    if art.given_id and re.fullmatch(r"[A-Za-z0-9][\w.-]{0,63}", art.given_id):
        return art.given_id
    if art.given_id:
        return "i" + stable_hash(art.given_id, length=15)
    if art.url:
        return "u" + stable_hash(normalize_url(art.url), length=15)
    if art.locator:  # one record of a JSON/JSONL file or feed
        return "r" + stable_hash(art.locator, length=15)
    if art.path:
        return "f" + stable_hash(art.path, length=15)
    return "t" + stable_hash(text_hash(art.text), length=15)


def article_version(art: Article) -> str:
    """The version of an article's content and metadata: the same version is the same article."""
    published = art.published.isoformat() if art.published else None
    return stable_hash(text_hash(art.text), art.title, art.source, art.author, published, art.url,
                       f"e{EMBED_FORMAT}")


def web_origin(url: str) -> str | None:
    """The web origin of a URL ("https://example.com", a port if one is given), or None for
    anything but http(s)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}{port}"


def trust_scope(art: Article) -> str | None:
    """Who vouches for an article's id: None for a local file the user ingests (its ids are
    used as given), else the web origin it was fetched from (a page, a feed, a record served
    by a site, a bot `/ingest`), whose ids are not trusted beyond that origin (issue #18)."""
    if art.path is not None:
        return None
    return web_origin(art.origin)


def chunk_metadata(record: ArticleRecord, chunk: Chunk) -> dict:
    """Chroma metadata of a chunk (no None values: Chroma rejects them)."""
    meta = {"article_id": record.article_id, "version": record.version, "ord": chunk.ord,
            "title": record.title, "start": chunk.start, "end": chunk.end}
    if record.source:
        meta["source"] = record.source
    if record.published:
        meta["published"] = record.published
        meta["published_day"] = int(record.published.replace("-", ""))
    return meta


class Ingestor:
    """Runs ingests against one collection. Use `with components.writing():` around calls."""

    def __init__(self, components: Components, on_article: Callable[[str, str], None] | None = None):
        self.c = components
        self.settings = components.settings
        self.on_article = on_article or (lambda status, label: None)
        self.chunker = Chunker(components.tokenizer, self.settings.chunk_tokens,
                               self.settings.chunk_overlap_tokens)
        self._batch: list[_Pending] = []
        self._batch_chunks = 0
        self._report = IngestReport()
        self._quiet: set[str] = set()  # re-checked duplicates: not inputs, so not in the report

    # --- public ---------------------------------------------------------------------------------

    def recover(self) -> int:
        """Make the vector store agree with the registry after an interrupted write."""
        entries = self.c.registry.journal()
        if not entries:
            return 0
        current = self.c.registry.indexed_versions(a for a, _ in entries)
        for article_id, _ in entries:
            self.c.store.delete_other_versions(article_id, current.get(article_id))
        self.c.registry.journal_clear(a for a, _ in entries)
        log.info("recovered %d interrupted article writes", len(entries))
        return len(entries)

    def resume(self) -> None:
        """Finish what a killed write left: reconcile the vectors, then index the duplicates
        still queued for a re-check (a `remove` killed before its duplicates took its place)."""
        self.recover()
        if self.c.registry.recheck_count():
            self.flush()

    def ingest(self, inputs: Iterable[str], loader: Loader | None = None) -> IngestReport:
        """Ingest every article found in `inputs`; failures and skipped items are reported, never raised."""
        started = time.perf_counter()
        self._report = report = IngestReport()
        self.resume()
        loader = loader or Loader(self.settings)
        for item in loader.load(inputs):
            if isinstance(item, LoadFailure):
                (report.skipped if item.skipped else report.failed).append(item)
                self.on_article("skipped" if item.skipped else "failed", item.input)
                continue
            self.add(item)
        self.flush()
        loader.fetcher.close()
        report.seconds = time.perf_counter() - started
        return report

    def add(self, art: Article, force: bool = False, article_id: str | None = None) -> None:
        """Decide what to do with one article; index it with the next batch if it is new.
        `article_id` keeps an indexed article's id when it is added again."""
        article_id = article_id or self._article_id(art)
        if any(p.record.article_id == article_id for p in self._batch):
            self.flush()  # the same article twice in one run: let the second see the first
        existing = self.c.registry.get(article_id)
        th = text_hash(art.text)
        published = art.published.isoformat() if art.published else None
        version = article_version(art)
        if existing and existing.version == version and not force:
            self._finish(existing, "unchanged")
            return
        now = utc_now().isoformat(timespec="seconds")
        record = ArticleRecord(
            article_id=article_id, version=version, text_hash=th, title=art.title,
            source=art.source, author=art.author, url=art.url,
            path=art.path or (existing.path if existing else None), published=published,
            ingested_at=existing.ingested_at if existing else now, updated_at=now,
            chunks=0, duplicate_of=None, similarity=None, text=art.text,
        )
        had_vectors = bool(existing and existing.chunks)
        # Its duplicates were copies of the old text; they may now be articles of their own.
        text_changed = bool(existing and existing.text_hash != th)
        original, sim, sig = self._find_original(record)
        if original:
            record.duplicate_of, record.similarity = original, round(sim, 3)
            self._queue(_Pending(record, "duplicate", [], None, had_vectors, text_changed))
            return
        chunks = self.chunker.chunk(art.text)  # embedded alone, without a title header (chunking.py)
        record.chunks = len(chunks)
        status = "updated" if existing else "added"
        self._queue(_Pending(record, status, chunks, sig, had_vectors, text_changed))

    def flush(self) -> None:
        """Write everything queued, then check again the duplicates of originals whose text
        changed (queued in the registry, so a killed run leaves them to the next)."""
        self._write_batch()
        for _ in range(10):  # a re-checked duplicate keeps its text, so one round is the rule
            ids = self.c.registry.rechecks()
            if not ids:
                return
            for dup_id in ids:
                full = self.c.registry.get(dup_id, with_text=True)
                if full is None or full.duplicate_of is None:  # removed, or indexed meanwhile
                    continue
                self._quiet.add(dup_id)
                self.add(article_from_record(full), force=True, article_id=dup_id)
            self._write_batch()
            self.c.registry.rechecks_done(ids)

    def _write_batch(self) -> None:
        """Embed and write the queued batch (see the module docstring for the protocol)."""
        batch, self._batch, self._batch_chunks = self._batch, [], 0
        if not batch:
            return
        registry, store = self.c.registry, self.c.store
        touching = [p for p in batch if p.chunks or p.had_vectors]
        registry.journal_add((p.record.article_id, p.record.version) for p in touching)
        texts, ids, docs, metas = [], [], [], []
        for p in batch:
            for ch in p.chunks:
                texts.append(ch.text)
                ids.append(chunk_id(p.record.article_id, p.record.version, ch.ord))
                docs.append(ch.text)
                metas.append(chunk_metadata(p.record, ch))
        if texts:
            t0 = time.perf_counter()
            self.c.record_space()
            vectors, tokens = embed_keeping_tokens(self.c.bulk_embedder, texts)
            self._report.embed_seconds += time.perf_counter() - t0
            self._report.chunks_embedded += len(texts)
            store.upsert(ids, vectors, docs, metas)
        with registry.transaction():
            for p in batch:
                registry.save_article(p.record, p.chunks)
            if texts and tokens is not None:
                registry.save_tokens(space_of(self.c.bulk_embedder), zip(ids, tokens))
                sig = p.signature
                registry.set_minhash(p.record.article_id, dedup.to_bytes(sig) if sig is not None else None,
                                     dedup.lsh_buckets(sig) if sig is not None else [])
            # After every save, so a copy of the old text linked in this same batch is included.
            registry.recheck_duplicates_of(p.record.article_id for p in batch if p.text_changed)
        for p in touching:
            if p.had_vectors:
                store.delete_other_versions(p.record.article_id, p.record.version if p.chunks else None)
        registry.journal_clear(p.record.article_id for p in touching)
        for p in batch:
            self._finish(p.record, p.status)

    # --- internals ------------------------------------------------------------------------------

    def _article_id(self, art: Article) -> str:
        """The article's id, scoped to its origin when it came from the web (`trust_scope`): a
        record may only update an article of its own origin; any other is an article of its own."""
        base = self._unscoped_id(art)
        scope = trust_scope(art)
        registry = self.c.registry
        if scope is None:
            held = registry.get(base)
            if held is not None and held.path is None:  # a web article holds this id: keep it
                return "l" + stable_hash(art.path or art.origin, base, length=15)
            return base
        scoped = "w" + stable_hash(scope, base, length=15)
        if registry.get(scoped) is None:
            # Fetched before ids were scoped: its own origin still updates it in place, and the
            # very same article (a feed item polled again) is that article, unchanged.
            legacy = registry.get(base)
            if legacy is not None and legacy.path is None and (
                    web_origin(legacy.url or "") == scope or legacy.version == article_version(art)):
                return base
        return scoped

    def _unscoped_id(self, art: Article) -> str:
        article_id = make_article_id(art)
        if art.given_id and art.given_id.isdigit() and self.c.registry.get(article_id) is None:
            # Indexed before record numbers were qualified by their file: keep that article's id.
            legacy = self.c.registry.get(art.given_id)
            if legacy and legacy.path == art.path and legacy.url == art.url:
                return art.given_id
        return article_id

    def _queue(self, pending: _Pending) -> None:
        self._batch.append(pending)
        self._batch_chunks += len(pending.chunks)
        # Chunks are embedded and written in batches: big enough to keep the model busy,
        # small enough that a killed run loses little work.
        if self._batch_chunks >= self.settings.ingest_batch_chunks:
            self._write_batch()

    def _find_original(self, record: ArticleRecord) -> tuple[str | None, float, np.ndarray]:
        """An indexed article this one duplicates (exact text, or MinHash near-copy)."""
        sig = dedup.signature(record.text)
        for p in self._batch:
            if p.record.duplicate_of is None and p.record.text_hash == record.text_hash:
                return p.record.article_id, 1.0, sig
        exact = self.c.registry.find_by_text_hash(record.text_hash, exclude=record.article_id)
        if exact:
            return exact.article_id, 1.0, sig
        threshold = self.settings.near_duplicate_threshold
        best: tuple[str | None, float] = (None, 0.0)
        pending_text = {p.record.article_id: p.record.text for p in self._batch}
        candidates = [(p.record.article_id, p.signature) for p in self._batch if p.signature is not None]
        candidates += [(aid, dedup.from_bytes(blob)) for aid, blob in
                       self.c.registry.lsh_candidates(dedup.lsh_buckets(sig), exclude=record.article_id)]
        for aid, other in candidates:
            if aid == record.article_id or dedup.similarity(sig, other) < threshold - dedup.CONFIRM_MARGIN:
                continue
            text = pending_text.get(aid)
            if text is None:
                found = self.c.registry.get(aid, with_text=True)
                text = found.text if found else ""
            s = dedup.jaccard(record.text, text)
            if s >= threshold and s > best[1]:
                best = (aid, s)
        return best[0], best[1], sig

    def _finish(self, record: ArticleRecord, status: str) -> None:
        if record.article_id in self._quiet:
            self._quiet.discard(record.article_id)
            log.info("duplicate %s re-checked after its original changed: %s", record.article_id, status)
            return
        r = self._report
        if status in ("added", "updated", "unchanged"):
            setattr(r, status, getattr(r, status) + 1)
        elif status == "duplicate":
            r.duplicates += 1
        r.articles.append({
            "article_id": record.article_id, "title": record.title, "source": record.source,
            "published": record.published, "path": record.path, "url": record.url, "status": status,
            **({"duplicate_of": record.duplicate_of} if record.duplicate_of else {}),
        })
        self.on_article(status, record.title)


def remove_article(components: Components, article_id: str) -> list[str]:
    """Remove an article and its vectors; a duplicate of it takes its place in the index.

    The duplicates are queued for a re-check in the transaction that deletes the article, so a
    process killed before they are indexed leaves them to the next write (`Ingestor.resume`).
    Returns the ids of duplicates that were re-indexed or re-linked. Raises KeyError if unknown.
    """
    registry = components.registry
    record = registry.get(article_id)
    if record is None:
        raise KeyError(article_id)
    ingestor = Ingestor(components)
    ingestor.recover()
    registry.journal_add([(article_id, record.version)])
    dups = registry.duplicates_of(article_id) if record.duplicate_of is None else []
    with registry.transaction():
        # Duplicates pointed at the removed article: checked again, the first becomes the
        # indexed original and the others point at it.
        registry.recheck_duplicates_of([article_id])
        registry.delete_article(article_id)
    components.store.delete_other_versions(article_id, None)
    registry.journal_clear([article_id])
    ingestor.flush()
    return [d.article_id for d in dups]


def article_from_record(full: ArticleRecord) -> Article:
    """An indexed article (read with its text) as the loader would give it, under its own id."""
    from datetime import date

    return Article(
        text=full.text, title=full.title, source=full.source, author=full.author, url=full.url,
        path=full.path, published=date.fromisoformat(full.published) if full.published else None,
        given_id=full.article_id, origin=full.article_id,
    )
