"""Retrieval: hybrid dense + keyword search with filters, diversity and near-duplicate control.

1. Candidates: the nearest passages in Chroma (dense) and the best BM25 matches in the FTS5
   keyword index, both under the same outlet/date filters. An article with no published date
   falls in a date window by the day it was first ingested (in NEWSDESK_TIMEZONE), as in
   briefings: the window is decided against the registry, so existing indexes need no rebuild.
2. Fusion: reciprocal rank fusion (RRF), which needs no score calibration between retrievers.
   A question that names its own period ("this week", "recently", "yesterday") adds a bonus to
   passages of articles published in that period, counted back from the day it is asked.
   The best fused passages are then ranked once more by late interaction (MaxSim over the
   model's token vectors, as ColBERT scores), and that ranking is fused in as a third list.
3. Selection in fused order: at most `per_article` passages per article and no passage nearly
   identical (cosine) to one already chosen; slots left empty by the cap are then filled in
   fused order, so caps never shrink the result. When every slot went to one outlet, another
   outlet's best passage takes the last slot if it scores nearly as well.
Every hit is checked against the registry, so only the current version of an article shows.
One search uses one view of the vector store, brought up to date first when another process
indexed since the last search (`Components.store`).
The default numbers come from benchmarks/retrieval.py (see benchmarks/README.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from rag.components import Components
from rag.models import Passage
from rag.search.articles import ingest_days, undated_in_window
from rag.search.filters import SearchFilters, chroma_where_undated, source_names
from rag.search.rerank import late_interaction
from rag.store.vectorstore import VectorStore
from rag.text.dates import parse_date, recency_window, today

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
_IDS_PER_QUERY = 500  # article ids in one Chroma `$in` clause (undated articles in a date window)


@dataclass
class RetrievalConfig:
    """Knobs of hybrid retrieval (defaults measured in benchmarks/retrieval.py)."""

    candidates: int = 120       # passages taken from each retriever before fusion (40: -4 points @5)
    rrf_k: int = 60             # the usual RRF constant; rank 1 vs rank 10 differ by ~13 %
    dense_weight: float = 1.0
    keyword_weight: float = 1.0  # full RealTime QA: @1 0.42 vs 0.41 at 0.3, @5 0.75 vs 0.74 (benchmarks/README.md)
    per_article: int = 2        # passages per article before other articles get a turn
    # Outlet diversity. A hard cap (at most 60 % of the slots per outlet) cost 9-10 points of
    # recall@5 on RealTime QA, where 84 % of the articles are from one outlet: it pushed out
    # relevant passages for weak ones. So another outlet only takes the last slot when it scores
    # at least `outlet_gate` of it (0.9: within a point of no diversity at all).
    outlet_gate: float = 0.9
    source_share: float = 1.0   # a hard cap per outlet, as a share of k (1.0: none; benchmarks only)
    near_identical: float = 0.95  # cosine above which a passage repeats one already chosen
    # Bonus, in RRF votes of rank 1, for passages published in the period a question names
    # ("this week"); 0.5 was best on the tuning questions of RealTime QA (asked on the quiz day).
    recency_weight: float = 0.5
    # Late interaction over the top `rerank_depth` fused passages (0 or 1: off). `retrieve`
    # without a config takes the depth from settings (NEWSDESK_RERANK_DEPTH). On RealTime QA
    # (benchmarks/retrieval_variants.py) every depth of 15-30 and weight of 0.75-2 tried gave
    # recall@5 of the tuning and of the held-out questions 0 to 4.5 points more, never less;
    # 20 and 1.0 gave +2.2 points on all 182 questions. Cost: one model run per passage at query
    # time, ~0.45 s per question on 2 cores.
    rerank_depth: int = 20
    rerank_weight: float = 1.0
    # Newest coverage first when scores are close, for questions that name no period: each of
    # the top `newer_depth` passages gains `newer_weight` RRF votes of rank 1, halved for every
    # `newer_half_life` days its article is older than the newest of them, and the k passages
    # chosen without it are shown in that order (issue #17). As a bonus that also chose the
    # passages it lifted @1 on RealTime QA asked on the quiz day by 3.8 points but cost a
    # question @5 at every weight tried; reordering only cannot change recall@k
    # (benchmarks/README.md, "Newest coverage first").
    newer_weight: float = 0.25
    newer_half_life: float = 60.0
    newer_depth: int = 20
    mode: str = "hybrid"        # hybrid | dense | keyword (for benchmarks)


def retrieve(c: Components, query: str, k: int = 5, filters: SearchFilters | None = None,
             config: RetrievalConfig | None = None) -> list[Passage]:
    """The k passages to show or answer from for `query`, best first."""
    filters = filters or SearchFilters()
    config = config or RetrievalConfig(rerank_depth=c.settings.rerank_depth)
    if not query.strip() or not c.registry_exists():
        return []
    names = source_names(c, filters.source)
    if filters.source and not names:
        return []
    reranks = config.mode == "hybrid" and config.rerank_depth > 1
    qvec, qtokens = _embed_question(c, query, reranks)
    store = c.store  # reopened here if another process changed the index
    ranked = _fused_candidates(c, store, query, qvec, filters, names, config)
    rows = c.registry.chunk_rows(list(ranked))  # current versions only
    ranked = {cid: score for cid, score in ranked.items() if cid in rows}
    as_of = filters.as_of or today(ZoneInfo(c.settings.timezone))
    period_start = recency_window(query, as_of) if config.recency_weight else None
    if period_start:
        bonus = config.recency_weight / (config.rrf_k + 1)
        for cid in ranked:
            published = parse_date(rows[cid]["published"])
            if published and period_start <= published <= as_of:
                ranked[cid] += bonus
    if reranks:
        late_interaction(c, query, ranked, rows, config, qtokens)
    newer = _newer_bonus(c, ranked, rows, config) if config.newer_weight and not recency_window(query, as_of) else {}
    order = sorted(ranked, key=lambda cid: ranked[cid], reverse=True)
    vectors = store.vectors(order)
    passages = []
    for cid in order:
        vec = vectors.get(cid)
        relevance = float(vec @ qvec) if vec is not None else 0.0
        passage = passage_from_row(rows[cid], ranked[cid])
        passage.relevance = relevance
        passages.append(passage)
    chosen = select_passages(passages, vectors, k, config)
    if newer:  # newest coverage first among the passages chosen; which passages are chosen is unchanged
        for p in chosen:
            p.score += newer.get(p.chunk_id, 0.0)
        chosen.sort(key=lambda p: p.score, reverse=True)
    return chosen


def _embed_question(c: Components, query: str, with_tokens: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The question's vector and, for the re-rank, its token vectors from the same model run
    (None when the embedder cannot give them or they are not needed)."""
    both = getattr(c.embedder, "embed_with_tokens", None) if with_tokens else None
    if both is None:
        return c.embedder.embed([query])[0], None
    vectors, tokens = both([query])
    return vectors[0], tokens[0][1]


