"""Late-interaction re-ranking (ColBERT's MaxSim over MiniLM token vectors).

The passages' token vectors are kept from ingest (rag/store/token_store.py), so a search runs
the model on the question alone. A candidate indexed before they were kept has none: then the
whole candidate list is scored as before, every passage run through `token_embedder` at query
time (~1 s for 20 on 2 cores), so that the scores of one search stay comparable.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from rag.components import Components
from rag.store.embeddings import space_of
from rag.store.token_store import unpack

if TYPE_CHECKING:
    from rag.search.retrieval import RetrievalConfig

log = logging.getLogger(__name__)


def late_interaction(c: Components, query: str, ranked: dict[str, float], rows: dict,
                      config: RetrievalConfig, question_tokens: np.ndarray | None = None) -> None:
    """Adds a third RRF list to `ranked`: its top passages ordered by MaxSim, the mean over the
    question's tokens of the best cosine with any token of the passage. The pooled passage
    vector blurs which words matched; this scores each question word against its best match in
    context, with the same model (no other is packaged). `question_tokens`: the question's
    token vectors in the collection's space, if already computed."""
    top = sorted(ranked, key=lambda cid: ranked[cid], reverse=True)[:config.rerank_depth]
    if len(top) < 2:
        return
    try:
        late = kept_scores(c, query, top, question_tokens)
        if late is None:
            late = computed_scores(c, query, top, rows)
    except Exception as exc:  # optional: a failure here must not fail the search
        log.warning("re-ranking skipped, hybrid order kept: %s", exc)
        return
    if late is None:
        return
    for rank, cid in enumerate(sorted(top, key=lambda cid: late[cid], reverse=True)):
        ranked[cid] += config.rerank_weight / (config.rrf_k + rank + 1)


def kept_scores(c: Components, query: str, top: list[str],
                question_tokens: np.ndarray | None = None) -> dict[str, float] | None:
    """MaxSim of each passage from its token vectors kept at ingest, the question's computed by
    the query embedder in the same space (or given); None unless every passage has them."""
    token_vectors = getattr(c.embedder, "token_vectors", None)
    if token_vectors is None or c.registry.embedding_space() != space_of(c.embedder):
        return None
    blobs = c.registry.token_blobs(top, space_of(c.embedder))
    if len(blobs) < len(top):
        if blobs:
            log.debug("%d of %d candidates have no kept token vectors: computing them all",
                      len(top) - len(blobs), len(top))
        return None
    try:
        passages = {cid: unpack(blobs[cid]) for cid in top}
    except ValueError as exc:  # a damaged row: the model computes them, as for a missing one
        log.warning("kept token vectors unreadable (%s): computing them at query time", exc)
        return None
    question = token_vectors([query])[0] if question_tokens is None else question_tokens
    if not len(question):
        return None
    return {cid: maxsim(question, passages[cid]) for cid in top}


def computed_scores(c: Components, query: str, top: list[str], rows: dict) -> dict[str, float] | None:
    """MaxSim with every passage's token vectors computed now by `token_embedder`."""
    token_vectors = getattr(c.token_embedder, "token_vectors", None)
    if token_vectors is None:
        return None
    question, *passages = token_vectors([query] + [rows[cid]["text"] for cid in top])
    if not len(question):
        return None
    return {cid: maxsim(question, tokens) for cid, tokens in zip(top, passages)}


def maxsim(question: np.ndarray, passage: np.ndarray) -> float:
    """Late-interaction score of two sets of unit token vectors: the mean over the question's
    tokens of the best cosine with any passage token (0 for an empty passage)."""
    return float((question @ passage.T).max(axis=1).mean()) if len(passage) else 0.0
