"""Small factories that build the backends (embedder, registry, vector store, LLM) from settings.

Front ends and tests create one `Components` and pass it to the core; tests inject a shared
embedder so the model loads once per session, and a fake chat model as the LLM.

A `Components` may live long (the bot, `newsdesk search -`) while other processes ingest. The
registry sees their writes; an embedded Chroma client does not, so `store` compares the
registry's generation (one SQLite read) with the one its view was opened at, and reopens the
view when another process changed the index. Under `writing()` only this process writes, so
after one check at the start its own writes never cause a reopen.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from rag.llm.chat import ChatLLM, build_llm
from rag.settings import Settings
from rag.store.embeddings import Embedder, Tokenizer, build_embedder
from rag.store.locking import write_lock
from rag.store.registry import Registry
from rag.store.vectorstore import VectorStore, chroma_client

_FROM_SETTINGS: object = object()  # `llm=` not given: build it from the settings


class Components:
    """The backends of one collection, built lazily so cheap commands stay cheap."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 tokenizer: Tokenizer | None = None, llm: ChatLLM | None | object = _FROM_SETTINGS):
        self.settings = settings
        if embedder is not None:
            self.__dict__["embedder"] = embedder
        if tokenizer is not None:
            self.__dict__["tokenizer"] = tokenizer
        if llm is not _FROM_SETTINGS:
            self.__dict__["llm"] = llm
        self._store: VectorStore | None = None
        self._store_lock = threading.RLock()
        self._writers = 0      # writing() blocks open in this Components
        self._synced = False   # under the write lock, the store view has been brought up to date

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
    def llm(self) -> ChatLLM | None:
        """The chat model, or None: then every answer, summary and briefing is extractive. The one
        place that decides whether an LLM is used."""
        return build_llm(self.settings)

    @cached_property
    def registry(self) -> Registry:
        """The SQLite article registry and keyword index of this collection."""
        return Registry(self.data_dir / "registry" / f"{self.settings.collection}.sqlite3")

    @property
    def store(self) -> VectorStore:
        """The Chroma collection (embedded, or the server when NEWSDESK_CHROMA_HOST is set). An
        embedded one is reopened first if another process changed the index since it was opened."""
        with self._store_lock:
            store = self._store
            if store is None:
                self._store = store = self._open_store()
            elif not self.settings.chroma_host and not (self._writers and self._synced):
                generation = self.generation()
                if generation != store.generation:
                    store.reopen(generation)
            self._synced = self._writers > 0
            return store

    def _open_store(self) -> VectorStore:
        s = self.settings
        generation = 0 if s.chroma_host else self.generation()  # read before opening: never newer than the view

        def connect():
            return chroma_client(self.data_dir, s.chroma_host, s.chroma_port, s.chroma_ssl)

        return VectorStore(connect(), s.collection, self.embedder, reconnect=connect, generation=generation)

    def generation(self) -> int:
        """The registry's count of changes to what is indexed (0 before anything was ingested)."""
        if "registry" not in self.__dict__ and not self.registry_exists():
            return 0
        return self.registry.generation()

    def registry_exists(self) -> bool:
        """Whether anything was ever ingested into this collection (without creating it)."""
        return (self.data_dir / "registry" / f"{self.settings.collection}.sqlite3").exists()

    @contextmanager
    def writing(self, on_wait=None) -> Iterator[None]:
        """Exclusive write access: the embedded store is one per data dir, a server's per collection."""
        name = f"write-{self.settings.collection}.lock" if self.settings.chroma_host else "write.lock"
        with write_lock(self.data_dir / name, self.settings.lock_timeout, on_wait):
            with self._store_lock:
                self._writers += 1
            try:
                yield
            finally:
                self._done_writing()

    def _done_writing(self) -> None:
        """After the last writing() block: the view holds this process's own writes, so it is
        current at the generation they reached."""
        with self._store_lock:
            self._writers -= 1
            if self._writers:
                return
            if self._synced and self._store is not None and not self.settings.chroma_host:
                self._store.generation = self.generation()
            self._synced = False

    def close(self) -> None:
        """Release open files."""
        if "registry" in self.__dict__:
            self.registry.close()
