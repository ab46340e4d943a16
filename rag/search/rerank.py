"""Late-interaction re-ranking (ColBERT's MaxSim over MiniLM token vectors)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from rag.components import Components

if TYPE_CHECKING:
    from rag.search.retrieval import RetrievalConfig

log = logging.getLogger(__name__)


def late_interaction(c: Components, query: str, ranked: dict[str, float], rows: dict,
                      config: RetrievalConfig) -> None:
    """Adds a third RRF list to `ranked`: its top passages ordered by MaxSim, the mean over the
    question's tokens of the best cosine with any token of the passage. The pooled passage
    vector blurs which words matched; this scores each question word against its best match in
    context, with the same model (no other is packaged)."""
    token_vectors = getattr(c.token_embedder, "token_vectors", None)
    top = sorted(ranked, key=lambda cid: ranked[cid], reverse=True)[:config.rerank_depth]
    if token_vectors is None or len(top) < 2:
        return
    try:
        question, *passages = token_vectors([query] + [rows[cid]["text"] for cid in top])
    except Exception as exc:  # optional: a failure here must not fail the search
        log.warning("re-ranking skipped, hybrid order kept: %s", exc)
        return
    if not len(question):
        return
    late = {cid: maxsim(question, tokens) for cid, tokens in zip(top, passages)}
    for rank, cid in enumerate(sorted(top, key=lambda cid: late[cid], reverse=True)):
        ranked[cid] += config.rerank_weight / (config.rrf_k + rank + 1)


def maxsim(question: np.ndarray, passage: np.ndarray) -> float:
    """Late-interaction score of two sets of unit token vectors: the mean over the question's
    tokens of the best cosine with any passage token (0 for an empty passage)."""
    return float((question @ passage.T).max(axis=1).mean()) if len(passage) else 0.0
