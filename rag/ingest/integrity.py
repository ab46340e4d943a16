"""The consistency check and repair of one collection (`newsdesk check [--repair]`).

The registry is the source of truth (see pipeline.py). The check compares it with Chroma and the
FTS5 keyword index, and names what disagrees: passages without a vector, vectors of no passage,
keyword rows of no passage (or passages without one), duplicates pointing at an article that is
gone, and writes a killed process left unfinished (the vector journal, duplicates still queued
for a re-check). The repair brings everything back to the registry: it never drops an article.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from rag.components import Components
from rag.ingest.pipeline import Ingestor, chunk_metadata
from rag.models import Chunk
from rag.store.embeddings import space_of
from rag.store.registry import split_chunk_id
from rag.store.token_store import embed_keeping_tokens

log = logging.getLogger(__name__)

# Passages re-embedded per write while repairing missing vectors: a killed repair loses little.
REPAIR_BATCH_CHUNKS = 256


@dataclass
class IndexCheck:
    """What `check` found, in the shape of `newsdesk check --json`."""

    collection: str
    articles: int = 0
    chunks: int = 0
    vectors: int = 0
    missing_vectors: dict[str, int] = field(default_factory=dict)  # article id -> passages without one
    orphan_vectors: list[str] = field(default_factory=list)  # chunk ids of no current passage
    orphan_keyword_rows: int = 0
    missing_keyword_rows: int = 0
    dangling_duplicates: dict[str, str] = field(default_factory=dict)  # duplicate -> missing original
    pending_rechecks: list[str] = field(default_factory=list)
    journal: list[str] = field(default_factory=list)  # articles whose vector write was interrupted
    repaired: list[str] = field(default_factory=list)  # what --repair did, one line each

    @property
    def ok(self) -> bool:
        """Whether registry, vectors and keyword index agree, with nothing left unfinished."""
        return not self.problems()

    def problems(self) -> list[str]:
        """One line for each kind of disagreement found."""
        found = []
        if self.missing_vectors:
            found.append(f"{sum(self.missing_vectors.values())} passages of {len(self.missing_vectors)} "
                         "articles have no vector (dense search misses them)")
        if self.orphan_vectors:
            found.append(f"{len(self.orphan_vectors)} vectors belong to no indexed passage")
        if self.orphan_keyword_rows or self.missing_keyword_rows:
            found.append(f"keyword index: {self.orphan_keyword_rows} rows of no passage, "
                         f"{self.missing_keyword_rows} passages missing")
        if self.dangling_duplicates:
            found.append(f"{len(self.dangling_duplicates)} duplicates point at an article that is not "
                         "indexed (so they are in no index)")
        if self.pending_rechecks:
            found.append(f"{len(self.pending_rechecks)} duplicates wait to be checked again "
                         "(an interrupted remove or update)")
        if self.journal:
            found.append(f"{len(self.journal)} articles' vector writes were interrupted")
        return found

    def as_json(self) -> dict:
        """The JSON object `newsdesk check --json` prints."""
        return {
            "collection": self.collection, "ok": self.ok, "articles": self.articles,
            "chunks": self.chunks, "vectors": self.vectors, "missing_vectors": self.missing_vectors,
            "orphan_vectors": self.orphan_vectors, "orphan_keyword_rows": self.orphan_keyword_rows,
            "missing_keyword_rows": self.missing_keyword_rows,
            "dangling_duplicates": self.dangling_duplicates, "pending_rechecks": self.pending_rechecks,
            "journal": self.journal, "problems": self.problems(), "repaired": self.repaired,
        }


def check_index(components: Components) -> IndexCheck:
    """Compare the registry with the vector store and the keyword index (reads only)."""
    reg = components.registry
    result = IndexCheck(components.settings.collection)
    passages = reg.chunk_ids()
    vectors = components.store.ids()
    result.articles = reg.counts()["articles"]
    result.chunks, result.vectors = len(passages), len(vectors)
    missing = Counter(split_chunk_id(cid)[0] for cid in passages - vectors)
    result.missing_vectors = dict(sorted(missing.items()))
    result.orphan_vectors = sorted(vectors - passages)
    result.orphan_keyword_rows, result.missing_keyword_rows = reg.keyword_index_gaps()
    result.dangling_duplicates = reg.dangling_duplicates()
    result.pending_rechecks = reg.rechecks()
    result.journal = [a for a, _ in reg.journal()]
    return result


def repair_index(components: Components) -> IndexCheck:
    """Make vectors and keyword index agree with the registry, finish interrupted writes, and
    index dangling duplicates; returns the check made afterwards, with what was done. Call under
    `components.writing()`."""
    before = check_index(components)
    done: list[str] = []
    ingestor = Ingestor(components)
    if before.journal:
        ingestor.recover()
        done.append(f"reconciled {len(before.journal)} interrupted vector writes")
    if before.orphan_vectors:
        components.store.delete(before.orphan_vectors)
        done.append(f"deleted {len(before.orphan_vectors)} vectors of no passage")
    if before.orphan_keyword_rows or before.missing_keyword_rows:
        components.registry.rebuild_keyword_index()
        done.append("rebuilt the keyword index")
    if before.dangling_duplicates or before.pending_rechecks:
        components.registry.queue_rechecks(before.dangling_duplicates)
        ingestor.flush()  # each queued duplicate is indexed, or linked to an indexed original
        n = len(set(before.dangling_duplicates) | set(before.pending_rechecks))
        done.append(f"checked {n} duplicates again")
    if before.missing_vectors:
        n = _embed_missing(components, set(before.missing_vectors))
        done.append(f"embedded {n} passages that had no vector")
    if before.orphan_vectors or before.missing_vectors:
        components.registry.vectors_changed()
    after = check_index(components)
    after.repaired = done
    for line in done:
        log.info("check --repair: %s", line)
    return after


def _embed_missing(components: Components, article_ids: set[str]) -> int:
    """Embed the registry's passages of these articles that have no vector. The vectors match
    the registry as they are written, so no journal is needed: a killed repair is run again."""
    reg, store = components.registry, components.store
    have = store.ids()
    ids, texts, metas = [], [], []
    done = 0
    for article_id in sorted(article_ids):
        record = reg.get(article_id)
        if record is None or record.duplicate_of is not None:  # removed or relinked meanwhile
            continue
        for row in reg.article_chunks(article_id):
            if row["chunk_id"] in have:
                continue
            ids.append(row["chunk_id"])
            texts.append(row["text"])
            metas.append(chunk_metadata(record, Chunk(row["ord"], row["start"], row["end"], row["text"])))
        if len(ids) >= REPAIR_BATCH_CHUNKS:
            done += _embed_and_write(components, ids, texts, metas)
            ids, texts, metas = [], [], []
    if ids:
        done += _embed_and_write(components, ids, texts, metas)
    return done


def _embed_and_write(components: Components, ids: list[str], texts: list[str], metas: list[dict]) -> int:
    bulk = components.bulk_embedder
    vectors, tokens = embed_keeping_tokens(bulk, texts)
    components.store.upsert(ids, vectors, texts, metas)
    if tokens is not None:
        with components.registry.transaction():
            components.registry.save_tokens(space_of(bulk), zip(ids, tokens))
    return len(ids)
