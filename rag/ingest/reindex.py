"""`newsdesk reindex`: re-embed a collection's passages in another vector space.

Vectors of two spaces (model and precision, e.g. int8 and fp32) must never meet in one
collection: a query embedded in one space is not comparable with vectors of the other. So the
new vectors go into a Chroma collection of their own, and one registry transaction switches the
collection to them (and to their space); until then every reader keeps using the old ones. A
reindex killed half way leaves the old vectors in use and a partial new collection, which the
next reindex deletes and starts again. The passages' token vectors for the re-rank are kept
anew on the way (token_store.py), so `reindex --force` also gives them to a collection indexed
before they were kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from rag.components import Components
from rag.ingest.pipeline import chunk_metadata
from rag.models import Chunk
from rag.store.embeddings import space_of
from rag.store.model_files import MODEL_NAME
from rag.store.token_store import embed_keeping_tokens
from rag.store.vectorstore import VectorStore, chroma_client

log = logging.getLogger(__name__)

# Passages embedded and written per step: the ingest's batch (NEWSDESK_INGEST_BATCH_CHUNKS' default).
REINDEX_BATCH = 256
PROGRESS_SECONDS = 5.0  # a progress line this often, terminal or not


@dataclass
class ReindexResult:
    """What a reindex did."""

    collection: str
    old_space: str | None
    space: str
    passages: int
    seconds: float
    backend: str
    skipped: bool = False  # already in that space

    def as_json(self) -> dict:
        """The JSON form (`reindex --json`)."""
        return {"collection": self.collection, "from": self.old_space, "to": self.space,
                "passages": self.passages, "seconds": round(self.seconds, 1), "backend": self.backend,
                "skipped": self.skipped}


def reindex(c: Components, precision: str, force: bool = False,
            progress: Callable[[int, int], None] | None = None) -> ReindexResult:
    """Re-embed every indexed passage of `c`'s collection in `precision` and switch to the new
    vectors. Call under `c.writing()`. Without `force`, a collection already in that space is
    left as it is."""
    start = time.perf_counter()
    reg, name = c.registry, c.settings.collection
    old_space = reg.embedding_space() if c.registry_exists() else None
    target = f"{MODEL_NAME}/{precision}"
    if old_space == target and not force:
        return ReindexResult(name, old_space, target, 0, 0.0, "", skipped=True)
    bulk = c.bulk_for(precision)
    query = c.query_embedder_for(precision)
    new_name = f"{name}-{precision}-{reg.generation() + 1}"
    client = chroma_client(c.data_dir, c.settings.chroma_host, c.settings.chroma_port, c.settings.chroma_ssl)
    _drop(client, new_name)  # a killed reindex's partial collection
    store = VectorStore(client, new_name, query)
    done, total = 0, reg.counts()["chunks"]
    for ids, texts, metas in _passages(c):
        vectors, tokens = embed_keeping_tokens(bulk, texts)
        store.upsert(ids, vectors, texts, metas)
        if tokens is not None:  # kept in the new space: readers of the old one compute theirs
            with reg.transaction():
                reg.save_tokens(space_of(query), zip(ids, tokens))
        done += len(ids)
        if progress:
            progress(done, total)
    old_name = reg.vector_collection(name)
    reg.switch_vectors(space_of(query), new_name)
    _drop(client, old_name)
    log.info("reindex: %d passages of %r in %s (%s) in %.1f s", done, name, target,
             getattr(bulk, "backend", bulk.name), time.perf_counter() - start)
    return ReindexResult(name, old_space, space_of(query), done, time.perf_counter() - start,
                         getattr(bulk, "backend", bulk.name))


def _passages(c: Components):
    """The collection's current passages with their metadata, REINDEX_BATCH at a time."""
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict] = []
    for record in c.registry.articles():
        if record.duplicate_of is not None:
            continue  # a duplicate has no passages of its own
        for row in c.registry.article_chunks(record.article_id):
            ids.append(row["chunk_id"])
            texts.append(row["text"])
            metas.append(chunk_metadata(record, Chunk(row["ord"], row["start"], row["end"], row["text"])))
            if len(ids) >= REINDEX_BATCH:
                yield ids, texts, metas
                ids, texts, metas = [], [], []
    if ids:
        yield ids, texts, metas


def _drop(client, name: str) -> None:
    try:
        client.delete_collection(name)
    except Exception:  # not there: nothing to drop
        pass


def progress_printer(echo: Callable[[str], None], every: float = PROGRESS_SECONDS) -> Callable[[int, int], None]:
    """A progress callback printing one line at most every `every` seconds."""
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every or done >= total:
            last[0] = now
            echo(f"reindex: {done:,} of {total:,} passages ({100 * done / max(total, 1):.0f}%)")

    return show
