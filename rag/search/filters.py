"""What a search is narrowed by: outlet, date window, the day it is asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rag.components import Components
from rag.text.dates import day_number


@dataclass
class SearchFilters:
    """Metadata filters: outlet (case-insensitive) and published date range, inclusive; and the
    day the question is asked (`as_of`, default today in NEWSDESK_TIMEZONE), from which "this
    week" counts back."""

    source: str | None = None
    since: date | None = None
    until: date | None = None
    as_of: date | None = None

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


def source_names(c: Components, source: str | None) -> list[str] | None:
    if not source:
        return None
    return [s for s, *_ in c.registry.sources() if s and s.casefold() == source.casefold()]