def _newer_bonus(c: Components, ranked: dict[str, float], rows: dict, config: RetrievalConfig) -> dict[str, float]:
    """`newer_bonus` of the top `newer_depth` passages (undated ones by their ingest day)."""
    top = sorted(ranked, key=lambda cid: ranked[cid], reverse=True)[:config.newer_depth]
    undated = ingest_days(c, [rows[cid]["article_id"] for cid in top if not rows[cid]["published"]])
    days = {cid: parse_date(rows[cid]["published"]) or undated.get(rows[cid]["article_id"]) for cid in top}
    return newer_bonus(days, config.newer_weight / (config.rrf_k + 1), config.newer_half_life)


def newer_bonus(days: dict[K, date | None], bonus: float, half_life: float) -> dict[K, float]:
    """key -> `bonus` x 0.5^(days behind the newest date in `days` / `half_life`); keys with no
    date get nothing. Relative to the newest candidate, not to today, so that a question asked
    long after the news still prefers the latest coverage of it."""
    dated = {key: day for key, day in days.items() if day is not None}
    if not dated or bonus <= 0:
        return {}
    newest = max(dated.values())
    return {key: bonus * 0.5 ** ((newest - day).days / half_life) for key, day in dated.items()}


def _fused_candidates(c: Components, store: VectorStore, query: str, qvec: np.ndarray,
                      filters: SearchFilters, names: list[str] | None,
                      config: RetrievalConfig) -> dict[str, float]:
    """chunk_id -> RRF score of the dense and keyword candidates under the filters. Under a
    date range, the passages of articles with no published date come in by their ingest day
    (`undated_in_window`), by article id: Chroma's metadata has no day for them."""
    undated: list[str] = []
    if filters.dated:
        tz = ZoneInfo(c.settings.timezone)
        undated = list(undated_in_window(c, filters.since, filters.until, tz))
    ranked: dict[str, float] = {}
    if config.mode in ("hybrid", "dense"):
        wheres = [filters.chroma_where(names)]
        wheres += [chroma_where_undated(undated[i:i + _IDS_PER_QUERY], names)
                   for i in range(0, len(undated), _IDS_PER_QUERY)]
        if undated:
            hits = store.query_any(qvec, config.candidates, wheres)
        else:
            hits = store.query(qvec, config.candidates, wheres[0])
        for rank, hit in enumerate(hits):
            ranked[hit.chunk_id] = ranked.get(hit.chunk_id, 0.0) + config.dense_weight / (config.rrf_k + rank + 1)
    if config.mode in ("hybrid", "keyword"):
        since = filters.since.isoformat() if filters.since else None
        until = filters.until.isoformat() if filters.until else None
        found = c.registry.keyword_search(query, config.candidates, names, since, until, undated)
        for rank, (cid, _) in enumerate(found):
            ranked[cid] = ranked.get(cid, 0.0) + config.keyword_weight / (config.rrf_k + rank + 1)
    return ranked


