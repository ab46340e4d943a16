"""TF-IDF vectors and centrality over sentences or articles."""

from __future__ import annotations

import math

import numpy as np

from rag.text.words import content_words


def tfidf_matrix(texts: list[str]) -> np.ndarray:
    """Row-normalized TF-IDF vectors (stemmed content words) of the texts."""
    docs = [content_words(t) for t in texts]
    vocab: dict[str, int] = {}
    df: dict[str, int] = {}
    for words in docs:
        for w in set(words):
            df[w] = df.get(w, 0) + 1
            vocab.setdefault(w, len(vocab))
    m = np.zeros((len(texts), max(1, len(vocab))), dtype=np.float32)
    n = len(texts)
    for i, words in enumerate(docs):
        for w in words:
            m[i, vocab[w]] += 1.0
    idf = np.ones(max(1, len(vocab)), dtype=np.float32)
    for w, j in vocab.items():
        idf[j] = math.log((1 + n) / (1 + df[w])) + 1.0
    m *= idf
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms == 0, 1.0, norms)


def centrality(m: np.ndarray) -> np.ndarray:
    """Each row's cosine to the centroid of all rows (rows: normalized TF-IDF vectors)."""
    centroid = m.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    return m @ centroid
