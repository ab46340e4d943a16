"""A deterministic stand-in for the embedding model, for `make test-fast`: words hashed into the
model's 384 dimensions. Texts that share words are near, others far, so retrieval, dedup and
story logic can be exercised in seconds without loading the real model (which `make test` uses)."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from rag.store.model_files import DIMENSION

_WORD = re.compile(r"\w+")


def _bucket(word: str) -> tuple[int, float]:
    digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little") % DIMENSION, 1.0 if digest[4] & 1 else -1.0


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v


class HashingEmbedder:
    """Bag of lower-cased words, each hashed to one signed dimension; unit-length rows."""

    name = "fake-hashing"
    dimension = DIMENSION

    def _vector(self, words: list[str]) -> np.ndarray:
        v = np.zeros(DIMENSION, dtype=np.float32)
        for w in words:
            i, sign = _bucket(w)
            v[i] += sign
        if not words:
            v[0] = 1.0
        return _unit(v)

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit row per text."""
        rows = [self._vector(_WORD.findall(t.lower())) for t in texts]
        return np.vstack(rows) if rows else np.zeros((0, DIMENSION), dtype=np.float32)

    def token_vectors(self, texts: list[str]) -> list[np.ndarray]:
        """One unit row per word, as the re-ranker reads a model's token vectors."""
        out = []
        for t in texts:
            words = _WORD.findall(t.lower()) or [""]
            out.append(np.vstack([self._vector([w]) for w in words]))
        return out
