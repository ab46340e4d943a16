"""What a search is narrowed by: outlet, date window, the day it is asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rag.components import Components
from rag.text.dates import day_number


@dataclass
class SearchFilters:
    """Metadata filters: outlet (case-insensitive) and date range, inclusive; and the day the
    question is asked (`as_of`, default today in NEWSDESK_TIMEZONE), from which "this week"
    counts back. An article falls in the date range by its published date; one with no known
    published date by the day (in NEWSDESK_TIMEZONE) it was first ingested, as in briefings."""

    source: str | None = None
    since: date | None = None
    until: date | None = None
    as_of: date | None = None

    @property
    def dated(self) -> bool:
        """Whether a date range is set."""
        return bool(self.since or self.until)

    def chroma_where(self, source_names: list[str] | None = None) -> dict | None:
        """The same filters as a Chroma `where` clause for dated passages (undated ones have no
        `published_day`: see `chroma_where_undated`); `source_names` are the stored spellings of
        the outlet asked for."""
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


def source_names(c: Components, source: str | None) -> list[str] | None:
    """The stored spellings of the outlet asked for (None when no outlet is asked for)."""
    if not source:
        return None
    return [s for s, *_ in c.registry.sources() if s and s.casefold() == source.casefold()]


def chroma_where_undated(article_ids: list[str], source_names: list[str] | None = None) -> dict:
    """A Chroma `where` clause for the passages of these (undated) articles, from the outlet
    asked for if any: their date window was decided against the registry."""
    clause: dict = {"article_id": {"$in": article_ids}}
    if source_names:
        return {"$and": [{"source": {"$in": source_names}}, clause]}
    return clause
