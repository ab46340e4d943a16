"""Retrieval: the passages that best match a query, with metadata filters.

Dense search over Chroma; every hit is checked against the registry, so only chunks of the
article version the registry holds are returned (never a half-written or stale one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .components import Components
from .dates import day_number
from .models import Passage


@dataclass
class SearchFilters:
    """Metadata filters: outlet (case-insensitive) and published date range, inclusive."""

    source: str | None = None
    since: date | None = None
    until: date | None = None

    def chroma_where(self, source_names: list[str] | None = None) -> dict | None:
        """The same filters as a Chroma `where` clause; `source_names` are the stored spellings
        of the outlet asked for."""
        clauses: list[dict] = []
        if source_names:
            clauses.append({"source": {"$in": source_names}})
        if self.since:
            clauses.append({"published_day": {"$gte": day_number(self.since)}})
        if self.until:
            clauses.append({"published_day": {"$lte": day_number(self.until)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accepts(self, source: str | None, published: str | None) -> bool:
        """Whether a passage with this outlet and date passes the filters."""
        if self.source and (source or "").casefold() != self.source.casefold():
            return False
        if (self.since or self.until) and not published:
            return False
        if self.since and published < self.since.isoformat():
            return False
        if self.until and published > self.until.isoformat():
            return False
        return True


def dense_search(c: Components, query: str, k: int, filters: SearchFilters | None = None) -> list[Passage]:
    """The k passages nearest to the query embedding that pass the filters."""
    filters = filters or SearchFilters()
    if not c.registry_exists():
        return []
    names = None
    if filters.source:
        names = [s for s, *_ in c.registry.sources() if s and s.casefold() == filters.source.casefold()]
        if not names:
            return []
    vector = c.embedder.embed([query])[0]
    hits = c.store.query(vector, k * 2, filters.chroma_where(names))  # room for stale hits
    rows = c.registry.chunk_rows([h.chunk_id for h in hits])
    out: list[Passage] = []
    for hit in hits:
        row = rows.get(hit.chunk_id)
        if row is None or not filters.accepts(row["source"], row["published"]):
            continue
        out.append(passage_from_row(row, 1.0 - hit.distance))
        if len(out) == k:
            break
    return out


def passage_from_row(row, score: float) -> Passage:
    """A Passage from a registry chunk row."""
    return Passage(
        chunk_id=row["chunk_id"], article_id=row["article_id"], title=row["title"],
        source=row["source"], published=row["published"], url=row["url"], path=row["path"],
        text=row["text"], score=score, ord=row["ord"], start=row["start"], end=row["end"],
    )


def search(c: Components, query: str, k: int = 5, filters: SearchFilters | None = None) -> list[Passage]:
    """The passages to show or answer from for a query."""
    return dense_search(c, query, k, filters)
