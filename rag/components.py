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

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from rag.llm.chat import ChatLLM, build_llm
from rag.settings import Settings
from rag.store.embeddings import (
    Embedder,
    Tokenizer,
    TorchEmbedder,
    build_embedder,
    bulk_candidates,
    onnx_embedder,
    space_of,
)
from rag.store.locking import write_lock
from rag.store.model_files import MODEL_NAME, EmbeddingError
from rag.store.onnx_export import PRECISIONS, default_cache_dir
from rag.store.registry import Registry
from rag.store.vectorstore import StoreError, VectorStore, chroma_client

if TYPE_CHECKING:
    from rag.store.calibration import Calibration

log = logging.getLogger(__name__)

_FROM_SETTINGS: object = object()  # `llm=` not given: build it from the settings


class Components:
    """The backends of one collection, built lazily so cheap commands stay cheap."""

    _injected_embedder: bool  # an embedder was given (tests): it serves every use

    def __init__(self, settings: Settings, embedder: Embedder | None = None,
                 tokenizer: Tokenizer | None = None, llm: ChatLLM | None | object = _FROM_SETTINGS,
                 share: Components | None = None):
        """`share`: another collection's Components (the bot, `newsdesk run`), whose models are
        reused where they fit: the tokenizer and LLM always, the embedders when its vectors are
        in the same precision (collections may differ: one made before fp32 was the default)."""
        self.settings = settings
        self._share = share
        if share is not None:
            tokenizer = tokenizer or share.tokenizer
            llm = share.llm if llm is _FROM_SETTINGS else llm
            if share._injected_embedder and embedder is None:
                embedder = share.embedder
        self._injected_embedder = embedder is not None
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
        """The query-time embedding backend, in this collection's vector space (loads the model
        on first use)."""
        if self._share is not None and self._share.precision == self.precision:
            return self._share.embedder
        return build_embedder(self.settings.embedding_backend, self.settings.embed_batch_size,
                              self.settings.model_cache_dir, self.precision)

    @cached_property
    def bulk_embedder(self) -> Embedder:
        """The embedder for bulk work (ingest, repair, reindex): the same vectors as `embedder`,
        from the backend measured fastest on this CPU (calibration.py) unless one is forced or
        the embedder was injected (tests: one backend for everything)."""
        if self._injected_embedder or self.settings.embedding_backend != "auto":
            return self.embedder
        if self._share is not None and self._share.precision == self.precision:
            return self._share.bulk_embedder
        return self.bulk_for(self.precision)

    def bulk_for(self, precision: str) -> Embedder:
        """The fastest backend computing `precision`'s vectors on this CPU (calibrated once)."""
        found = self.calibration(precision)
        if found is not None and found.chosen == "torch" and precision == "fp32":
            # Measured before: load torch alone, not the query model too (~100 MB less in ingest).
            return TorchEmbedder(batch_size=self.settings.embed_batch_size)
        query = self.embedder if precision == self.precision else self.query_embedder_for(precision)
        candidates = bulk_candidates(precision, self.settings.embed_batch_size, query)
        if len(candidates) == 1:
            return query
        found = self._calibrate(precision, candidates)
        return candidates[found.chosen]()

    def query_embedder_for(self, precision: str) -> Embedder:
        """A query-time embedder for `precision`'s vectors."""
        s = self.settings
        return build_embedder(s.embedding_backend, s.embed_batch_size, s.model_cache_dir, precision)

    def _calibration_file(self) -> tuple[Path, str]:
        from rag.store.calibration import cpu_key
        from rag.store.onnx_export import model_key

        return (self.settings.model_cache_dir or default_cache_dir()) / "calibration.json", cpu_key(model_key())

    def _calibrate(self, precision: str, candidates) -> Calibration:
        from rag.store.calibration import calibrate

        cache, key = self._calibration_file()
        return calibrate(f"{MODEL_NAME}/{precision}", candidates, cache, key, self.settings.embed_batch_size)

    def calibration(self, precision: str | None = None) -> Calibration | None:
        """This CPU's measured backend rates for `precision`'s vectors (None if never measured)."""
        from rag.store.calibration import cached_calibration

        cache, key = self._calibration_file()
        return cached_calibration(cache, key, f"{MODEL_NAME}/{precision or self.precision}")

    @cached_property
    def precision(self) -> str:
        """The precision of this collection's vectors: the one recorded, else the setting's."""
        wanted = self.settings.embedding_precision
        recorded = self.registry.embedding_space() if self.registry_exists() else None
        model, _, precision = (recorded or "").partition("/")
        if model != MODEL_NAME or precision not in PRECISIONS:
            return wanted  # nothing indexed yet, or a test's own embedder
        if precision != wanted:
            log.warning("collection %r holds %s vectors; NEWSDESK_EMBEDDING_PRECISION=%s applies to "
                        "it after `newsdesk reindex`", self.settings.collection, precision, wanted)
        return precision

    def check_space(self) -> None:
        """StoreError if this collection's vectors are in another space than `embedder`'s (they
        must never be mixed or compared)."""
        recorded = self.registry.embedding_space() if self.registry_exists() else None
        mine = space_of(self.embedder)
        if recorded is not None and recorded != mine:
            raise StoreError(f"collection {self.settings.collection!r} holds {recorded} vectors, and "
                             f"this Newsdesk embeds in {mine}: run `newsdesk reindex` to re-embed it, "
                             "or use the settings it was made with")

    def record_space(self) -> None:
        """Record the vector space before the first vectors are written."""
        self.check_space()
        self.registry.record_space(space_of(self.embedder))

    @cached_property
    def token_embedder(self) -> Embedder:
        """Whose token vectors the late-interaction re-rank computes at query time when some
        candidate has none kept from ingest (indexed before they were kept; rerank.py), for the
        question and the passages alike, so they need not be in the collection's space: the int8
        ONNX model, one passage per call. On a 2-core AMD EPYC (AVX2), idle, 20 passages took 0.90 s that way, against 3.25 s
        as one padded fp32 ONNX call; the re-rank's recall gain was measured with it
        (benchmarks/README.md). An injected or forced backend serves its own."""
        if self._injected_embedder or self.settings.embedding_backend != "auto" or self.precision == "int8":
            return self.embedder
        if self._share is not None and self._share.settings.embedding_backend == "auto":
            return self._share.token_embedder
        try:
            return onnx_embedder("int8", self.settings.embed_batch_size, self.settings.model_cache_dir)
        except (EmbeddingError, OSError, ImportError) as exc:
            log.warning("re-ranking with the query embedder: %s", exc)
            return self.embedder

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
            elif not (self._writers and self._synced) and self._vectors_moved(store):
                self._store = store = self._open_store()  # a reindex: new vectors, maybe a new space
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

        self.check_space()
        name = self.registry.vector_collection(s.collection) if self.registry_exists() else s.collection
        return VectorStore(connect(), name, self.embedder, reconnect=connect, generation=generation)

    def _vectors_moved(self, store: VectorStore) -> bool:
        """Whether a reindex moved this collection's vectors since `store` was opened; then the
        cached query embedder is dropped too, unless injected (the new vectors may be in
        another precision)."""
        if not self.registry_exists() or self.registry.vector_collection(self.settings.collection) == store.name:
            return False
        if not self._injected_embedder:
            for name in ("embedder", "bulk_embedder", "token_embedder", "precision"):
                self.__dict__.pop(name, None)
        return True

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
