"""The Chroma vector store: embedded (PersistentClient) or a server (HttpClient).

The collection is always opened with Newsdesk's own embedding function: opened without one,
Chroma silently falls back to its default, which downloads a model at run time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.store.embeddings import Embedder, chroma_embedding_function

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
    """One Chroma collection holding the chunks of one Newsdesk collection."""

    def __init__(self, client: Any, name: str, embedder: Embedder):
        self.client = client
        self.name = name
        self.embedder = embedder
        try:
            self.collection = client.get_or_create_collection(
                name,
                embedding_function=chroma_embedding_function(embedder),
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"newsdesk": 1, "embedding_model": embedder.name,
                          "dimension": embedder.dimension},
            )
        except Exception as exc:
            raise StoreError(f"cannot open Chroma collection {name!r}: {exc}") from exc
        meta = self.collection.metadata or {}
        if meta.get("dimension") not in (None, embedder.dimension):
            raise StoreError(
                f"collection {name!r} was built with {meta.get('embedding_model')} "
                f"({meta.get('dimension')}-d vectors); this Newsdesk embeds with {embedder.name}"
            )

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

    def query(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[VectorHit]:
        """The k nearest chunks to a query vector, optionally filtered on metadata."""
        n = self.collection.count()
        if n == 0:
            return []
        result = self.collection.query(
            query_embeddings=[vector], n_results=min(k, n), where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        return [
            VectorHit(cid, doc or "", meta or {}, float(dist))
            for cid, doc, meta, dist in zip(result["ids"][0], result["documents"][0],
                                             result["metadatas"][0], result["distances"][0])
        ]

    def vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (ids not in the store are left out)."""
        if not ids:
            return {}
        got = self.collection.get(ids=ids, include=["embeddings"])
        return {cid: np.asarray(vec, dtype=np.float32) for cid, vec in zip(got["ids"], got["embeddings"])}

    def count(self) -> int:
        """Number of vectors in the collection."""
        return self.collection.count()

    def ids(self) -> set[str]:
        """Every chunk id in the collection (for consistency checks)."""
        out: set[str] = set()
        offset, step = 0, 5000
        while True:
            got = self.collection.get(include=[], limit=step, offset=offset)["ids"]
            out.update(got)
            if len(got) < step:
                return out
            offset += step


def chroma_client(data_dir: Path, host: str | None, port: int, ssl: bool = False) -> Any:
    """An embedded PersistentClient under the data dir, or an HttpClient when a host is set."""
    import chromadb

    try:
        if host:
            return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=_chroma_settings())
        path = Path(data_dir) / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
    except Exception as exc:
        where = f"the Chroma server at {host}:{port}" if host else f"the Chroma store in {data_dir}"
        raise StoreError(f"cannot open {where}: {exc}") from exc
