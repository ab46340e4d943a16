"""Grouping articles into stories (`StoryCluster`s). Opinion is scored in opinion.py, figures are
found in figures.py, and differences.py finds where the outlets of a story differ.

- Clustering: each article is the mean of its passages' stored embeddings (no model run);
  average-linkage agglomerative clustering joins articles while the mean cosine between two
  groups is at least `STORY_THRESHOLD`; near-duplicates found at ingestion are always in their
  original's story.
- Opinion (opinion.py): a cue score (first person, second person, evaluative and prescriptive
  words, rhetorical questions, outside quotation marks) per sentence; an URL under /opinion also counts.
- Differences (differences.py): opinion pieces, and sentences of different outlets that report
  the same fact (MiniLM cosine) with different figures, each cited.
Thresholds come from benchmarks/briefing.py (see benchmarks/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from rag.components import Components
from rag.models import ArticleRecord

# Similarity above which two groups of articles are one story. Measured with
# benchmarks/briefing.py on RealTime QA (2,240 articles): of article pairs published within 3 days
# of each other, 80 % of those found for the same quiz question (same story) reach 0.60 and 1.0 %
# of those found only for different questions (different stories) do; 0.65 keeps the same 1.0 %
# and finds 75 %, 0.55 lets 1.6 % through. Mixing in TF-IDF cosine of the texts did not separate
# them better at any threshold (same table), so KEYWORD_WEIGHT is 0.
STORY_THRESHOLD = 0.60

KEYWORD_WEIGHT = 0.0


@dataclass
class StoryCluster:
    """A group of articles about the same news; `members` are article ids, central first."""

    members: list[str]
    centroid: np.ndarray
    duplicates: list[str] = field(default_factory=list)  # near-copies that joined via ingestion links


def article_vectors(c: Components, records: list[ArticleRecord]) -> dict[str, np.ndarray]:
    """Unit-length mean passage embedding per indexed article (from the store, no model run)."""
    chunk_ids: dict[str, list[str]] = {}
    for rec in records:
        chunk_ids[rec.article_id] = [r["chunk_id"] for r in c.registry.article_chunks(rec.article_id)]
    all_ids = [cid for ids in chunk_ids.values() for cid in ids]
    vectors: dict[str, np.ndarray] = {}
    for i in range(0, len(all_ids), 2000):
        vectors.update(c.store.vectors(all_ids[i:i + 2000]))
    out = {}
    for aid, ids in chunk_ids.items():
        vecs = [vectors[cid] for cid in ids if cid in vectors]
        if vecs:
            mean = np.mean(vecs, axis=0)
            out[aid] = mean / (np.linalg.norm(mean) or 1.0)
    return out


@dataclass
class StoryConfig:
    """How articles are judged to be the same story (defaults from benchmarks/briefing.py)."""

    threshold: float = STORY_THRESHOLD
    keyword_weight: float = KEYWORD_WEIGHT  # share of TF-IDF cosine (names, figures) in the similarity
    # Time: a story runs for days, the same topic months later is a new story. (Not measured:
    # the benchmark's pairs are all within 3 days; these keep same-topic articles of different
    # months apart, as in examples/articles.)
    grace_days: int = 2           # articles this close in time are not kept apart by time
    day_penalty: float = 0.02     # similarity lost per day beyond the grace...
    max_penalty: float = 0.3      # ...up to this much


def story_similarity(ids: list[str], vectors: dict[str, np.ndarray], days: dict[str, date],
                     texts: dict[str, str], config: StoryConfig) -> np.ndarray:
    """Pairwise similarity of articles: embedding cosine mixed with TF-IDF cosine of their texts,
    less a penalty for being far apart in time (same topic months apart is not the same story)."""
    from rag.text.tfidf import tfidf_matrix

    m = np.stack([vectors[a] for a in ids])
    sim = m @ m.T
    if config.keyword_weight:
        t = tfidf_matrix([texts.get(a, "") for a in ids])
        sim = (1 - config.keyword_weight) * sim + config.keyword_weight * t.gram()
    if config.day_penalty:
        ordinal = np.array([days[a].toordinal() for a in ids], dtype=np.float32)
        gap = np.abs(ordinal[:, None] - ordinal[None, :])
        sim = sim - np.minimum(config.max_penalty, config.day_penalty * np.maximum(0, gap - config.grace_days))
    return sim


def cluster(ids: list[str], sim: np.ndarray, threshold: float) -> list[list[str]]:
    """Average-linkage agglomerative clusters of ids (merge while the mean pairwise similarity
    between two groups is at least `threshold`)."""
    if not ids:
        return []
    sim = np.array(sim, dtype=np.float64)
    np.fill_diagonal(sim, -np.inf)
    groups: list[list[str] | None] = [[a] for a in ids]
    while len(ids) > 1:
        i, j = np.unravel_index(np.argmax(sim), sim.shape)
        if sim[i, j] < threshold:
            break
        gi, gj = groups[i], groups[j]
        assert gi is not None and gj is not None  # a merged-away group's row is -inf, never the max
        ni, nj = len(gi), len(gj)
        # Lance-Williams update for average linkage: the mean similarity of the merged group.
        merged = (ni * sim[i] + nj * sim[j]) / (ni + nj)
        sim[i, :] = merged
        sim[:, i] = merged
        sim[i, i] = -np.inf
        sim[j, :] = -np.inf
        sim[:, j] = -np.inf
        groups[i] = gi + gj
        groups[j] = None
    return [g for g in groups if g]


def build_stories(c: Components, records: list[ArticleRecord], days: dict[str, date],
                  texts: dict[str, str], config: StoryConfig | None = None) -> list[StoryCluster]:
    """Stories over the records: indexed articles clustered, duplicates with their original
    (or, when the original is not among the records, standing in for it). `days` is each
    article's day in the window, `texts` its full text."""
    config = config or StoryConfig()
    by_id = {r.article_id: r for r in records}
    originals = [r for r in records if not r.duplicate_of or r.duplicate_of not in by_id]
    # A duplicate whose original is outside the window is clustered on the original's vectors.
    proxy = {r.article_id: r.duplicate_of or r.article_id for r in originals}
    source_vecs = article_vectors(c, [c.registry.get(p) or by_id[a] for a, p in proxy.items()])
    vectors = {a: source_vecs[p] for a, p in proxy.items() if p in source_vecs}
    ids = list(vectors)
    groups = cluster(ids, story_similarity(ids, vectors, days, texts, config), config.threshold) if ids else []
    # Articles with no vector (no passages: empty text) still get a story of their own.
    groups += [[a] for a in proxy if a not in vectors]
    stories = []
    for group in groups:
        vecs = [vectors[a] for a in group if a in vectors]
        centroid = np.mean(vecs, axis=0) if vecs else np.zeros(1)
        if vecs:
            centroid /= np.linalg.norm(centroid) or 1.0
            group = sorted(group, key=lambda a: -float(vectors[a] @ centroid) if a in vectors else 0.0)
        dups = [r.article_id for r in records if r.duplicate_of in group and r.article_id not in proxy]
        stories.append(StoryCluster(group, centroid, dups))
    return stories