def select_passages(passages: list[Passage], vectors: dict[str, np.ndarray], k: int,
            config: RetrievalConfig) -> list[Passage]:
    """Fused order under per-article, per-outlet and near-identical limits, then fill; then
    outlet diversity for the last slot."""
    chosen: list[Passage] = []
    per_article: dict[str, int] = {}
    per_source: dict[str, int] = {}
    source_cap = max(1, math.ceil(k * config.source_share))
    skipped: list[Passage] = []
    for p in passages:
        if len(chosen) == k:
            break
        if _repeats(p, chosen, vectors, config.near_identical):
            continue
        src = (p.source or "").casefold()
        if per_article.get(p.article_id, 0) >= config.per_article or (src and per_source.get(src, 0) >= source_cap):
            skipped.append(p)
            continue
        chosen.append(p)
        per_article[p.article_id] = per_article.get(p.article_id, 0) + 1
        per_source[src] = per_source.get(src, 0) + 1
    for p in skipped:
        if len(chosen) == k:
            break
        chosen.append(p)
    chosen.sort(key=lambda p: p.score, reverse=True)
    outlets = {(p.source or "").casefold() for p in chosen}
    if k >= 3 and len(chosen) == k and len(outlets) == 1 and "" not in outlets:
        last = chosen[-1]
        other = next((p for p in passages if (p.source or "").casefold() not in outlets
                      and not _repeats(p, chosen[:-1], vectors, config.near_identical)), None)
        if other is not None and other.score >= config.outlet_gate * last.score:
            chosen[-1] = other
            chosen.sort(key=lambda p: p.score, reverse=True)
    return chosen


def _repeats(p: Passage, chosen: list[Passage], vectors: dict[str, np.ndarray], threshold: float) -> bool:
    vec = vectors.get(p.chunk_id)
    if vec is None:
        return False
    return any(float(vec @ vectors[q.chunk_id]) >= threshold for q in chosen if q.chunk_id in vectors)


def passage_from_row(row, score: float) -> Passage:
    """A Passage from a registry chunk row."""
    return Passage(
        chunk_id=row["chunk_id"], article_id=row["article_id"], title=row["title"],
        source=row["source"], published=row["published"], url=row["url"], path=row["path"],
        text=row["text"], score=score, ord=row["ord"], start=row["start"], end=row["end"],
    )


def search(c: Components, query: str, k: int = 5, filters: SearchFilters | None = None,
           config: RetrievalConfig | None = None) -> list[Passage]:
    """The passages for `newsdesk search` (hybrid retrieval)."""
    return retrieve(c, query, k, filters, config)
