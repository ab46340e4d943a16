"""TF-IDF vectors and centrality over sentences or articles.

The vectors are sparse (compressed rows, as scipy's CSR, in plain numpy): memory grows with the
number of words, not with sentences x vocabulary. A dense matrix took 1.1 GB for one
300,000-character article (issue #18 item 9) and would take tens of GB at the 2,000,000-character
input limit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from rag.text.words import content_words


@dataclass
class SparseRows:
    """Row-normalized TF-IDF rows: row i's entries are data[indptr[i]:indptr[i+1]] at the
    columns indices[indptr[i]:indptr[i+1]]."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n_cols: int

    @property
    def n_rows(self) -> int:
        """How many rows (texts)."""
        return len(self.indptr) - 1

    def dot(self, vector: np.ndarray) -> np.ndarray:
        """Each row's dot product with a dense vector of n_cols entries."""
        return np.bincount(self._rows(), weights=self.data * vector[self.indices], minlength=self.n_rows)

    def dot_self(self) -> np.ndarray:
        """Each row's squared norm."""
        return np.bincount(self._rows(), weights=self.data ** 2, minlength=self.n_rows)

    def _rows(self) -> np.ndarray:
        """The row of each stored entry."""
        return np.repeat(np.arange(self.n_rows), np.diff(self.indptr))

    def row(self, i: int) -> np.ndarray:
        """Row i as a dense vector."""
        out = np.zeros(self.n_cols, dtype=np.float64)
        lo, hi = self.indptr[i], self.indptr[i + 1]
        out[self.indices[lo:hi]] = self.data[lo:hi]
        return out

    def sims(self, i: int) -> np.ndarray:
        """Cosine of every row to row i (rows are unit length or zero)."""
        return self.dot(self.row(i))

    def mean(self) -> np.ndarray:
        """The mean row, dense."""
        return np.bincount(self.indices, weights=self.data, minlength=self.n_cols) / max(1, self.n_rows)

    def gram(self) -> np.ndarray:
        """All pairwise cosines (n_rows x n_rows: for a few thousand articles, not sentences)."""
        return np.stack([self.sims(i) for i in range(self.n_rows)]) if self.n_rows else np.zeros((0, 0))

    def toarray(self) -> np.ndarray:
        """The dense matrix (for tests and small inputs only)."""
        return np.stack([self.row(i) for i in range(self.n_rows)]) if self.n_rows else np.zeros((0, self.n_cols))


def tfidf_matrix(texts: list[str]) -> SparseRows:
    """Row-normalized TF-IDF vectors (stemmed content words) of the texts, sparse;
    idf = ln((1 + n) / (1 + df)) + 1 (scikit-learn's smoothed idf)."""
    vocab: dict[str, int] = {}
    df: list[int] = []
    indptr = [0]
    indices: list[int] = []
    counts: list[float] = []
    for text in texts:
        tf = Counter(content_words(text))
        ids = [vocab.setdefault(w, len(vocab)) for w in tf]
        df.extend([0] * (len(vocab) - len(df)))
        for j in ids:
            df[j] += 1
        indices.extend(ids)
        counts.extend(tf.values())
        indptr.append(len(indices))
    n = len(texts)
    idf = np.log((1 + n) / (1 + np.array(df, dtype=np.float64))) + 1.0 if df else np.ones(1)
    cols = np.array(indices, dtype=np.int64)
    data = np.array(counts, dtype=np.float64) * idf[cols] if len(cols) else np.zeros(0)
    m = SparseRows(np.array(indptr, dtype=np.int64), cols, data, max(1, len(vocab)))
    norms = np.sqrt(m.dot_self())
    m.data = m.data / np.repeat(np.where(norms == 0, 1.0, norms), np.diff(m.indptr))
    return m


def centrality(m: SparseRows) -> np.ndarray:
    """Each row's cosine to the centroid of all rows (rows: normalized TF-IDF vectors)."""
    centroid = m.mean()
    centroid /= np.linalg.norm(centroid) or 1.0
    return m.dot(centroid)

