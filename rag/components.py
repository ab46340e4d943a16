"""Small factories that build the backends (embedder, registry, vector store) from settings.

Front ends and tests create one `Components` and pass it to the core; tests inject a shared
embedder so the model loads once per session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from .embeddings import Embedder, Tokenizer, build_embedder
from .locking import write_lock
from .registry import Registry
from .settings import Settings
from .vectorstore import VectorStore, chroma_client


class Components:
    """The backends of one collection, built lazily so cheap commands stay cheap."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 tokenizer: Tokenizer | None = None):
        self.settings = settings
        if embedder is not None:
            self.__dict__["embedder"] = embedder
        if tokenizer is not None:
            self.__dict__["tokenizer"] = tokenizer

    @property
    def data_dir(self) -> Path:
        """Where this Newsdesk keeps its files."""
        return Path(self.settings.data_dir).expanduser()

    @cached_property
    def embedder(self) -> Embedder:
        """The embedding backend (loads the model on first use)."""
        return build_embedder(self.settings.embedding_backend, self.settings.embed_batch_size,
                              self.settings.model_cache_dir)

    @cached_property
    def tokenizer(self) -> Tokenizer:
        """The embedding model's tokenizer, for chunk sizing."""
        return Tokenizer()

    @cached_property
    def registry(self) -> Registry:
        """The SQLite article registry and keyword index of this collection."""
        return Registry(self.data_dir / "registry" / f"{self.settings.collection}.sqlite3")

    @cached_property
    def store(self) -> VectorStore:
        """The Chroma collection (embedded, or the server when NEWSDESK_CHROMA_HOST is set)."""
        s = self.settings
        client = chroma_client(self.data_dir, s.chroma_host, s.chroma_port, s.chroma_ssl)
        return VectorStore(client, s.collection, self.embedder)

    def registry_exists(self) -> bool:
        """Whether anything was ever ingested into this collection (without creating it)."""
        return (self.data_dir / "registry" / f"{self.settings.collection}.sqlite3").exists()

    @contextmanager
    def writing(self, on_wait=None) -> Iterator[None]:
        """Exclusive write access: the embedded store is one per data dir, a server's per collection."""
        name = f"write-{self.settings.collection}.lock" if self.settings.chroma_host else "write.lock"
        with write_lock(self.data_dir / name, self.settings.lock_timeout, on_wait):
            yield

    def close(self) -> None:
        """Release open files."""
        if "registry" in self.__dict__:
            self.registry.close()
