"""The Chroma vector store: embedded (PersistentClient) or a server (HttpClient).

The collection is always opened with Newsdesk's own embedding function: opened without one,
Chroma silently falls back to its default, which downloads a model at run time.

An embedded client keeps its own view of the store on disk: it never sees what another process
wrote after it opened (its searches miss the new chunks, and reading their ids fails with
"Error finding id"), and re-getting the collection or building another PersistentClient for the
same path does not help, since Chroma shares one `System` per path in a process. So every
embedded client here is built on a `System` of its own (`chroma_client`), and `VectorStore.reopen`
gets a really fresh view. Components reopens when the registry's generation moved
(components.py); a read that fails anyway, because another process wrote during it, is reopened
and retried once. Old views are never stopped: a search in another thread may still be using
one, and Python frees it when the last reference goes.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.store.embeddings import Embedder, chroma_embedding_function, space_of

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The vector store is unreachable or misconfigured."""


@dataclass
class VectorHit:
    """One nearest-neighbour result."""

    chunk_id: str
    text: str
    metadata: dict[str, Any]
    distance: float


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


class VectorStore:
    """One Chroma collection holding the chunks of one Newsdesk collection.

    `reconnect` builds a fresh client (a new view of the store); with it, a failing read is
    reopened and retried once. `generation` is the registry generation the view was opened at
    (kept by components.py).
    """

    def __init__(self, client: Any, name: str, embedder: Embedder,
                 reconnect: Callable[[], Any] | None = None, generation: int = 0):
        self.name = name
        self.embedder = embedder
        self.reconnect = reconnect
        self.generation = generation
        self._reopen_lock = threading.Lock()
        self.client = client
        self.collection = self._open_collection(client)

    def _open_collection(self, client: Any) -> Any:
        """The Newsdesk collection of this client (created if need be), checked against the model."""
        name, embedder = self.name, self.embedder
        try:
            collection = client.get_or_create_collection(
                name,
                embedding_function=chroma_embedding_function(embedder),
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"newsdesk": 1, "embedding_model": embedder.name,
                          "dimension": embedder.dimension, "embedding_space": space_of(embedder)},
            )
        except Exception as exc:
            raise StoreError(f"cannot open Chroma collection {name!r}: {exc}") from exc
        meta = collection.metadata or {}
        if meta.get("dimension") not in (None, embedder.dimension):
            raise StoreError(
                f"collection {name!r} was built with {meta.get('embedding_model')} "
                f"({meta.get('dimension')}-d vectors); this Newsdesk embeds with {embedder.name}"
            )
        if meta.get("embedding_space") not in (None, space_of(embedder)):
            raise StoreError(
                f"Chroma collection {name!r} holds {meta['embedding_space']} vectors, and this Newsdesk "
                f"embeds in {space_of(embedder)}: run `newsdesk reindex` to re-embed it"
            )
        return collection

    def reopen(self, generation: int | None = None) -> None:
        """Replace the client and collection with fresh ones, which see every write on disk so
        far; `generation`, if given, is the registry generation read before reopening."""
        if self.reconnect is None:
            raise StoreError(f"the Chroma collection {self.name!r} cannot be reopened")
        with self._reopen_lock:
            client = self.reconnect()
            self.collection = self._open_collection(client)
            self.client = client
            if generation is not None:
                self.generation = generation

    def _read(self, what: str, fn: Callable[[Any], Any]) -> Any:
        """`fn(collection)`; when it fails (another process wrote under this view), once more on
        a reopened view. Bad arguments are not retried: a new view would not fix them."""
        try:
            return fn(self.collection)
        except (TypeError, ValueError):
            raise
        except Exception as exc:
            if self.reconnect is None or _bad_request(exc):
                raise
            log.info("Chroma failed to %s (%s: %s); reopening the store and retrying once",
                     what, type(exc).__name__, exc)
        self.reopen()
        return fn(self.collection)

    def upsert(self, ids: list[str], vectors: np.ndarray, texts: list[str], metadatas: list[dict]) -> None:
        """Write chunks with precomputed vectors (in pieces Chroma accepts)."""
        step = 1000
        for i in range(0, len(ids), step):
            self.collection.upsert(
                ids=ids[i:i + step], embeddings=vectors[i:i + step],
                documents=texts[i:i + step], metadatas=metadatas[i:i + step],
            )

    def delete_other_versions(self, article_id: str, keep_version: str | None) -> None:
        """Delete an article's chunks, except those of `keep_version`."""
        where: dict[str, Any] = {"article_id": article_id}
        if keep_version is not None:
            where = {"$and": [where, {"version": {"$ne": keep_version}}]}
        self.collection.delete(where=where)

    def delete(self, ids: list[str]) -> None:
        """Delete chunks by id (in pieces Chroma accepts); ids not in the store are ignored."""
        step = 1000
        for i in range(0, len(ids), step):
            self.collection.delete(ids=ids[i:i + step])

    def query(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[VectorHit]:
        """The k nearest chunks to a query vector, optionally filtered on metadata."""
        def run(collection: Any) -> dict | None:
            n = collection.count()
            if n == 0:
                return None
            return collection.query(query_embeddings=[vector], n_results=min(k, n), where=where or None,
                                    include=["documents", "metadatas", "distances"])

        result = self._read("search", run)
        if result is None:
            return []
        return [
            VectorHit(cid, doc or "", meta or {}, float(dist))
            for cid, doc, meta, dist in zip(result["ids"][0], result["documents"][0],
                                             result["metadatas"][0], result["distances"][0])
        ]

    def query_any(self, vector: np.ndarray, k: int, wheres: list[dict | None]) -> list[VectorHit]:
        """The k nearest chunks that pass any one of the `wheres` (one query each), nearest first."""
        hits: dict[str, VectorHit] = {}
        for where in wheres:
            for hit in self.query(vector, k, where):
                hits.setdefault(hit.chunk_id, hit)
        return sorted(hits.values(), key=lambda h: h.distance)[:k]

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (ids not in the store are left out)."""
        if not ids:
            return {}
        got = self._read("read vectors", lambda col: col.get(ids=ids, include=["embeddings"]))
        return {cid: np.asarray(vec, dtype=np.float32) for cid, vec in zip(got["ids"], got["embeddings"])}

    def count(self) -> int:
        """Number of vectors in the collection."""
        return int(self._read("count vectors", lambda col: col.count()))

    def ids(self) -> set[str]:
        """Every chunk id in the collection (for consistency checks)."""
        out: set[str] = set()
        offset, step = 0, 5000
        while True:
            got = self._read("list ids", functools.partial(_id_page, offset=offset, limit=step))
            out.update(got)
            if len(got) < step:
                return out
            offset += step


def _id_page(collection: Any, offset: int, limit: int) -> list[str]:
    return list(collection.get(include=[], limit=limit, offset=offset)["ids"])


def _bad_request(exc: Exception) -> bool:
    """Whether Chroma refused the request itself (a new view would not change the answer)."""
    from chromadb.errors import InvalidArgumentError

    return isinstance(exc, InvalidArgumentError)


def _persistent_client(path: Path) -> Any:
    """An embedded client on a Chroma `System` of its own, so it sees the store as it is on disk
    now. (`chromadb.PersistentClient` reuses the System, and so the stale view, already open for
    the same path in this process.)"""
    from chromadb.api import ServerAPI
    from chromadb.api.client import Client
    from chromadb.config import System

    settings = _chroma_settings()
    settings.persist_directory = str(path)
    settings.is_persistent = True
    system = System(settings)
    system.instance(ServerAPI)  # type: ignore[type-abstract]  # as chromadb itself does
    system.start()
    return Client.from_system(system)


def chroma_client(data_dir: Path, host: str | None, port: int, ssl: bool = False) -> Any:
    """An embedded client of the store under the data dir (a fresh view at every call), or an
    HttpClient when a host is set."""
    import chromadb

    try:
        if host:
            return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=_chroma_settings())
        path = Path(data_dir) / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return _persistent_client(path)
    except Exception as exc:
        where = f"the Chroma server at {host}:{port}" if host else f"the Chroma store in {data_dir}"
        raise StoreError(f"cannot open {where}: {exc}") from exc
